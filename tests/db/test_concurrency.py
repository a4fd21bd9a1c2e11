"""Many runners at once, and a runner killed mid-migration, on a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import SHIPPED_MIGRATIONS, query, write
from workspace.deps.embedded import EmbeddedPostgres

RUNNERS = 8
ROUNDS = 3
# Imports happen before the barrier, so every runner reaches the database at once.
AT_THE_SAME_MOMENT = (
    "import sys, time\n"
    "from workspace.cli import main\n"
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
    "sys.exit(main(['db', 'migrate', '--database-url', sys.argv[2]]))\n"
)

# Imports happen first; the runner starts when the test writes a line to its stdin.
ON_A_LINE = (
    "import sys\n"
    "from workspace.cli import build_parser, main\n"
    "import workspace.db.runner, workspace.config.models, pglast.parser\n"
    "build_parser()\n"
    "sys.stdin.readline()\n"
    "sys.exit(main(['db', 'migrate', '--database-url', sys.argv[1]]))\n"
)


def fresh_database(server: EmbeddedPostgres, admin_url: str) -> str:
    name = f"c_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


def test_eight_runners_on_one_fresh_database_apply_each_migration_once(
        tmp_path: Path, pg_server: EmbeddedPostgres, admin_url: str) -> None:
    shutil.copytree(SHIPPED_MIGRATIONS, tmp_path / "migrations")
    # Not idempotent on purpose: a second application would add a second row.
    write(tmp_path, "0005_ledger.sql", "CREATE TABLE IF NOT EXISTS kb.ledger (n int);\n"
                                       "INSERT INTO kb.ledger VALUES (1);")
    for _ in range(ROUNDS):
        url = fresh_database(pg_server, admin_url)
        start_at = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", AT_THE_SAME_MOMENT, str(start_at), url],
                                  cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(RUNNERS)]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * RUNNERS, outputs
        stdout = "".join(out for out, _ in outputs)
        for name in ("0001_init.sql", "0002_populate_materialized_views.sql",
                     "0004_auth_introspection_cache.sql", "0005_ledger.sql"):
            assert stdout.count(f"Applied: {name} ") == 1, stdout
        assert stdout.count("All migrations up to date") == RUNNERS - 1
        assert query(url, "SELECT version FROM schema_migrations ORDER BY 1") == [
            (1,), (2,), (4,), (5,)]
        assert query(url, "SELECT count(*) FROM kb.ledger") == [(1,)]


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_runner_killed_mid_migration_leaves_schema_and_tracking_consistent(
        project: Path, db_url: str) -> None:
    write(project, "0001_first.sql", "CREATE TABLE first (id int);")
    slow = write(project, "0002_slow.sql", "CREATE TABLE half_done (id int);\n"
                                           "INSERT INTO half_done VALUES (1);\n"
                                           "SELECT pg_sleep(60);\n"
                                           "CREATE TABLE never (id int);")
    proc = subprocess.Popen([sys.executable, "-m", "workspace", "db", "migrate",
                             "--database-url", db_url], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Not by query text: several migrations travel in one query string, and
    # pg_stat_activity keeps only its first track_activity_query_size bytes.
    sleeping = ("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND datname = current_database() AND wait_event = 'PgSleep'")
    try:
        wait_for(lambda: query(db_url, sleeping)[0][0] == 1, 30, "the runner to reach pg_sleep")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The server notices the dead client within client_connection_check_interval (1s).
    wait_for(lambda: query(db_url, sleeping)[0][0] == 0, 15, "the killed backend to end")
    public = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    assert query(db_url, public) == [("first",), ("schema_migrations",)]
    assert query(db_url, "SELECT version FROM schema_migrations") == [(1,)]
    slow.write_text(slow.read_text().replace("pg_sleep(60)", "pg_sleep(0)"))
    again = subprocess.run([sys.executable, "-m", "workspace", "db", "migrate",
                            "--database-url", db_url], cwd=project, capture_output=True,
                           text=True, timeout=60,
                           env={**os.environ, "WORKSPACE_MIGRATIONS__LOCK_WAIT_S": "5"})
    assert again.returncode == 0, again.stderr
    assert query(db_url, public) == [("first",), ("half_done",), ("never",),
                                     ("schema_migrations",)]
    assert query(db_url, "SELECT count(*) FROM half_done") == [(1,)]


def test_eight_runners_while_one_builds_an_index_concurrently(
        project: Path, db_url: str) -> None:
    """The issue's race: runners waiting for the lock must not hold a snapshot, or the
    concurrent index build waits for them until lock_timeout and is left INVALID."""
    query(db_url, "CREATE TABLE big AS SELECT g AS id, g % 997 AS v "
                  "FROM generate_series(1, 1000000) g")
    write(project, "0001_big_v.sql", "-- workspace: no-transaction\n"
                                     "CREATE INDEX CONCURRENTLY IF NOT EXISTS big_v ON big (v);")
    env = {**os.environ, "WORKSPACE_MIGRATIONS__LOCK_TIMEOUT_S": "4",
           "WORKSPACE_MIGRATIONS__LOCK_WAIT_S": "25"}
    procs = [subprocess.Popen([sys.executable, "-c", ON_A_LINE, db_url], cwd=project, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(RUNNERS)]
    building = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE 'CREATE INDEX CONCURRENTLY%%'")
    # An app keeps writing meanwhile, so transaction ids move on: every snapshot a
    # waiting runner holds is older than the build's last phase, which waits for it.
    query(db_url, "CREATE TABLE app_writes (at timestamptz DEFAULT now())")
    stop = threading.Event()

    def app() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not stop.wait(0.01):
                conn.execute("INSERT INTO app_writes DEFAULT VALUES")

    writer = threading.Thread(target=app)
    writer.start()
    try:
        first, *others = procs
        first.stdin.write("go\n")  # type: ignore[union-attr]
        first.stdin.flush()  # type: ignore[union-attr]
        wait_for(lambda: query(db_url, building)[0][0] == 1, 20, "the index build to start")
        for p in others:  # they arrive while the index is being built
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        stop.set()
        writer.join(timeout=10)
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * RUNNERS, outputs
    stdout = "".join(out for out, _ in outputs)
    assert outputs[0][0].count("Applied: 0001_big_v.sql ") == 1, outputs[0]
    assert stdout.count("All migrations up to date") == RUNNERS - 1, stdout
    assert query(db_url, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c "
                         "ON c.oid = i.indexrelid WHERE c.relname = 'big_v'") == [(True,)]
    assert query(db_url, "SELECT version FROM schema_migrations") == [(1,)]
