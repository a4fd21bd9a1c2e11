"""The migration lock: a PostgreSQL session advisory lock, on the runner's own connection
(`holding_lock`) or, when a file could release it there, on a connection of its own
(`migration_lock`).

Several runners (app replicas, the launcher, a developer's `db migrate`) may start at
once; the lock lets one apply while the others wait, bounded by `lock_wait_s`, and then
find nothing left to do. A session lock on its own connection outlives the migration
transactions, and goes away with the runner's connection if the runner dies.

A waiter polls `pg_try_advisory_lock` in autocommit with short sleeps rather than
blocking in `pg_advisory_lock`: a blocked statement keeps its snapshot (backend_xmin)
for the whole wait, and `CREATE INDEX CONCURRENTLY` in the holder's migration waits for
every older snapshot of the database, so the two would wait on each other until the
build failed on lock_timeout and left an INVALID index. A poll holds a snapshot only
for the instant it runs; between polls the waiter's backend is idle and holds none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import pq

from workspace.db.connect import connection
from workspace.errors import MigrationLockTimeout
from workspace.waits import polling

__all__ = ["LOCK_KEY", "holding_lock", "migration_lock"]

log = logging.getLogger("workspace.db.lock")

# Two int4 keys: "works" and "migr" as big-endian integers; readable in pg_locks.
LOCK_KEY = (0x776F726B, 0x6D696772)
FIRST_POLL_S = 0.01  # doubled after each miss, up to MAX_POLL_S
MAX_POLL_S = 0.1
_TRY = b"SELECT pg_try_advisory_lock(%s, %s)"
_UNLOCK = b"SELECT pg_advisory_unlock(%s, %s)"
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
    """The lock, on a connection of its own: nothing the holder's statements do on its
    other connections (`DISCARD ALL` in a no-transaction file) can release it."""
    with connection(url, timeout_s=connect_timeout_s) as conn:
        _acquire(conn, wait_s)
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute(_UNLOCK, LOCK_KEY)


@contextmanager
def holding_lock(conn: psycopg.Connection[Any], *, wait_s: float) -> Iterator[None]:
    """The lock, on `conn` (autocommit, idle), the connection that then applies
    transactional migrations: one connection (and authentication) less than
    `migration_lock`. A migration in a transaction cannot `DISCARD ALL`; the lock goes
    with the session if the connection is lost or closed in a failed state."""
    _acquire(conn, wait_s)
    try:
        yield
    finally:
        if not conn.closed and conn.info.transaction_status == pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):  # else closing the connection releases it
                conn.execute(_UNLOCK, LOCK_KEY)


def _acquire(conn: psycopg.Connection[Any], wait_s: float) -> None:
    """Poll until the lock is ours, for at most `wait_s`; then name who holds it."""
    for attempt, _ in enumerate(polling(wait_s, interval_s=FIRST_POLL_S, backoff=2,
                                        max_interval_s=MAX_POLL_S)):
        if _try(conn):
            return
        if attempt == 0 and wait_s > 0:  # the first miss only: say whom we wait for
            log.info("waiting up to %gs for the migration lock, held by %s", wait_s,
                     _holder(conn))
    raise MigrationLockTimeout(
        f"another runner held the migration lock for more than {wait_s:g}s: "
        f"{_holder(conn)}")


def _try(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(_TRY, LOCK_KEY).fetchone()
    return bool(row and row[0])


def _holder(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute(_HOLDER, LOCK_KEY).fetchone()
    if row is None:
        return "(it was released just now; try again)"
    pid, app, user, client, state, since, age = row
    return (f"backend pid {pid}, application {app or '(unnamed)'!r}, user {user}, "
            f"client {client}, {state}, connected since {since} ({age}s ago)")
