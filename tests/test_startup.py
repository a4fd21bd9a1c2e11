"""The hook apps call at startup: same runner, SKIP_MIGRATIONS honoured loudly."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import query, write
from workspace.db.lock import LOCK_KEY
from workspace.errors import MigrationError, MigrationsPending
from workspace.startup import migrate_on_startup, wait_for_migrations


def test_applies_pending_then_is_a_no_op(project: Path, db_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKIP_MIGRATIONS", raising=False)
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    first = migrate_on_startup(db_url, project_dir=project)
    assert first is not None and [a.migration.name for a in first.applied] == ["0001_a.sql"]
    again = migrate_on_startup(db_url, project_dir=project)
    assert again is not None and again.applied == [] and again.plan.up_to_date


def test_failure_raises_so_the_app_refuses_to_start(project: Path, db_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKIP_MIGRATIONS", raising=False)
    write(project, "0001_a.sql", "CREATE TABLE a (id nosuchtype);")
    with pytest.raises(MigrationError) as info:
        migrate_on_startup(db_url, project_dir=project)
    assert info.value.code == "PRECHECK_MIGRATIONS_FAILED"


def test_skip_migrations_warns_loudly_and_runs_nothing(project: Path, db_url: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SKIP_MIGRATIONS", "1")
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    assert migrate_on_startup(db_url, project_dir=project) is None
    assert "SKIP_MIGRATIONS is set" in capsys.readouterr().err
    assert any(r.levelname == "WARNING" for r in caplog.records)
    assert query(db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_wait_for_migrations_returns_once_up_to_date(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    migrate_on_startup(db_url, project_dir=project)
    plan = wait_for_migrations(db_url, timeout=5, project_dir=project)
    assert [m.name for m, _ in plan.applied] == ["0001_a.sql"]


def test_wait_for_migrations_times_out_naming_what_is_pending(project: Path,
                                                              db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with pytest.raises(MigrationsPending) as info:
        wait_for_migrations(db_url, timeout=0.5, project_dir=project)
    assert info.value.code == "PRECHECK_MIGRATIONS_PENDING" and info.value.exit_code == 25
    assert info.value.pending == ["0001_a.sql"] and info.value.holder is None
    assert query(db_url, "SELECT to_regclass('public.schema_migrations')") == [(None,)]


def test_wait_for_migrations_waits_for_the_lock_holder(project: Path, db_url: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workspace.startup")
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    migrate_on_startup(db_url, project_dir=project)
    done: list[object] = []
    with psycopg.connect(db_url, autocommit=True) as held:
        held.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
        waiter = threading.Thread(target=lambda: done.append(
            wait_for_migrations(db_url, timeout=30, project_dir=project)))
        waiter.start()
        deadline = time.monotonic() + 20
        while not any("migration lock is held" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline and waiter.is_alive()
            time.sleep(0.02)
        assert not done
    waiter.join(30)
    assert len(done) == 1
def test_each_file_starts_from_a_fresh_session_through_the_hook(
        project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKIP_MIGRATIONS", raising=False)
    write(project, "0001_baseline.sql", "SELECT pg_catalog.set_config('search_path', '', false);\n"
                                        "SET client_min_messages = warning;\n"
                                        "CREATE TABLE public.base (id integer);")
    write(project, "0002_t.sql", "CREATE TABLE t (id int);")
    result = migrate_on_startup(db_url, project_dir=project)
    assert result is not None and len(result.applied) == 2
    assert query(db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                         "ORDER BY 1") == [("base",), ("schema_migrations",), ("t",)]


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -5.0, 1e9])
def test_wait_for_migrations_refuses_an_unbounded_timeout(project: Path, db_url: str,
                                                          timeout: float) -> None:
    """Every wait is bounded: inf would wait for ever on a pending migration."""
    from workspace.errors import ConfigError

    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with pytest.raises(ConfigError, match="timeout"):
        wait_for_migrations(db_url, timeout=timeout, project_dir=project)
