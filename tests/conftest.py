"""Shared fixtures: one real embedded PostgreSQL per test session, a fresh database per test.

Database tests never skip: when the server cannot start, they fail.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.debian import ensure_package
from workspace.deps.embedded import EmbeddedPostgres
from workspace.deps.pg_extensions import FETCHED
from workspace.supervisor.watchdog import Watchdog

pytest_plugins = ["tests.docker_fixture", "tests.deps.oidc_fixture", "tests.browser", "tests.stack"]

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MIGRATIONS = REPO / "migrations"


def shipped_precheck() -> str:
    """The shipped config.yaml's `precheck:` section (the guide's critical tables and
    functions, the extensions docker/init.sql creates), as YAML: defaults have none."""
    import yaml

    section = yaml.safe_load((REPO / "config.yaml").read_text())["precheck"]
    return str(yaml.safe_dump({"precheck": section}))


SHIPPED_EXTENSIONS = ("vector", "pgcrypto")  # the shipped config.yaml's required_extensions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's basetemp: a second pytest session (another terminal, a helper)
    # rotates old basetemps away and would pull the data directory from under the server.
    ensure_package("libossp-uuid16", lambda: ctypes.util.find_library("ossp-uuid") is not None,
                   "uuid-ossp (fetched for the tests' server) links to libossp-uuid.so.16")
    root = Path(tempfile.mkdtemp(prefix="workspace-tests-pg-"))
    server = EmbeddedPostgres(root / "data", port=free_port(), database="postgres",
                              available=FETCHED)  # pgcrypto, uuid-ossp too
    watched = None
    try:
        server.start()
        watched = watch_server(server)
        yield server
    finally:
        server.stop()
        if watched is not None:
            dog, pid = watched
            dog.remove(pid)  # stopped: its id may be reused, never signal it
            dog.close()
        shutil.rmtree(root, ignore_errors=True)


def watch_server(server: EmbeddedPostgres, grace_s: float = 5.0) -> tuple[Watchdog, int]:
    """The server stops when this process dies, however it dies (a killed pytest left its
    session's server running): the supervisor's watchdog holds the postmaster's group
    (pg_ctl makes it a session leader) and signals it on EOF. Returns the watchdog and
    the group, to be removed from it once the server is stopped."""
    pid, _ = server._postmaster()
    assert pid is not None and os.getpgid(pid) == pid, "the postmaster leads its group"
    dog = Watchdog.start(grace_s=grace_s)
    dog.add(pid)
    return dog, pid


@pytest.fixture(scope="session")
def admin_url(pg_server: EmbeddedPostgres) -> str:
    return pg_server.url("postgres")


@pytest.fixture
def db_url(pg_server: EmbeddedPostgres, admin_url: str) -> Iterator[str]:
    """A fresh, empty database (with pgvector available) for this test alone."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_server.url(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def app_db_url(db_url: str) -> str:
    """`db_url` as the environment hands a database to the app: the shipped config.yaml's
    `precheck.required_extensions` created in it (the embedded server and docker/init.sql
    do that; no shipped migration creates pgcrypto)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in SHIPPED_EXTENSIONS:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
    return db_url


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside pytest's basetemp, for a test's own embedded cluster: another
    pytest session resets basetemp's permissions, and the server's system user would lose
    its way in (see pg_server)."""
    root = Path(tempfile.mkdtemp(prefix="workspace-tests-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory with an empty migrations/ folder."""
    (tmp_path / "migrations").mkdir()
    return tmp_path


@pytest.fixture
def shipped_project(tmp_path: Path) -> Path:
    """A project holding a copy of the shipped migrations, and the shipped config.yaml's
    precheck section (the guide's critical tables and functions)."""
    shutil.copytree(SHIPPED_MIGRATIONS, tmp_path / "migrations")
    (tmp_path / "config.yaml").write_text(shipped_precheck())
    return tmp_path


def run_cli(project: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `workspace` command in `project`, as a user would."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-P", "-m", "workspace", *args], cwd=project,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def query(url: str, text: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(text.encode(), params or None)
        return cur.fetchall() if cur.description else []


def write(project: Path, name: str, content: str | bytes) -> Path:
    path = project / "migrations" / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path
