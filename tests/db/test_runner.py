"""The runner against a real PostgreSQL: apply, track, fail, refuse, repair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import query, run_cli, write
from workspace.db import runner
from workspace.db.files import find_migrations
from workspace.db.lock import LOCK_KEY
from workspace.db.runner import RunnerSettings, migrate, read_plan, repair
from workspace.errors import (
    ChecksumMismatch,
    MigrationError,
    MigrationLockTimeout,
    TrackingTableInvalid,
)

FAST = RunnerSettings(lock_wait_s=5, connect_timeout_s=5)


def run(project: Path, url: str, settings: RunnerSettings = FAST, **kw: object) -> runner.MigrateResult:
    return migrate(url, find_migrations(project / "migrations"), settings, **kw)  # type: ignore[arg-type]


def tables(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_applies_in_numeric_order_with_gaps_and_tracks_each(project: Path, db_url: str) -> None:
    write(project, "0004_c.sql", "CREATE TABLE c (id int REFERENCES b(id));")
    write(project, "0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int PRIMARY KEY REFERENCES a(id));")
    result = run(project, db_url)
    assert [a.migration.version for a in result.applied] == [1, 2, 4]
    rows = query(db_url, "SELECT version, name, checksum, execution_ms, applied_by "
                         "FROM schema_migrations ORDER BY version")
    files = find_migrations(project / "migrations")
    assert [(r[0], r[1], r[2]) for r in rows] == [(m.version, m.name, m.checksum) for m in files]
    assert all(r[3] >= 0 for r in rows)
    assert all(str(r[4]).startswith("postgres via workspace") for r in rows)


def test_second_run_applies_nothing(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run(project, db_url)
    again = run(project, db_url)
    assert again.applied == [] and again.plan.up_to_date


def test_nothing_pending_is_one_query_on_one_connection(project: Path, db_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run(project, db_url)
    connects: list[str] = []
    queries: list[object] = []
    real_connect, real_execute = psycopg.connect, psycopg.Connection.execute

    def counting_connect(*a, **kw):
        connects.append("c")
        return real_connect(*a, **kw)

    def counting_execute(self, q, *a, **kw):
        queries.append(q)
        return real_execute(self, q, *a, **kw)

    monkeypatch.setattr(psycopg, "connect", counting_connect)
    monkeypatch.setattr(psycopg.Connection, "execute", counting_execute)
    run(project, db_url)
    assert len(connects) == 1, "no second connection: the lock is not taken"
    assert len(queries) == 1, queries


def test_a_full_apply_of_transactional_files_takes_the_lock_on_its_one_connection(
        project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);\n"
          "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
          "AND pid = pg_backend_pid() AND granted AND objsubid = 2) "
          "THEN RAISE EXCEPTION 'not holding the lock'; END IF; END $$;")
    connects: list[str] = []
    real_connect = psycopg.connect

    def counting_connect(*a: Any, **kw: Any) -> Any:
        connects.append("c")
        return real_connect(*a, **kw)

    monkeypatch.setattr(psycopg, "connect", counting_connect)
    assert [a.migration.version for a in run(project, db_url).applied] == [1, 2]
    assert len(connects) == 1
    assert query(db_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [(0,)]


def test_with_a_no_transaction_file_the_lock_is_on_a_connection_of_its_own(
        project: Path, db_url: str) -> None:
    """DISCARD ALL in a no-transaction file releases its session's advisory locks: the
    lock must not be on that session."""
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_b.sql", "-- workspace: no-transaction\nDISCARD ALL;\n"
          "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
          "AND granted AND objsubid = 2) THEN RAISE EXCEPTION 'lock lost'; END IF; END $$;")
    assert [a.migration.version for a in run(project, db_url).applied] == [1, 2]


def test_a_file_that_unlocks_advisory_locks_cannot_release_the_migration_lock(
        project: Path, db_url: str) -> None:
    """pg_advisory_unlock_all() in a migration releases its session's locks, and a
    rollback does not take that back: the lock must not be on that session (a second
    runner would start applying the next files)."""
    write(project, "0001_a.sql", "SELECT pg_advisory_unlock_all();")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);\n"
          "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
          "AND granted AND objsubid = 2) THEN RAISE EXCEPTION 'lock lost'; END IF; END $$;")
    assert [a.migration.version for a in run(project, db_url).applied] == [1, 2]


def test_failed_migration_rolls_back_and_names_file_line_column(project: Path, db_url: str) -> None:
    write(project, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(project, "0002_bad.sql",
          "CREATE TABLE half (id int);\n\nINSERT INTO half\n  SELECT nope FROM ok;\n")
    with pytest.raises(MigrationError) as info:
        run(project, db_url)
    err = info.value
    assert err.code == "PRECHECK_MIGRATIONS_FAILED"
    assert "0002_bad.sql:4:10:" in err.message  # the column `nope`, from the server's position
    assert "42703" in err.message and 'column "nope" does not exist' in err.message
    assert "INSERT INTO half" in err.message
    assert tables(db_url) == {"ok", "schema_migrations"}  # `half` rolled back
    assert [r[0] for r in query(db_url, "SELECT version FROM schema_migrations")] == [1]


def test_error_without_server_position_points_at_the_statement(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);\n-- again\n  CREATE TABLE a (id int);")
    with pytest.raises(MigrationError) as info:
        run(project, db_url)
    assert "0001_a.sql:3:3:" in info.value.message and "42P07" in info.value.message
    assert tables(db_url) == {"schema_migrations"}


def test_changed_applied_migration_is_refused(project: Path, db_url: str) -> None:
    path = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run(project, db_url)
    path.write_text("CREATE TABLE a (id bigint);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    with pytest.raises(ChecksumMismatch) as info:
        run(project, db_url)
    assert info.value.code == "PRECHECK_MIGRATION_CHECKSUM_MISMATCH"
    assert "0001_a.sql" in info.value.message
    assert "b" not in tables(db_url)


def test_line_endings_and_bom_are_not_a_change(project: Path, db_url: str) -> None:
    path = write(project, "0001_a.sql", "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n")
    run(project, db_url)
    path.write_bytes(b"\xef\xbb\xbfCREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n")
    assert run(project, db_url).plan.up_to_date


def test_repair_accepts_the_new_checksum_and_records_it(project: Path, db_url: str) -> None:
    path = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run(project, db_url)
    old = query(db_url, "SELECT checksum FROM schema_migrations")[0][0]
    path.write_text("-- documented later\nCREATE TABLE a (id int);")
    files = find_migrations(project / "migrations")
    assert [m.name for m in repair(db_url, files, FAST)] == ["0001_a.sql"]
    checksum, previous, repaired_at = query(
        db_url, "SELECT checksum, previous_checksum, repaired_at FROM schema_migrations")[0]
    assert checksum == files[0].checksum and previous == old and repaired_at is not None
    assert run(project, db_url).plan.up_to_date
    assert repair(db_url, files, FAST) == []


def test_tracked_migration_whose_file_is_gone_is_reported(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    gone = write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    run(project, db_url)
    gone.unlink()
    plan = read_plan(db_url, find_migrations(project / "migrations"), FAST)
    assert [r.name for r in plan.missing] == ["0002_b.sql"]


def test_out_of_order_migration_is_applied_and_flagged(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0003_c.sql", "CREATE TABLE c (id int);")
    run(project, db_url)
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    plan = read_plan(db_url, find_migrations(project / "migrations"), FAST)
    assert [m.name for m in plan.out_of_order] == ["0002_b.sql"]
    assert [a.migration.version for a in run(project, db_url).applied] == [2]


@pytest.mark.parametrize("columns, owner", [
    ("version varchar(128) PRIMARY KEY", "dbmate"),
    ("version bigint PRIMARY KEY, dirty boolean NOT NULL DEFAULT false", "golang-migrate"),
])
def test_other_tools_tracking_table_is_reported_not_misread(project: Path, db_url: str,
                                                           columns: str, owner: str) -> None:
    query(db_url, f"CREATE TABLE public.schema_migrations ({columns}) ; SELECT 1")
    query(db_url, "INSERT INTO public.schema_migrations (version) "
                  "VALUES ('20240101000000') "
                  "ON CONFLICT DO NOTHING RETURNING version")
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with pytest.raises(TrackingTableInvalid) as info:
        run(project, db_url)
    assert info.value.code == "PRECHECK_TRACKING_TABLE_INVALID"
    assert owner in info.value.message
    assert tables(db_url) == {"schema_migrations"}
    assert query(db_url, "SELECT count(*) FROM schema_migrations")[0][0] == 1


def test_dry_run_changes_nothing(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    result = run(project, db_url, dry_run=True)
    assert [m.name for m in result.plan.pending] == ["0001_a.sql"] and result.applied == []
    assert tables(db_url) == set()


def test_no_transaction_file_runs_concurrent_index(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_idx.sql", "-- workspace: no-transaction\n"
                                   "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_id ON a (id);")
    run(project, db_url)
    assert query(db_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'a'") == [("a_id",)]
    assert query(db_url, "SELECT count(*) FROM schema_migrations")[0][0] == 2


def test_per_migration_lock_timeout_bounds_the_wait_for_a_table_lock(project: Path,
                                                                     db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    run(project, db_url)
    write(project, "0002_alter.sql", "-- workspace: lock_timeout=200ms\n"
                                     "ALTER TABLE a ADD COLUMN IF NOT EXISTS b int;")
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE a IN ACCESS SHARE MODE")
        with pytest.raises(MigrationError) as info:
            run(project, db_url)
    assert "55P03" in info.value.message and "lock_timeout" in info.value.remedy


def test_default_statement_timeout_applies(project: Path, db_url: str) -> None:
    write(project, "0001_slow.sql", "SELECT pg_sleep(5);")
    with pytest.raises(MigrationError) as info:
        run(project, db_url, RunnerSettings(statement_timeout_s=0.2, connect_timeout_s=5))
    assert "57014" in info.value.message and "statement_timeout" in info.value.remedy


def test_lock_wait_is_bounded_and_names_the_holder(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with psycopg.connect(db_url, autocommit=True, application_name="deploy-script-42") as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
        with pytest.raises(MigrationLockTimeout) as info:
            run(project, db_url, RunnerSettings(lock_wait_s=0.3, connect_timeout_s=5))
    assert info.value.code == "PRECHECK_MIGRATION_LOCK_TIMEOUT"
    assert "deploy-script-42" in info.value.message and "pid" in info.value.message
    assert "a" not in tables(db_url)


# -- no-transaction migrations and INVALID indexes -------------------------------------

UNIQUE_CIC = ("-- workspace: no-transaction\n"
              "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_key ON t (v);\n")


def index_valid(url: str, name: str) -> list[tuple[object, ...]]:
    return query(url, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c "
                      "ON c.oid = i.indexrelid WHERE c.relname = %s", (name,))


def test_concurrent_index_left_invalid_is_not_recorded_and_says_how_to_recover(
        project: Path, db_url: str) -> None:
    write(project, "0001_t.sql", "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1), (2);")
    write(project, "0002_idx.sql", UNIQUE_CIC)
    with pytest.raises(MigrationError) as info:
        run(project, db_url)
    err = info.value
    assert (err.code, err.exit_code) == ("PRECHECK_MIGRATION_INDEX_INVALID", 24)
    assert "0002_idx.sql" in err.message and "23505" in err.message  # the cause
    assert "public.t_v_key" in err.message and "INVALID" in err.message
    assert err.remedy and "DROP INDEX CONCURRENTLY IF EXISTS public.t_v_key" in err.remedy
    assert "workspace db migrate" in err.remedy
    assert index_valid(db_url, "t_v_key") == [(False,)]
    assert [r[0] for r in query(db_url, "SELECT version FROM schema_migrations")] == [1]

    # The user removes the duplicate but not the index: IF NOT EXISTS skips the INVALID
    # index, which must not pass for an applied migration.
    query(db_url, "DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t WHERE v = 1)")
    with pytest.raises(MigrationError) as again:
        run(project, db_url)
    assert again.value.code == "PRECHECK_MIGRATION_INDEX_INVALID"
    assert "public.t_v_key" in again.value.message
    assert [r[0] for r in query(db_url, "SELECT version FROM schema_migrations")] == [1]

    # The remedy as told: drop it, run again.
    query(db_url, "DROP INDEX CONCURRENTLY IF EXISTS public.t_v_key")
    assert [a.migration.version for a in run(project, db_url).applied] == [2]
    assert index_valid(db_url, "t_v_key") == [(True,)]


def test_invalid_index_on_a_table_the_file_touches_is_reported(project: Path,
                                                               db_url: str) -> None:
    write(project, "0001_t.sql", "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);")
    run(project, db_url)
    with psycopg.connect(db_url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_left_over ON t (v)")
    write(project, "0002_reindex.sql", "-- workspace: no-transaction\n"
                                       "SET search_path = '';\n"
                                       "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON public.t (v);")
    with pytest.raises(MigrationError) as info:
        run(project, db_url)
    assert info.value.code == "PRECHECK_MIGRATION_INDEX_INVALID"
    assert "public.t_left_over" in info.value.message and "t_v " not in info.value.message
    assert index_valid(db_url, "t_v") == [(True,)]
    assert [r[0] for r in query(db_url, "SELECT version FROM schema_migrations")] == [1]


def test_invalid_index_elsewhere_does_not_block_an_unrelated_migration(project: Path,
                                                                      db_url: str) -> None:
    query(db_url, "CREATE TABLE other (v int); INSERT INTO other VALUES (1), (1)")
    with psycopg.connect(db_url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY other_v ON other (v)")
    write(project, "0001_t.sql", "-- workspace: no-transaction\n"
                                 "CREATE TABLE IF NOT EXISTS t (v int);\n"
                                 "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);")
    assert [a.migration.version for a in run(project, db_url).applied] == [1]


# -- waiting for the lock --------------------------------------------------------------

def test_lock_waiter_holds_no_snapshot_and_times_out_naming_the_holder(
        project: Path, db_url: str) -> None:
    import threading

    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    query(db_url, "CREATE TABLE side (v int)")
    outcome: list[BaseException] = []

    def waiter() -> None:
        try:
            run(project, db_url, RunnerSettings(lock_wait_s=6, connect_timeout_s=5))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    runners = ("SELECT count(*), count(backend_xmin) FROM pg_stat_activity "
               "WHERE datname = current_database() AND application_name LIKE 'workspace-migrate%%'")
    with psycopg.connect(db_url, autocommit=True, application_name="deploy-script-42") as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
        thread = threading.Thread(target=waiter)
        thread.start()
        try:
            # One connection: it reads the plan, then polls for the lock it would apply under.
            wait_until(lambda: query(db_url, runners)[0][0] == 1, 10, "the runner's connection")
            # Polls are instants: a sample between them sees no snapshot at all.
            wait_until(lambda: query(db_url, runners)[0] == (1, 0), 3,
                       "a sample where the waiting runner holds no snapshot")
            # What that buys: a concurrent index build does not wait for the waiter.
            with psycopg.connect(db_url, autocommit=True) as builder:
                builder.execute("SET lock_timeout = '2s'")
                builder.execute("CREATE INDEX CONCURRENTLY side_v ON side (v)")
            assert index_valid(db_url, "side_v") == [(True,)]
        finally:
            thread.join(timeout=20)
    (exc,) = outcome
    assert isinstance(exc, MigrationLockTimeout), exc
    assert exc.code == "PRECHECK_MIGRATION_LOCK_TIMEOUT"
    assert "deploy-script-42" in exc.message and "pid" in exc.message
    assert "a" not in tables(db_url)


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- fresh session state per file -----------------------------------------------------

PG_DUMP_BASELINE = """\
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
CREATE TABLE public.base (id integer);
"""


@pytest.mark.parametrize("at_once", [True, False], ids=["fresh-database", "existing-database"])
def test_pg_dump_baseline_does_not_leak_its_settings_into_the_next_file(
        project: Path, db_url: str, at_once: bool) -> None:
    write(project, "0001_baseline.sql", PG_DUMP_BASELINE)
    if not at_once:
        run(project, db_url)
    write(project, "0002_t.sql", "CREATE TABLE t (id int);\n"
                                 "CREATE TABLE settings AS SELECT current_setting('search_path') "
                                 "AS search_path, current_setting('client_min_messages') AS cmm, "
                                 "current_setting('check_function_bodies') AS cfb, "
                                 "current_user::text AS who;")
    run(project, db_url)
    assert {"base", "t", "settings"} <= tables(db_url)
    who = query(db_url, "SELECT current_user::text")[0][0]
    assert query(db_url, "SELECT search_path, cmm, cfb, who FROM public.settings") == [
        ('"$user", public', "notice", "on", who)]


def test_role_and_session_settings_are_reset_before_the_next_file(project: Path,
                                                                   db_url: str) -> None:
    query(db_url, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mig_owner')"
                  " THEN CREATE ROLE mig_owner; END IF; END $$")
    query(db_url, "GRANT CREATE ON SCHEMA public TO mig_owner")
    write(project, "0001_as_owner.sql", "SET ROLE mig_owner;\nCREATE TABLE owned (id int);\n"
                                        "SET work_mem = '7MB';")
    write(project, "0002_nt.sql", "-- workspace: no-transaction\n"
                                  "SET SESSION AUTHORIZATION mig_owner;\n"
                                  "CREATE TABLE owned_too (id int);")
    write(project, "0003_after.sql", "CREATE TABLE seen AS SELECT current_user::text AS who, "
                                     "session_user::text AS sess, "
                                     "current_setting('work_mem') AS wm;")
    run(project, db_url)
    who, work_mem = query(db_url, "SELECT current_user::text, current_setting('work_mem')")[0]
    assert work_mem != "7MB"
    assert query(db_url, "SELECT who, sess, wm FROM seen") == [(who, who, work_mem)]
    owners = query(db_url, "SELECT tablename, tableowner FROM pg_tables WHERE tablename "
                           "IN ('owned', 'owned_too', 'seen') ORDER BY 1")
    assert owners == [("owned", "mig_owner"), ("owned_too", "mig_owner"), ("seen", who)]
    applied_by = query(db_url, "SELECT applied_by FROM schema_migrations ORDER BY version")
    assert all(str(r[0]).startswith(f"{who} via") for r in applied_by), applied_by


# -- several migrations per round trip, each its own transaction -------------------------

def test_failure_mid_batch_keeps_the_ones_before_and_runs_none_after(project: Path,
                                                                     db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);\nSELECT set_config('x.y', '1', false);")
    write(project, "0002_dup.sql", "CREATE TABLE b (id int);\n-- oops\nCREATE TABLE a (id int);")
    write(project, "0003_c.sql", "CREATE TABLE c (id int);")
    events: list[tuple[str, str]] = []
    with pytest.raises(MigrationError) as info:
        run(project, db_url, report=lambda e, m, ms: events.append((e, m.name)))
    assert "0002_dup.sql:3:1:" in info.value.message and "42P07" in info.value.message
    assert tables(db_url) == {"a", "schema_migrations"}
    assert [r[0] for r in query(db_url, "SELECT version FROM schema_migrations")] == [1]
    assert ("applied", "0001_a.sql") in events
    assert not any(e == "applied" and name != "0001_a.sql" for e, name in events)


def test_each_migration_of_a_batch_reports_its_own_server_time(project: Path,
                                                               db_url: str) -> None:
    write(project, "0001_slow.sql", "SELECT pg_sleep(0.3);")
    write(project, "0002_quick.sql", "SELECT 1 AS workspace_recorded_version_not;")
    result = run(project, db_url)
    slow, quick = (a.elapsed_ms for a in result.applied)
    assert slow >= 300 and quick < 300
    assert query(db_url, "SELECT version, execution_ms >= 300 FROM schema_migrations "
                         "ORDER BY 1") == [(1, True), (2, False)]


def test_a_file_wrapped_in_its_own_begin_commit_runs_as_one_transaction(project: Path,
                                                                        db_url: str) -> None:
    write(project, "0001_a.sql", "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n"
                                 "COMMIT;\n")
    write(project, "0002_b.sql", "BEGIN;\nCREATE TABLE b (id int);\nINSERT INTO b VALUES ('x');\n"
                                 "COMMIT;\n")
    with pytest.raises(MigrationError, match=r"0002_b.sql:3:\d+: migration failed"):
        run(project, db_url)
    assert tables(db_url) == {"a", "schema_migrations"}  # b's CREATE rolled back with it
    assert query(db_url, "SELECT version FROM schema_migrations") == [(1,)]


def test_a_pg_dump_baseline_creating_the_guides_table_applies(project: Path,
                                                              db_url: str) -> None:
    from tests.db.test_sqlparse import PG_DUMP

    write(project, "0001_baseline.sql", PG_DUMP)
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "note: 0001_baseline.sql:23: CREATE TABLE public.schema_migrations makes the " \
           "guide's original runner's tracking table: skipped" in out.stdout
    assert query(db_url, "SELECT version, name FROM public.schema_migrations") == \
        [(1, "0001_baseline.sql")]
    assert query(db_url, "SELECT to_regclass('kb.documents') IS NOT NULL") == [(True,)]
    assert run_cli(project, "db", "migrate", "--database-url", db_url).stdout.strip() == \
        "All migrations up to date"


# Which synchronous_commit each commit of a run had, read at the commit itself: a deferred
# constraint trigger on the tracking table fires while the transaction commits.
COMMIT_LOG = """
CREATE TABLE commit_log (n serial, version bigint, sc text);
CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commit_log (version, sc) VALUES (NEW.version, current_setting('synchronous_commit'));
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT OR UPDATE ON public.schema_migrations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_commit();
"""


def _commits(url: str) -> list[tuple[int, str]]:
    return [(int(v), sc) for v, sc in query(url, "SELECT version, sc FROM commit_log ORDER BY n")]


@pytest.mark.parametrize("default", ["off", "on", "remote_apply"])
def test_every_commit_but_the_runs_last_is_asynchronous_and_the_last_is_durable(
        project: Path, db_url: str, default: str) -> None:
    """Each migration commits with synchronous_commit off; the run's last commit waits for
    the flush even where the server's default is off (as the embedded server's is), and
    keeps a stronger default (remote_apply) rather than weakening it; a no-transaction
    file at the end commits its row durably too."""
    from workspace.db import tracking

    query(db_url, tracking.create_table_sql().decode())
    query(db_url, COMMIT_LOG)
    database = query(db_url, "SELECT current_database()")[0][0]
    query(db_url, f'ALTER DATABASE "{database}" SET synchronous_commit = {default}')
    for n in (1, 2, 3):
        write(project, f"000{n}_t{n}.sql", f"CREATE TABLE t{n} (id int);")
    run(project, db_url)
    durable = "on" if default == "off" else default
    assert _commits(db_url) == [(1, "off"), (2, "off"), (3, durable)]
    write(project, "0004_nt.sql", "-- workspace: no-transaction\nCREATE TABLE t4 (id int);")
    run(project, db_url)
    assert _commits(db_url)[3:] == [(4, durable)]


def test_a_run_that_fails_flushes_what_it_applied_before_reporting(project: Path,
                                                                   db_url: str) -> None:
    from workspace.db import tracking

    query(db_url, tracking.create_table_sql().decode())
    query(db_url, COMMIT_LOG)
    database = query(db_url, "SELECT current_database()")[0][0]
    query(db_url, f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    write(project, "0003_bad.sql", "CREATE TABLE c (id int);\nSELECT 1/0;")
    with pytest.raises(MigrationError):
        run(project, db_url)
    # two asynchronous commits, then the flush: a synchronous commit rewriting 0002's row
    assert _commits(db_url) == [(1, "off"), (2, "off"), (2, "on")]
