"""Validation and `db fix` on a real multi-tenant schema (tests/db/fixtures/tenant/):
row-level security with 4 policies a table, grants to an application role, column
privileges, comments, domains, composite and range types, extended statistics,
partitions, a materialized view with indexes, view options, sequence options, an
UNLOGGED table, a rule and an event trigger.

Every object kind is dropped or altered once: validation names it (and, for a CASCADE,
the root first); `db fix` brings back what is missing, whole, until the catalog reads as
it did before, rows kept; what changed is reported with its reconciling SQL and left
alone, and that SQL, run by hand, restores the catalog too.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.db.tenant import (
    APP_ROLE,
    build,
    catalog,
    check,
    ensure_app_role,
    fix,
    make_project,
    row_counts,
    run,
)
from workspace.config.models import Config
from workspace.db.reconcile import reconcile_sql
from workspace.db.validate import MISSING
from workspace.deps.embedded import bin_dir


@pytest.fixture(scope="module")
def tenant(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """One project for the module, so the expected schema is built once and cached."""
    ensure_app_role(admin_url)
    return make_project(tmp_path_factory.mktemp("tenant"))


@pytest.fixture
def built(tenant: Config, db_url: str) -> tuple[Config, str]:
    build(tenant, db_url)
    return tenant, db_url


def test_schema_built_by_the_migrations_validates_clean_and_fix_has_nothing_to_do(
        built: tuple[Config, str]) -> None:
    config, url = built
    report = check(config, url)
    assert report.valid and report.drifts == [], [f.text for f in report.findings]
    steps, _, _ = fix(config, url)
    assert steps == []
    cat = catalog(url)
    kinds = {item.kind for item in cat.items.values()}
    assert kinds >= {"policy", "grant", "default privilege", "comment", "domain",
                     "composite type", "range type", "statistics", "rule", "event trigger"}
    assert sum(1 for i in cat.items.values() if i.kind == "policy") == 20
    assert cat.tables["kb.documents"].row_security and cat.tables["kb.documents"].force_row_security
    assert cat.tables["kb.import_staging"].unlogged
    assert cat.tables["billing.usage_events"].partition_key == "RANGE (occurred_at)"
    assert cat.view_options["kb.recent_documents"] == "security_invoker=true"
    seq = cat.sequences["billing.invoice_number"]
    assert (seq.increment, seq.min, seq.max, seq.cache, seq.cycle) == (5, 1000, 99999999, 10, True)


@dataclass(frozen=True)
class Dropped:
    sql: str
    first: str  # the first finding of the MISSING group: the root
    also: tuple[str, ...] = ()  # further findings expected


DROPPED = {
    "policy": Dropped("DROP POLICY documents_update ON kb.documents",
                      "Missing policy: kb.documents.documents_update"),
    "row level security": Dropped("ALTER TABLE kb.chunks DISABLE ROW LEVEL SECURITY",
                                  "Missing row level security: kb.chunks"),
    "forced row level security": Dropped("ALTER TABLE kb.projects NO FORCE ROW LEVEL SECURITY",
                                         "Missing forced row level security: kb.projects"),
    "table grant": Dropped(f"REVOKE DELETE ON kb.documents FROM {APP_ROLE}",
                           f"Missing grant: DELETE ON TABLE kb.documents TO {APP_ROLE}"),
    "column grant": Dropped(f"REVOKE UPDATE (display_name) ON auth.users FROM {APP_ROLE}",
                            f"Missing grant: UPDATE (display_name) ON TABLE auth.users TO "
                            f"{APP_ROLE}"),
    "schema grant": Dropped(f"REVOKE USAGE ON SCHEMA billing FROM {APP_ROLE}",
                            f"Missing grant: USAGE ON SCHEMA billing TO {APP_ROLE}"),
    "sequence grant": Dropped(f"REVOKE USAGE ON SEQUENCE billing.invoice_number FROM {APP_ROLE}",
                              f"Missing grant: USAGE ON SEQUENCE billing.invoice_number TO "
                              f"{APP_ROLE}"),
    "function grant": Dropped(f"REVOKE EXECUTE ON FUNCTION kb.search(bigint, text) "
                              f"FROM {APP_ROLE}",
                              "Missing grant: EXECUTE ON FUNCTION kb.search(project bigint, "
                              f"query text) TO {APP_ROLE}"),
    "type grant": Dropped(f"REVOKE USAGE ON TYPE kb.search_hit FROM {APP_ROLE}",
                          f"Missing grant: USAGE ON TYPE kb.search_hit TO {APP_ROLE}"),
    "default privilege": Dropped(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA kb REVOKE SELECT ON TABLES FROM {APP_ROLE}",
        f"Missing default privilege: SELECT ON TABLES IN SCHEMA kb TO {APP_ROLE} "
        "FOR ROLE postgres"),
    "comment": Dropped("COMMENT ON TABLE kb.documents IS NULL",
                       "Missing comment: TABLE kb.documents"),
    "domain": Dropped("DROP DOMAIN auth.email CASCADE",
                      "Missing domain: auth.email (3 columns and 1 function depend on it)",
                      ("Missing column: auth.users.email",
                       "Missing column: kb.documents.author_email",
                       "Missing function: auth.normalize_email(address auth.email)")),
    "composite type": Dropped("DROP TYPE kb.search_hit CASCADE",
                              "Missing composite type: kb.search_hit (1 function depends on it)",
                              ("Missing critical function: kb.search",)),
    "range type": Dropped("DROP TYPE billing.price_band CASCADE",
                          "Missing range type: billing.price_band (1 column depends on it)",
                          ("Missing column: billing.invoices.band",)),
    "enum type": Dropped("DROP TYPE kb.document_state CASCADE",
                         "Missing type: kb.document_state (1 column and 1 view depend on it)",
                         ("Missing view: kb.published_documents",)),
    "domain constraint": Dropped("ALTER DOMAIN billing.amount DROP CONSTRAINT amount_not_negative",
                                 "Missing domain constraint: billing.amount.amount_not_negative"),
    "statistics": Dropped("DROP STATISTICS kb.chunks_document_position",
                          "Missing statistics: kb.chunks_document_position"),
    "sequence": Dropped("DROP SEQUENCE billing.invoice_number CASCADE",
                        "Missing sequence: billing.invoice_number",
                        ("Missing column default: billing.invoices.number",)),
    "partition": Dropped("DROP TABLE billing.usage_events_2026_02",
                         "Missing table: billing.usage_events_2026_02"),
    "partitioned table": Dropped("DROP TABLE billing.usage_events",
                                 "Missing table: billing.usage_events"),
    "materialized view": Dropped("DROP MATERIALIZED VIEW kb.document_stats",
                                 "Missing materialized view: kb.document_stats"),
    "view": Dropped("DROP VIEW kb.recent_documents", "Missing view: kb.recent_documents"),
    "table": Dropped("DROP TABLE kb.chunks CASCADE", "Missing table: kb.chunks"),
    "unlogged table": Dropped("DROP TABLE kb.import_staging",
                              "Missing table: kb.import_staging"),
    "rule": Dropped("DROP RULE locked_items_keep ON kb.locked_items",
                    "Missing rule: kb.locked_items.locked_items_keep"),
    "event trigger": Dropped("DROP EVENT TRIGGER tenant_note_ddl",
                             "Missing event trigger: tenant_note_ddl"),
    "trigger": Dropped("DROP TRIGGER documents_touch ON kb.documents",
                       "Missing trigger: kb.documents.documents_touch"),
    "function": Dropped("DROP FUNCTION kb.touch_updated_at() CASCADE",
                        "Missing function: kb.touch_updated_at()",
                        ("Missing trigger: kb.documents.documents_touch",)),
    "index": Dropped("DROP INDEX kb.documents_project_idx",
                     "Missing index: kb.documents_project_idx"),
    "invalid index": Dropped(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'kb.documents_project_idx'::regclass",
        "Index kb.documents_project_idx is INVALID (a CREATE INDEX CONCURRENTLY or REINDEX "
        "that failed: queries do not use it): run workspace db fix, or REINDEX INDEX "
        "CONCURRENTLY kb.documents_project_idx"),
    "invalid index of another definition": Dropped(
        "DROP INDEX kb.documents_project_idx; "
        "CREATE INDEX documents_project_idx ON kb.documents (project_id); "
        "COMMENT ON INDEX kb.documents_project_idx IS 'Latest documents of a project'; "
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'kb.documents_project_idx'::regclass",
        "Index kb.documents_project_idx is INVALID (a CREATE INDEX CONCURRENTLY or REINDEX "
        "that failed: queries do not use it): run workspace db fix, or REINDEX INDEX "
        "CONCURRENTLY kb.documents_project_idx"),
    "schema": Dropped("DROP SCHEMA billing CASCADE",
                      "Missing schema: billing",
                      ("Missing domain: billing.amount", "Missing table: billing.invoices",
                       "Missing range type: billing.price_band")),
}
# Rows that go with a dropped object (every other table keeps all of its rows).
LOSES_ROWS = {"table": {"kb.chunks"}, "unlogged table": {"kb.import_staging"},
              "partition": {"billing.usage_events"}, "partitioned table": {"billing.usage_events"},
              "materialized view": {"kb.document_stats"},
              "schema": {"billing.invoices", "billing.usage_events"}}


@pytest.mark.parametrize("what", list(DROPPED))
def test_dropped_object_is_named_then_restored_whole_by_fix(
        built: tuple[Config, str], what: str) -> None:
    config, url = built
    case = DROPPED[what]
    before, rows = catalog(url), row_counts(url)
    run(url, case.sql)
    report = check(config, url)
    assert not report.valid
    missing = [f.text for f in report.findings if f.group == MISSING]
    critical = [f.text for f in report.errors if f.group != MISSING]
    assert missing[:1] == [case.first], missing
    # the root is the first problem of all, before a critical object it took with it
    assert report.errors[0].text == case.first, [f.text for f in report.errors]
    for text in case.also:
        assert text in missing + critical, (text, missing, critical)
    assert report.recommendations()[0] == "Run workspace db fix"
    _, _, failed = fix(config, url)
    assert failed == []
    after = check(config, url)
    assert after.valid and after.drifts == [], [f.text for f in after.findings]
    assert catalog(url) == before
    kept = row_counts(url)
    for table in LOSES_ROWS.get(what, set()):
        del kept[table], rows[table]
    assert kept == rows


def test_recreated_table_keeps_its_column_order_and_guards(tenant: Config, db_url: str) -> None:
    config, url = tenant, db_url
    build(config, url, seed=False)  # with rows, chunks' foreign key could not come back
    order = "SELECT attname FROM pg_attribute WHERE attrelid = 'kb.documents'::regclass " \
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    columns = run(url, order)
    run(url, "DROP TABLE kb.documents CASCADE")
    _, _, failed = fix(config, url)
    assert failed == []
    assert run(url, order) == columns
    assert run(url, "SELECT relrowsecurity, relforcerowsecurity, reloptions FROM pg_class "
                    "WHERE oid = 'kb.documents'::regclass") == [(True, True, ["fillfactor=90"])]
    assert run(url, "SELECT count(*) FROM pg_policies WHERE schemaname = 'kb' "
                    "AND tablename = 'documents'") == [(4,)]
    assert run(url, f"SELECT has_table_privilege('{APP_ROLE}', 'kb.documents', 'DELETE')") \
        == [(True,)]


@dataclass(frozen=True)
class Altered:
    sql: str
    finding: str


ALTERED = {
    "comment": Altered("COMMENT ON TABLE kb.projects IS 'Customers'",
                       "Comment TABLE kb.projects differs from migrations: the text is not "
                       "the one the migrations set (changed)"),
    "policy": Altered("ALTER POLICY documents_select ON kb.documents USING (true)",
                      "Policy kb.documents.documents_select differs from migrations"),
    "trigger state": Altered("ALTER TABLE kb.documents DISABLE TRIGGER documents_touch",
                             "Trigger kb.documents.documents_touch differs from migrations: "
                             "disabled, expected enabled (changed)"),
    "view options": Altered("ALTER VIEW kb.recent_documents RESET (security_invoker)",
                            "View kb.recent_documents differs from migrations: options (none), "
                            "expected (security_invoker=true) (changed)"),
    "table options": Altered("ALTER TABLE kb.documents SET (fillfactor = 70)",
                             "Table kb.documents differs from migrations: options "
                             "(fillfactor=70), expected (fillfactor=90) (changed)"),
    "unlogged": Altered("ALTER TABLE kb.locked_items SET UNLOGGED",
                        "Table kb.locked_items differs from migrations: UNLOGGED, expected "
                        "logged (changed)"),
    "sequence options": Altered("ALTER SEQUENCE billing.invoice_number NO CYCLE CACHE 1",
                                "Sequence billing.invoice_number differs from migrations: "
                                "cache 1, expected 10; cycle False, expected True (changed)"),
    "sequence owner": Altered("ALTER SEQUENCE billing.invoice_number OWNED BY NONE",
                              "Sequence billing.invoice_number differs from migrations: "
                              "owned by none, expected billing.invoices.number (changed)"),
    "sequence persistence": Altered("ALTER SEQUENCE billing.invoice_number SET UNLOGGED",
                                    "Sequence billing.invoice_number differs from migrations: "
                                    "unlogged True, expected False (changed)"),
    "partition bound": Altered(
        "ALTER TABLE billing.usage_events DETACH PARTITION billing.usage_events_2026_02; "
        "ALTER TABLE billing.usage_events ATTACH PARTITION billing.usage_events_2026_02 "
        "FOR VALUES FROM ('2026-02-01') TO ('2026-02-20')",
        "Table billing.usage_events_2026_02 differs from migrations: partition of "
        "billing.usage_events FOR VALUES FROM ('2026-02-01 00:00:00+00') TO "
        "('2026-02-20 00:00:00+00'), expected billing.usage_events FOR VALUES FROM "
        "('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00') (changed)"),
    "view check option": Altered("ALTER VIEW kb.published_documents SET (check_option = local)",
                                 "View kb.published_documents differs from migrations: options "
                                 "(check_option=local, security_barrier=true), expected "
                                 "(check_option=cascaded, security_barrier=true) (changed)"),
    "column collation": Altered("ALTER TABLE auth.users ALTER COLUMN display_name TYPE text "
                                "COLLATE \"POSIX\"",
                                "Column auth.users.display_name differs from migrations: "
                                "collation pg_catalog.\"POSIX\", expected pg_catalog.\"C\" "
                                "(changed)"),
    "domain": Altered("ALTER DOMAIN billing.amount SET DEFAULT 1",
                      "Domain billing.amount differs from migrations"),
    "extra grant": Altered(f"GRANT TRUNCATE ON kb.documents TO {APP_ROLE}",
                           f"Grant TRUNCATE ON TABLE kb.documents TO {APP_ROLE} exists but not "
                           "in migrations (extra)"),
    "extra row level security": Altered("ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY",
                                        "Row level security auth.users exists but not in "
                                        "migrations (extra)"),
}


@pytest.mark.parametrize("what", list(ALTERED))
def test_changed_object_is_reported_left_alone_and_its_sql_reconciles_it(
        built: tuple[Config, str], what: str) -> None:
    config, url = built
    case = ALTERED[what]
    before = catalog(url)
    run(url, case.sql)
    altered, rows = catalog(url), row_counts(url)
    report = check(config, url)
    assert not report.valid
    assert any(f.text.startswith(case.finding) for f in report.errors), \
        [f.text for f in report.errors]
    steps, _, _ = fix(config, url)
    assert steps == []
    assert catalog(url) == altered and row_counts(url) == rows
    assert report.expected is not None and report.live is not None
    sql = [reconcile_sql(report.expected.catalog, report.live, d) for d in report.drifts]
    assert all(sql), report.drifts
    run(url, ";\n".join(sql))
    assert catalog(url) == before


def test_pg_dump_style_migrations_validate_clean(built: tuple[Config, str], admin_url: str,
                                                 tmp_path: Path) -> None:
    """A pg_dump of the schema (SET statements, set_config, ALTER ... OWNER TO) as the
    one migration of a project: the database it builds validates clean."""
    _, url = built
    dump = subprocess.run([str(bin_dir() / "pg_dump"), "--schema-only", "-d", url,
                           "--exclude-table=public.schema_migrations"],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    # psql meta-commands (\restrict in recent pg_dump) are not SQL.
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    assert "OWNER TO" in dump and "SET " in dump
    source = tmp_path / "dump-migrations"
    source.mkdir()
    (source / "0001_dump.sql").write_text(dump)
    config = make_project(tmp_path / "project", source)
    name = url.rsplit("/", 1)[1] + "_dump"
    fresh = url.rsplit("/", 1)[0] + "/" + name
    run(admin_url, f"CREATE DATABASE {name}")
    try:
        build(config, fresh, seed=False)
        report = check(config, fresh)
        assert report.valid and report.drifts == [], [f.text for f in report.findings]
        assert catalog(fresh).items == catalog(url).items
        steps, _, _ = fix(config, fresh)
        assert steps == []
    finally:
        run(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_owners_are_compared_only_when_configured(built: tuple[Config, str],
                                                  admin_url: str) -> None:
    config, url = built
    role = f"owner_{url.rsplit('/', 1)[1]}"
    run(admin_url, f"CREATE ROLE {role} NOLOGIN")
    try:
        run(url, f"ALTER TABLE kb.locked_items OWNER TO {role}")
        assert check(config, url).valid
        strict = config.model_copy(update={"precheck": config.precheck.model_copy(
            update={"compare_owners": True})})
        report = check(strict, url)
        assert [f.text for f in report.errors] == [
            f"Owner TABLE kb.locked_items differs from migrations: owned by {role}, expected "
            "postgres (changed)"]
        assert report.expected is not None and report.live is not None
        run(url, reconcile_sql(report.expected.catalog, report.live, report.drifts[0]))
        assert check(strict, url).valid
    finally:
        run(url, f"REASSIGN OWNED BY {role} TO postgres")
        run(admin_url, f"DROP ROLE {role}")


def test_not_null_column_that_rows_keep_out_says_how_to_add_it_then_fix_completes(
        built: tuple[Config, str]) -> None:
    """A NOT NULL column without a default cannot come back to a table with rows (23502):
    the remedy gives the SQL that adds it nullable and sets NOT NULL once it is filled."""
    config, url = built
    run(url, "ALTER TABLE kb.chunks DROP COLUMN content")
    _, _, failed = fix(config, url)
    # (PostgreSQL 18 names NOT NULL constraints: that one fails for want of the column)
    [remedy] = [f.remedy for s, f in failed if (s.name, f.sqlstate) == ("kb.chunks.content",
                                                                        "23502")]
    add, set_not_null = remedy.split("`")[1], remedy.split("`")[3]
    assert (add, set_not_null) == ("ALTER TABLE kb.chunks ADD COLUMN IF NOT EXISTS content text",
                                   "ALTER TABLE kb.chunks ALTER COLUMN content SET NOT NULL")
    assert remedy.endswith("then run workspace db fix"), remedy
    run(url, add)
    run(url, "UPDATE kb.chunks SET content = 'filled'")
    run(url, set_not_null)
    _, _, failed = fix(config, url)
    assert failed == []
    after = check(config, url)
    assert after.valid and after.drifts == [], [f.text for f in after.findings]
