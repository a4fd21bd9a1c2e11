"""The SQL printed to reconcile a changed object, on catalogs built in memory (the
tenant tests run it against a real PostgreSQL: tests/db/test_tenant.py)."""

from __future__ import annotations

from workspace.db.catalog import Catalog, Sequence, Table
from workspace.db.drift import compare
from workspace.db.reconcile import reconcile_sql


def _one_drift_sql(expected: Catalog, live: Catalog) -> tuple[str, str]:
    [drift] = compare(expected, live)
    return str(drift), reconcile_sql(expected, live, drift)


def test_a_changed_partition_key_says_no_safe_sql_exists_and_runs_nothing() -> None:
    expected = Catalog(tables={"billing.events": Table(
        "billing.events", True, partition_key="RANGE (occurred_at)")})
    live = Catalog(tables={"billing.events": Table(
        "billing.events", True, partition_key="LIST (project_id)")})
    text, sql = _one_drift_sql(expected, live)
    assert "partitioned by LIST (project_id), expected RANGE (occurred_at)" in text
    assert sql.startswith("-- no safe SQL: ") and "\n" not in sql
    assert "PARTITION BY RANGE (occurred_at)" in sql


def test_a_detached_partition_is_attached_again_with_its_bound() -> None:
    bound = "FOR VALUES FROM (1) TO (10)"
    expected = Catalog(tables={"t_1": Table("t_1", False, partition_of="t",
                                            partition_bound=bound)})
    live = Catalog(tables={"t_1": Table("t_1", False)})
    _, sql = _one_drift_sql(expected, live)
    assert sql == f"ALTER TABLE t ATTACH PARTITION t_1 {bound}"


def test_a_sequence_whose_owner_is_gone_is_owned_again_and_says_none() -> None:
    owned = Sequence("bigint", 1, 1, "public.t.id")
    expected = Catalog(sequences={"public.s": owned})
    live = Catalog(sequences={"public.s": Sequence("bigint", 1, 1, None, unlogged=True)})
    text, sql = _one_drift_sql(expected, live)
    assert "owned by none, expected public.t.id" in text and "None" not in text
    assert sql.split(";\n") == [
        "ALTER SEQUENCE public.s AS bigint INCREMENT BY 1 MINVALUE 1 "
        "MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE OWNED BY public.t.id",
        "ALTER SEQUENCE public.s SET LOGGED"]
