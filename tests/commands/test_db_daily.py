"""`workspace db psql | url | reset` on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, query, run_cli, write
from workspace.errors import ToolMissing
from workspace.psql import find_psql


def test_psql_runs_on_the_database_with_the_password_only_in_its_environment(
        project: Path, db_url: str, tmp_path: Path) -> None:
    spy = tmp_path / "bin"
    spy.mkdir()
    (spy / "psql").write_text(  # a psql that tells what it was given
        "#!/bin/sh\necho \"argv: $*\"\necho \"password set: ${PGPASSWORD:+yes}\"\n"
        "echo \"to: $PGHOST:$PGPORT/$PGDATABASE as $PGUSER\"\n")
    (spy / "psql").chmod(0o755)
    password = db_url.split("@")[0].rsplit(":", 1)[1]
    out = run_cli(project, "db", "psql", "--database-url", db_url, "--", "-c", "SELECT 1",
                  env={"PATH": f"{spy}:{os.environ['PATH']}", "PGPASSWORD": "stale"})
    assert out.returncode == 0, out.stderr
    assert "argv: -c SELECT 1" in out.stdout and "password set: yes" in out.stdout
    assert password not in out.stdout  # never on its command line
    host_port_db = db_url.split("@")[1]
    assert f"to: {host_port_db} as postgres" in out.stdout


def test_psql_from_the_embedded_package_when_none_is_on_path(project: Path,
                                                              db_url: str) -> None:
    query(db_url, "CREATE TABLE answer (v int); INSERT INTO answer VALUES (42)")
    out = run_cli(project, "db", "psql", "--database-url", db_url, "--", "-tAc",
                  "SELECT v FROM answer", env={"PATH": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_no_psql_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing) as info:
        find_psql(path=str(tmp_path), bundled=tmp_path / "nowhere")
    assert info.value.code == "PRECHECK_TOOL_MISSING" and info.value.exit_code == 34
    assert "psql is not installed" in info.value.message


def test_url_is_masked_unless_asked(project: Path, db_url: str) -> None:
    password = db_url.split("@")[0].rsplit(":", 1)[1]
    out = run_cli(project, "db", "url", env={"DATABASE_URL": db_url})
    assert out.returncode == 0 and out.stdout.strip() == db_url.replace(password, "********")
    shown = run_cli(project, "db", "url", "--show-password", env={"DATABASE_URL": db_url})
    assert shown.stdout.strip() == db_url
    assert json.loads(run_cli(project, "db", "url", "--json", "--show-password",
                              env={"DATABASE_URL": db_url}).stdout)["url"] == db_url


def test_reset_refuses_a_database_it_was_given(project: Path, db_url: str) -> None:
    write(project, "0001_t.sql", "CREATE TABLE IF NOT EXISTS t (v int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    query(db_url, "INSERT INTO t VALUES (1)")
    out = run_cli(project, "db", "reset", "--yes", env={"DATABASE_URL": db_url})
    assert out.returncode == 35, out.stdout + out.stderr
    assert "PRECHECK_DATABASE_NOT_OURS" in out.stderr and "not one it created" in out.stderr
    assert query(db_url, "SELECT v FROM t") == [(1,)]


@pytest.fixture
def embedded_project(outside_tmp: Path):  # type: ignore[no-untyped-def]
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "config.yaml").write_text(f"embedded:\n  port: {free_port()}\n")
    write(outside_tmp, "0001_t.sql", "CREATE TABLE IF NOT EXISTS t (v int);")
    yield outside_tmp
    run_cli(outside_tmp, "db", "server", "stop", timeout=60)


def test_reset_drops_recreates_and_migrates_the_embedded_database(embedded_project: Path) -> None:
    root = embedded_project
    assert run_cli(root, "db", "migrate").returncode == 0
    url = run_cli(root, "db", "url", "--show-password").stdout.strip()
    query(url, "INSERT INTO t VALUES (1)")

    refused = run_cli(root, "db", "reset")  # not a terminal: it cannot ask
    assert refused.returncode == 3 and "--yes" in refused.stderr
    assert asked(root, "n\n").returncode == 1
    assert query(url, "SELECT count(*) FROM t") == [(1,)]

    answered = asked(root, "y\n")
    assert answered.returncode == 0, answered.stdout
    assert "1 migration applied" in answered.stdout
    assert query(url, "SELECT count(*) FROM t") == [(0,)]
    assert query(url, "SELECT version FROM schema_migrations") == [(1,)]
    out = run_cli(root, "db", "reset", "--yes")
    assert out.returncode == 0 and "dropped and created again" in out.stdout, out.stderr


def asked(root: Path, answer: str) -> subprocess.CompletedProcess[str]:
    """`db reset` with a terminal on stdin, answering `answer`."""
    main, tty = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    try:
        os.write(main, answer.encode())
        return subprocess.run([sys.executable, "-m", "workspace", "db", "reset"], cwd=root,
                              stdin=tty, capture_output=True, text=True, env=env, timeout=120)
    finally:
        os.close(tty)
        os.close(main)
