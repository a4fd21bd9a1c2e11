"""The migration lock: a PostgreSQL session advisory lock on a connection of its own.

Several runners (app replicas, the launcher, a developer's `db migrate`) may start at
once; the lock lets one apply while the others wait, bounded by `lock_wait_s`, and then
find nothing left to do. A session lock on its own connection outlives the migration
transactions, and goes away with the runner's connection if the runner dies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from workspace.db.connect import connection
from workspace.errors import MigrationLockTimeout

__all__ = ["LOCK_KEY", "migration_lock"]

# Two int4 keys: "works" and "migr" as big-endian integers; readable in pg_locks.
LOCK_KEY = (0x776F726B, 0x6D696772)
_HOLDER = b"""
SELECT a.pid, a.application_name, a.usename, coalesce(host(a.client_addr), 'local'),
       a.state, to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'),
       round(extract(epoch FROM now() - a.backend_start))::int
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
  AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
"""


@contextmanager
def migration_lock(url: str, *, wait_s: float, connect_timeout_s: float) -> Iterator[None]:
    with connection(url, timeout_s=connect_timeout_s) as conn:
        conn.execute(f"SET lock_timeout = '{int(wait_s * 1000)}ms'".encode())
        try:
            conn.execute(b"SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
        except psycopg.errors.LockNotAvailable:
            raise MigrationLockTimeout(
                f"another runner held the migration lock for more than {wait_s:g}s: "
                f"{_holder(conn)}") from None
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute(b"SELECT pg_advisory_unlock(%s, %s)", LOCK_KEY)


def _holder(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute(_HOLDER, LOCK_KEY).fetchone()
    if row is None:
        return "(it was released just now; try again)"
    pid, app, user, client, state, since, age = row
    return (f"backend pid {pid}, application {app or '(unnamed)'!r}, user {user}, "
            f"client {client}, {state}, connected since {since} ({age}s ago)")
