"""`workspace db ...` as a user runs it: the real command in a project directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import query, run_cli, write


def password_of(url: str) -> str:
    password = urlsplit(url).password
    assert password
    return password


def tables(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT schemaname || '.' || tablename FROM pg_tables "
                                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")}


def test_migrate_prints_each_file_with_its_time_then_is_up_to_date(shipped_project: Path,
                                                                    db_url: str) -> None:
    first = run_cli(shipped_project, "db", "migrate", "--database-url", db_url)
    assert first.returncode == 0, first.stderr
    for name in ("0001_init.sql", "0002_populate_materialized_views.sql",
                 "0004_auth_introspection_cache.sql"):
        assert re.search(rf"^Applied: {name} in \d+ms$", first.stdout, re.M), first.stdout
    assert "3 migrations applied" in first.stdout
    second = run_cli(shipped_project, "db", "migrate", "--database-url", db_url)
    assert (second.returncode, second.stdout.strip()) == (0, "All migrations up to date")
    assert password_of(db_url) not in first.stdout + first.stderr + second.stdout


def test_dry_run_prints_the_plan_and_touches_nothing(shipped_project: Path, db_url: str) -> None:
    out = run_cli(shipped_project, "db", "migrate", "--dry-run", "--database-url", db_url)
    assert out.returncode == 0, out.stderr
    assert "Would apply: 0001_init.sql" in out.stdout
    assert tables(db_url) == set()


def test_json_output_for_scripts(shipped_project: Path, db_url: str) -> None:
    out = run_cli(shipped_project, "db", "migrate", "--json", "--database-url", db_url)
    doc = json.loads(out.stdout)
    assert doc["ok"] is True and [a["version"] for a in doc["applied"]] == [1, 2, 4]
    assert "********" in doc["database"] and password_of(db_url) not in out.stdout
    status = json.loads(run_cli(shipped_project, "db", "status", "--json",
                                "--database-url", db_url).stdout)
    assert status["counts"] == {"applied": 3, "pending": 0, "modified": 0, "missing": 0}
    assert all(m["applied_by"] and m["execution_ms"] is not None for m in status["migrations"])


def test_status_shows_pending_modified_and_missing(project: Path, db_url: str) -> None:
    a = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    gone = write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    a.write_text("CREATE TABLE a (id bigint);")
    gone.unlink()
    write(project, "0003_c.sql", "CREATE TABLE c (id int);")
    out = run_cli(project, "db", "status", "--database-url", db_url)
    assert out.returncode == 0
    assert re.search(r"^modified +0001_a.sql", out.stdout, re.M)
    assert re.search(r"^missing +0002_b.sql", out.stdout, re.M)
    assert re.search(r"^pending +0003_c.sql$", out.stdout, re.M)
    assert "0 applied, 1 pending, 1 modified, 1 missing" in out.stdout
    assert run_cli(project, "db", "status", "--exit-code",
                   "--database-url", db_url).returncode == 8  # modified wins over pending


def test_checksum_mismatch_exit_code_then_repair(project: Path, db_url: str) -> None:
    a = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run_cli(project, "db", "migrate", "--database-url", db_url)
    a.write_text("-- reworded\nCREATE TABLE a (id int);")
    refused = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert refused.returncode == 8
    assert "PRECHECK_MIGRATION_CHECKSUM_MISMATCH" in refused.stderr
    assert "migrations/0001_a.sql" in refused.stderr and "Traceback" not in refused.stderr
    repaired = run_cli(project, "db", "repair", "--database-url", db_url)
    assert repaired.returncode == 0 and "0001_a.sql" in repaired.stdout
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0



def test_repair_of_a_version_that_did_not_change_is_refused_repairing_nothing(
        project: Path, db_url: str) -> None:
    a = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    a.write_text("-- reworded\nCREATE TABLE a (id int);")
    typo = run_cli(project, "db", "repair", "1", "2", "999", "--database-url", db_url)
    assert typo.returncode == 3, typo.stdout + typo.stderr
    assert "every applied migration matches" not in typo.stdout  # 0001 does not
    assert "db repair: 2, 999: not an applied migration whose file changed " \
        "(changed: 1)" in typo.stderr
    assert query(db_url, "SELECT count(*) FROM public.schema_migrations "
                         "WHERE previous_checksum IS NOT NULL") == [(0,)]
    assert run_cli(project, "db", "repair", "1", "--database-url", db_url).returncode == 0

BAD_FILES = [
    ("bad name", "0003-add-tags.sql", "SELECT 1;", "naming rule", None),
    ("duplicate", "3_again.sql", "SELECT 1;", "duplicate version 3", None),
    ("empty", "0003_empty.sql", "\n\n", "the file is empty", None),
    ("not utf-8", "0003_latin1.sql", b"SELECT 1;\n\nSELECT 'caf\xe9';", "not valid UTF-8", ":3:12"),
    ("syntax", "0003_typo.sql", "CREATE TABLE t (id int);\nCREAT TABLE u (id int);",
     "SQL syntax error", ":2:1"),
    ("non-transactional", "0003_idx.sql", "CREATE TABLE t (id int);\n"
     "CREATE INDEX CONCURRENTLY t_id ON t (id);", "CREATE INDEX CONCURRENTLY", ":2:1"),
    ("bad directive", "0003_dir.sql", "-- workspace: no-txn\nSELECT 1;", "unknown directive", ":1"),
]


@pytest.mark.parametrize("label, name, content, message, position", BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])
def test_each_bad_file_has_its_own_error_and_leaves_the_database_untouched(
        project: Path, db_url: str, label: str, name: str, content: str | bytes,
        message: str, position: str | None) -> None:
    write(project, "0001_good.sql", "CREATE TABLE good (id int);")
    if label == "duplicate":
        write(project, "0003_first.sql", "SELECT 1;")
    write(project, name, content)
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 6, out.stderr
    assert out.stderr.startswith("PRECHECK_MIGRATION_FILE_INVALID: ")
    assert f"migrations/{name}{position or ''}" in out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert tables(db_url) == set(), "nothing may run, not even the tracking table"


def test_failed_sql_exit_code_message_and_no_password(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);\nINSERT INTO a VALUES ('x');")
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 7
    assert "PRECHECK_MIGRATIONS_FAILED" in out.stderr
    assert "0001_a.sql:2:23" in out.stderr and "22P02" in out.stderr
    assert "rolled back" in out.stderr
    assert password_of(db_url) not in out.stdout + out.stderr
    assert tables(db_url) == {"public.schema_migrations"}


def test_invalid_index_left_by_a_concurrent_build_is_exit_24_with_the_remedy(
        project: Path, db_url: str) -> None:
    write(project, "0001_t.sql", "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);")
    write(project, "0002_t_v.sql", "-- workspace: no-transaction\n"
                                   "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);")
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 24, out.stderr
    assert "PRECHECK_MIGRATION_INDEX_INVALID" in out.stderr and "Traceback" not in out.stderr
    assert "0002_t_v.sql:2:1" in out.stderr and "23505" in out.stderr
    assert "public.t_v on public.t is INVALID" in out.stderr
    assert "DROP INDEX CONCURRENTLY IF EXISTS public.t_v;" in out.stderr
    assert query(db_url, "SELECT version FROM schema_migrations") == [(1,)]


def test_invalid_index_is_named_by_validate_rebuilt_by_fix_then_recorded(
        project: Path, db_url: str) -> None:
    """The whole recovery a user follows after exit 24: validation names the INVALID
    index, `db fix` rebuilds it once the data allows, and the migration then records."""
    (project / "config.yaml").write_text("precheck:\n  critical_tables: {}\n"
                                         "  critical_functions: []\n"
                                         "  required_extensions: []\n")
    write(project, "0001_t.sql", "CREATE TABLE IF NOT EXISTS t (v int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    query(db_url, "INSERT INTO t VALUES (1), (1)")  # the app's rows, not the migrations'
    write(project, "0002_t_v.sql", "-- workspace: no-transaction\n"
                                   "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 24
    out = run_cli(project, "db", "validate", "--database-url", db_url)
    assert out.returncode == 12, out.stdout + out.stderr
    assert "Index public.t_v is INVALID" in out.stdout
    query(db_url, "DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")
    out = run_cli(project, "db", "fix", "--database-url", db_url)
    assert "Traceback" not in out.stderr, out.stderr
    assert query(db_url, "SELECT indisvalid FROM pg_index "
                         "WHERE indexrelid = 'public.t_v'::regclass") == [(True,)]
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    assert query(db_url, "SELECT version FROM schema_migrations ORDER BY 1") == [(1,), (2,)]
    out = run_cli(project, "db", "validate", "--database-url", db_url)
    assert out.returncode == 0, out.stdout + out.stderr


def test_unreachable_database_masks_the_password(project: Path) -> None:
    write(project, "0001_a.sql", "SELECT 1;")
    url = "postgresql://app:hunter2-secret@127.0.0.1:9/app"
    out = run_cli(project, "db", "migrate", "--database-url", url)
    assert out.returncode == 4
    assert "PRECHECK_DATABASE_UNREACHABLE" in out.stderr
    assert "hunter2-secret" not in out.stdout + out.stderr
    assert "app:********@127.0.0.1:9" in out.stderr


def test_database_url_from_environment_and_dotenv(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    (project / ".env").write_text(f"DATABASE_URL={db_url}\n")
    assert run_cli(project, "db", "migrate").returncode == 0
    assert "public.a" in tables(db_url)
    (project / ".env").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:9/none\n")
    out = run_cli(project, "db", "status", env={"DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr  # the environment wins over .env


def test_bad_config_names_source_and_field(project: Path) -> None:
    (project / "config.yaml").write_text("migrations:\n  lock_wait_s: soon\n  lok_timeout_s: 3\n")
    out = run_cli(project, "db", "status")
    assert out.returncode == 3
    assert "PRECHECK_CONFIG_INVALID" in out.stderr
    assert "config.yaml line 2: migrations.lock_wait_s" in out.stderr
    assert "config.yaml line 3: migrations.lok_timeout_s: unknown field (did you mean " \
           "`lock_timeout_s`?)" in out.stderr
    assert "Traceback" not in out.stderr


def test_usage_error_is_exit_2_and_help_lists_exit_codes(project: Path) -> None:
    assert run_cli(project, "db", "migrat").returncode == 2
    helptext = run_cli(project, "--help").stdout
    assert "PRECHECK_MIGRATION_CHECKSUM_MISMATCH" in helptext and "130" in helptext


def test_closed_output_pipe_ends_quietly(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);\n")
    for i in range(2, 40):
        write(project, f"{i:04d}_t{i}.sql", f"CREATE TABLE t{i} (id int);\n")
    proc = subprocess.Popen([sys.executable, "-m", "workspace", "db", "migrate",
                             "--database-url", db_url], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) in (0, 141)
    assert "Traceback" not in err and "unexpected error" not in err


def test_status_exit_code_tells_pending_modified_missing_and_unreachable(
        project: Path, db_url: str) -> None:
    def code() -> int:
        return run_cli(project, "db", "status", "--exit-code",
                       "--database-url", db_url).returncode

    a = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    assert code() == 1  # pending
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    assert code() == 0
    a.write_text("CREATE TABLE a (id bigint);")
    assert code() == 8  # modified
    a.unlink()
    assert code() == 8  # missing
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    assert code() == 8  # missing wins over pending: a human must look first
    unreachable = run_cli(project, "db", "status", "--exit-code",
                          "--database-url", "postgresql://app:pw@127.0.0.1:9/app")
    assert unreachable.returncode == 4 and "PRECHECK_DATABASE_UNREACHABLE" in unreachable.stderr
