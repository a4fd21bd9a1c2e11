"""`workspace db adopt` and `db baseline` on a real PostgreSQL: each other runner's history
imported with its times, then `db migrate` up to date and validation passing; refusals
that write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import query, run_cli, write
from workspace.db.files import checksum

CONFIG = ("precheck:\n  critical_tables: {}\n  critical_functions: []\n"
          "  required_extensions: []\n")
JAN = datetime(2024, 1, 1, 12, tzinfo=UTC)
FEB = datetime(2024, 2, 1, 12, tzinfo=UTC)


def sql_of(n: int) -> str:
    return f"CREATE TABLE IF NOT EXISTS public.t{n} (id int PRIMARY KEY);\n"


def setup(project: Path, db_url: str, names: list[str], applied: int = 2) -> None:
    """Three migration files; the database has the schema of the first `applied`."""
    (project / "config.yaml").write_text(CONFIG)
    for n, name in enumerate(names, 1):
        write(project, name, sql_of(n))
        if n <= applied:
            query(db_url, sql_of(n))


def cli(project: Path, db_url: str, *args: str) -> tuple[int, str]:
    out = run_cli(project, "db", *args, "--database-url", db_url)
    return out.returncode, out.stdout + out.stderr


def ours(db_url: str, table: str = "public.schema_migrations") -> list[tuple[object, ...]]:
    return query(db_url, f"SELECT version, name, checksum, applied_at FROM {table} "
                         "ORDER BY version")


def then_up_to_date_and_valid(project: Path, db_url: str, last: str) -> None:
    code, out = cli(project, db_url, "migrate")
    assert code == 0 and f"Applied: {last}" in out and "1 migration applied" in out, out
    code, out = cli(project, db_url, "validate")
    assert code == 0, out
    code, out = cli(project, db_url, "status", "--exit-code")
    assert code == 0, out


NUMBERED = ["0001_a.sql", "0002_b.sql", "0003_c.sql"]


def test_adopts_the_guides_original_runner_with_its_times(project: Path, db_url: str) -> None:
    setup(project, db_url, NUMBERED)
    query(db_url, "CREATE TABLE public.schema_migrations (version text PRIMARY KEY, filename "
                  "text NOT NULL, applied_at timestamptz DEFAULT now())")
    query(db_url, "INSERT INTO public.schema_migrations VALUES ('0001', '0001_a.sql', %s), "
                  "('b', '0002_b.sql', %s), ('0000', '0000_gone.sql', %s)", (JAN, FEB, JAN))
    code, out = cli(project, db_url, "adopt")
    assert code == 0, out
    assert "2 migration(s) adopted into public.schema_migrations from " \
           "public.schema_migrations (guide)" in out
    assert "0000_gone.sql is recorded by the other tool but has no migration file" in out
    assert "pending: 0003_c.sql" in out
    assert "kept as public.schema_migrations_before_workspace" in out
    assert ours(db_url) == [
        (1, "0001_a.sql", checksum(sql_of(1)), JAN), (2, "0002_b.sql", checksum(sql_of(2)), FEB)]
    again = cli(project, db_url, "adopt")
    assert again[0] == 0 and "Nothing to do" in again[1], again
    assert len(ours(db_url)) == 2
    then_up_to_date_and_valid(project, db_url, "0003_c.sql")


def test_adopts_dbmate_in_the_timestamp_layout(project: Path, db_url: str) -> None:
    names = ["20240101120000_a.sql", "20240201120000_b.sql", "20240301120000_c.sql"]
    setup(project, db_url, names)
    query(db_url, "CREATE TABLE public.schema_migrations (version varchar(128) PRIMARY KEY)")
    query(db_url, "INSERT INTO public.schema_migrations VALUES ('20240101120000'), "
                  "('20240201120000')")
    code, out = cli(project, db_url, "adopt", "--from", "dbmate", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [a["version"] for a in doc["adopted"]] == [20240101120000, 20240201120000]
    assert doc["source"] == {"tool": "dbmate", "table": "public.schema_migrations"}
    assert [p["name"] for p in doc["pending"]] == ["20240301120000_c.sql"]
    assert [r[:2] for r in ours(db_url)] == [(20240101120000, names[0]),
                                             (20240201120000, names[1])]
    then_up_to_date_and_valid(project, db_url, names[2])


def test_adopts_golang_migrate_up_to_its_version(project: Path, db_url: str) -> None:
    names = ["000001_a.up.sql", "000002_b.up.sql", "000003_c.up.sql"]
    setup(project, db_url, names)
    write(project, "000001_a.down.sql", "DROP TABLE t1;")
    query(db_url, "CREATE TABLE public.schema_migrations (version bigint PRIMARY KEY, "
                  "dirty boolean NOT NULL); INSERT INTO public.schema_migrations VALUES (2, false)")
    code, out = cli(project, db_url, "adopt")
    assert code == 0 and "(golang-migrate)" in out, out
    assert [r[:2] for r in ours(db_url)] == [(1, names[0]), (2, names[1])]
    then_up_to_date_and_valid(project, db_url, names[2])


def test_a_dirty_golang_migrate_version_is_refused_with_the_remedy(project: Path,
                                                                   db_url: str) -> None:
    setup(project, db_url, ["1_a.up.sql", "2_b.up.sql", "3_c.up.sql"])
    query(db_url, "CREATE TABLE public.schema_migrations (version bigint PRIMARY KEY, "
                  "dirty boolean NOT NULL); INSERT INTO public.schema_migrations VALUES (2, true)")
    code, out = cli(project, db_url, "adopt")
    assert code == 32 and "PRECHECK_HISTORY_CONFLICT" in out, out
    assert "left version 2 dirty" in out and "migrate force 2" in out
    assert query(db_url, "SELECT to_regclass('public.schema_migrations_before_workspace')") \
        == [(None,)]  # nothing written


FLYWAY = ("CREATE TABLE public.flyway_schema_history (installed_rank int PRIMARY KEY, "
          "version varchar(50), description varchar(200), type varchar(20), script "
          "varchar(1000), checksum int, installed_by varchar(100), installed_on timestamp "
          "NOT NULL DEFAULT now(), execution_time int, success boolean NOT NULL)")


def test_adopts_flyway_history(project: Path, db_url: str) -> None:
    names = ["V1__a.sql", "V1.1__b.sql", "V2__c.sql"]
    setup(project, db_url, names)
    query(db_url, FLYWAY)
    query(db_url, "INSERT INTO public.flyway_schema_history VALUES "
                  "(1, '1', 'a', 'SQL', 'V1__a.sql', 11, 'me', '2024-01-01 12:00', 5, true), "
                  "(2, '1.1', 'b', 'SQL', 'V1_1__b.sql', 12, 'me', '2024-02-01 12:00', 7, true), "
                  "(3, NULL, 'views', 'SQL', 'R__views.sql', 13, 'me', '2024-02-01 12:00', 1, "
                  "true)")
    code, out = cli(project, db_url, "adopt")
    assert code == 0 and "from public.flyway_schema_history (flyway)" in out, out
    rows = query(db_url, "SELECT version, name, execution_ms FROM public.schema_migrations "
                         "ORDER BY version")
    assert rows == [("1", "V1__a.sql", 5.0), ("1.1", "V1.1__b.sql", 7.0)]
    then_up_to_date_and_valid(project, db_url, "V2__c.sql")


def test_failed_flyway_rows_are_refused(project: Path, db_url: str) -> None:
    setup(project, db_url, ["V1__a.sql", "V2__b.sql", "V3__c.sql"])
    query(db_url, FLYWAY)
    query(db_url, "INSERT INTO public.flyway_schema_history VALUES "
                  "(1, '1', 'a', 'SQL', 'V1__a.sql', 11, 'me', now(), 5, true), "
                  "(2, '2', 'b', 'SQL', 'V2__b.sql', 12, 'me', now(), 7, false)")
    code, out = cli(project, db_url, "adopt")
    assert code == 32 and "V2 (V2__b.sql) as failed" in out and "flyway repair" in out, out
    assert query(db_url, "SELECT to_regclass('public.schema_migrations')") == [(None,)]


def test_adopt_refuses_when_our_table_disagrees_and_writes_nothing(project: Path,
                                                                  db_url: str) -> None:
    setup(project, db_url, NUMBERED)
    (project / "config.yaml").write_text(CONFIG + "migrations:\n  table: "
                                                  "workspace.schema_migrations\n")
    query(db_url, "CREATE TABLE public.schema_migrations (version varchar(128) PRIMARY KEY); "
                  "INSERT INTO public.schema_migrations VALUES ('1'), ('2')")
    assert cli(project, db_url, "baseline", "1")[0] == 32  # a history is there: adopt it
    query(db_url, "CREATE SCHEMA workspace")
    write(project, "0009_z.sql", "SELECT 1;")
    code, out = cli(project, db_url, "migrate")  # applies all three into ours
    assert code == 0, out
    write(project, "0002_b.sql", sql_of(2) + "-- edited\n")
    query(db_url, "DELETE FROM workspace.schema_migrations WHERE version = 1")
    before = ours(db_url, "workspace.schema_migrations")
    code, out = cli(project, db_url, "adopt")
    assert code == 32, out
    assert "0001_a.sql is not recorded" in out and "0002_b.sql is recorded with another " \
        "checksum" in out
    assert ours(db_url, "workspace.schema_migrations") == before


def test_baseline_records_files_up_to_the_version_without_running_them(
        project: Path, db_url: str) -> None:
    setup(project, db_url, NUMBERED)
    write(project, "0002_b.sql", "CREATE TABLE public.t2 (id int PRIMARY KEY);\n")  # not rerunnable
    code, out = cli(project, db_url, "baseline", "0002")
    assert code == 0 and "2 migration(s) baselined into public.schema_migrations" in out, out
    assert [r[:3] for r in ours(db_url)] == [
        (1, "0001_a.sql", checksum(sql_of(1))),
        (2, "0002_b.sql", checksum("CREATE TABLE public.t2 (id int PRIMARY KEY);\n"))]
    again = cli(project, db_url, "baseline", "2")
    assert again[0] == 0 and "Nothing to do" in again[1], again
    then_up_to_date_and_valid(project, db_url, "0003_c.sql")


@pytest.mark.parametrize("version, message", [("0003", "disagree"),
                                              ("x1", "not a version of the numbered")])
def test_baseline_refuses_what_disagrees_or_is_no_version(project: Path, db_url: str,
                                                          version: str, message: str) -> None:
    setup(project, db_url, NUMBERED)
    assert cli(project, db_url, "baseline", "1")[0] == 0
    code, out = cli(project, db_url, "baseline", version)
    assert code == 32 and message in out, out
    assert len(ours(db_url)) == 1


def test_a_real_pg_dump_of_a_guide_run_database_is_a_baseline_and_its_history_adopted(
        tmp_path: Path, db_url: str, pg_server: object, admin_url: str) -> None:
    """The issue's case: the guide's original runner ran a database; its schema dump
    (`pg_dump --schema-only`, which creates the runner's table) becomes 0001; a fresh
    database migrates from it, and the original adopts the history."""
    import subprocess
    import uuid

    from workspace.deps.embedded import bin_dir

    query(db_url, "CREATE SCHEMA kb; CREATE TABLE kb.documents (id int PRIMARY KEY, title "
                  "text); CREATE TABLE public.schema_migrations (version text PRIMARY KEY, "
                  "filename text NOT NULL, applied_at timestamptz DEFAULT now())")
    query(db_url, "INSERT INTO public.schema_migrations VALUES ('0001', '0001_baseline.sql', "
                  "%s)", (JAN,))
    dump = subprocess.run([str(bin_dir() / "pg_dump"), "--schema-only", "-d", db_url],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert "CREATE TABLE public.schema_migrations" in dump
    project = tmp_path / "p"
    (project / "migrations").mkdir(parents=True)
    (project / "config.yaml").write_text(CONFIG)
    write(project, "0001_baseline.sql", dump)
    write(project, "0002_tags.sql", "CREATE TABLE IF NOT EXISTS kb.tags (name text);\n")

    fresh = db_url.rsplit("/", 1)[0] + f"/t_{uuid.uuid4().hex[:12]}"
    query(admin_url, f"CREATE DATABASE {fresh.rsplit('/', 1)[1]}")
    try:
        code, out = cli(project, fresh, "migrate")
        assert code == 0 and "2 migrations applied" in out, out
        assert "tracking table: skipped" in out
        assert [r[:2] for r in ours(fresh)] == [(1, "0001_baseline.sql"), (2, "0002_tags.sql")]
    finally:
        query(admin_url, f"DROP DATABASE IF EXISTS {fresh.rsplit('/', 1)[1]} WITH (FORCE)")

    code, out = cli(project, db_url, "adopt")
    assert code == 0 and "pending: 0002_tags.sql" in out, out
    assert [r[::3] for r in ours(db_url)] == [(1, JAN)]
    then_up_to_date_and_valid(project, db_url, "0002_tags.sql")
