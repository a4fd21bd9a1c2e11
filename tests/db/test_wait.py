"""`workspace db wait`: for replicas and init containers that must not migrate themselves."""

from __future__ import annotations

import os
import socket
import socketserver
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.conftest import free_port, run_cli, write
from tests.lines import LineProcess
from workspace.db.lock import LOCK_KEY
from workspace.deps.embedded import EmbeddedPostgres


def _waiter(project: Path, url: str, timeout_s: float = 60) -> LineProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SKIP_MIGRATIONS")}
    return LineProcess("db wait", [sys.executable, "-m", "workspace", "db", "wait",
                                   "--timeout", str(timeout_s), "--database-url", url],
                       cwd=project, env=env)


def test_returns_at_once_when_up_to_date(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    out = run_cli(project, "db", "wait", "--timeout", "5", "--database-url", db_url)
    assert out.returncode == 0, out.stderr
    assert "All migrations up to date" in out.stdout and "Waiting" not in out.stdout


def test_waits_while_a_runner_holds_the_migration_lock(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    held = psycopg.connect(db_url, autocommit=True, application_name="the other runner")
    held.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
    waiter = _waiter(project, db_url)
    try:
        line = waiter.wait_for("Waiting:")
        assert "the migration lock is held by backend pid" in line
        assert "'the other runner'" in line
        assert waiter.proc.poll() is None  # still waiting, while the lock is held
        held.close()  # the lock goes with its connection
        assert waiter.wait(30) == 0, waiter.output
        assert "All migrations up to date" in waiter.output
    finally:
        held.close()
        waiter.stop()


def test_times_out_naming_the_pending_file_when_nobody_migrates(project: Path,
                                                                db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    out = run_cli(project, "db", "wait", "--timeout", "1", "--database-url", db_url)
    assert out.returncode == 25, out.stdout + out.stderr
    assert "PRECHECK_MIGRATIONS_PENDING" in out.stderr and "Traceback" not in out.stderr
    assert "1 migration pending (0001_a.sql)" in out.stderr
    assert "no runner holds the migration lock" in out.stderr


class _Forwarder:
    """A server that is not up yet: nothing listens on `port` until `start()`, then each
    connection there is forwarded to `target` (the real server)."""

    def __init__(self, target: int) -> None:
        self.port, self.target = free_port(), target
        self._server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> None:
        target = self.target

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(("127.0.0.1", target)) as upstream:
                    pump = threading.Thread(target=_copy, args=(upstream, self.request),
                                            daemon=True)
                    pump.start()
                    _copy(self.request, upstream)
                    pump.join(10)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_retries_a_database_not_up_yet_until_it_is_migrated(
        project: Path, pg_server: EmbeddedPostgres, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    server = _Forwarder(pg_server.port)
    url = db_url.replace(f":{pg_server.port}/", f":{server.port}/")
    waiter = _waiter(project, url)
    try:
        assert "database unreachable" in waiter.wait_for("Waiting:")  # refused: not up yet
        server.start()
        waiter.wait_for("migration pending")  # up, but not migrated yet
        assert waiter.proc.poll() is None
        assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
        assert waiter.wait(30) == 0, waiter.output
    finally:
        waiter.stop()
        server.stop()


@pytest.mark.parametrize("problem", ["wrong password", "no such database"])
def test_a_refused_login_ends_the_wait_at_once_as_readiness_does(
        project: Path, pg_server: EmbeddedPostgres, db_url: str, problem: str) -> None:
    """Waiting cannot fix a wrong password (28P01) or a missing database (3D000): the
    error and exit code are readiness's (db/connect.py's), not a wait of --timeout."""
    from workspace.deps.readiness import database_probe
    from workspace.errors import DatabaseUnreachable

    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    info = conninfo_to_dict(db_url)
    if problem == "wrong password":
        info["password"] = "not-the-password"
    else:
        info["dbname"] = f"t_{uuid.uuid4().hex[:12]}"
    url = make_conninfo("", **info)
    out = run_cli(project, "db", "wait", "--timeout", "600", "--database-url", url, timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "PRECHECK_DATABASE_UNREACHABLE" in out.stderr and "after waiting" not in out.stderr
    assert "not-the-password" not in out.stdout + out.stderr
    with pytest.raises(DatabaseUnreachable) as readiness:
        database_probe(url, [])()
    assert readiness.value.message.split(": ", 1)[1] in out.stderr  # the same sentence


def test_a_database_never_reachable_ends_unreachable(project: Path) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    out = run_cli(project, "db", "wait", "--timeout", "1",
                  "--database-url", "postgresql://app:secret-pw@127.0.0.1:9/app")
    assert out.returncode == 4, out.stderr
    assert "PRECHECK_DATABASE_UNREACHABLE" in out.stderr and "after waiting 1s" in out.stderr
    assert "secret-pw" not in out.stdout + out.stderr


def test_a_modified_migration_ends_the_wait_at_once(project: Path, db_url: str) -> None:
    """No runner applies past a changed file: waiting could only time out."""
    a = write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    a.write_text("CREATE TABLE a (id bigint);")
    write(project, "0002_b.sql", "CREATE TABLE b (id int);")
    out = run_cli(project, "db", "wait", "--timeout", "60", "--database-url", db_url, timeout=30)
    assert out.returncode == 8, out.stderr
    assert "PRECHECK_MIGRATION_CHECKSUM_MISMATCH" in out.stderr and "0001_a.sql" in out.stderr


@pytest.mark.parametrize("timeout", ["inf", "nan", "-5", "1e9"])
def test_a_timeout_that_is_not_a_bounded_number_of_seconds_is_exit_3(project: Path,
                                                                     timeout: str) -> None:
    # --timeout inf waited for ever on a pending migration; every wait is bounded
    out = run_cli(project, "db", "wait", "--timeout", timeout,
                  "--database-url", "postgresql://app@127.0.0.1:1/app", timeout=30)
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"db wait --timeout {float(timeout):g}: must be a number of seconds from 0 to 86400" \
        in out.stderr
