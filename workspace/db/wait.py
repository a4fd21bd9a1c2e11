"""Waiting for someone else's migrations, for app replicas and init containers that must
not migrate themselves: `workspace db wait` and `workspace.startup.wait_for_migrations`.

    plan = wait_for_migrations(url, find_migrations(Path("migrations")), timeout_s=60)

Returns once nothing is pending and no runner holds the migration lock (the advisory
lock of db/lock.py, seen in pg_locks). It only reads: the tracking table and pg_locks,
no table created, no lock taken. It polls every `poll_s` within `timeout_s`; a database
that is not up yet (refused, starting up: `DatabaseNotUp`) is retried until then; what
waiting cannot fix ends the wait at once, with readiness's error (db/connect.py tells
them apart: a wrong password, a missing database, a malformed URL), as does a modified
migration (no runner will apply anything past it). On timeout: `MigrationsPending`
naming what is pending and who holds the lock, or the last `DatabaseNotUp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from workspace.db import tracking
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.files import MigrationFile
from workspace.db.lock import LOCK_KEY
from workspace.db.plan import Plan, make_plan
from workspace.errors import ChecksumMismatch, DatabaseNotUp, MigrationsPending, display_path
from workspace.waits import MAX_DURATION_S, polling

__all__ = ["Look", "wait_for_migrations"]

POLL_S = 0.25
SHOWN_PENDING = 5

# Who holds the migration lock in this database; read-only, as lock.py's own query.
_HOLDER = b"""
SELECT l.pid, a.application_name, coalesce(host(a.client_addr), 'local'),
       round(extract(epoch FROM now() - a.xact_start))::int
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
  AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
"""


@dataclass(frozen=True)
class Look:
    """One poll: the plan, and who holds the migration lock (None: nobody)."""

    plan: Plan
    holder: str | None

    @property
    def done(self) -> bool:
        return not self.plan.pending and self.holder is None

    def reason(self) -> str:
        """Why we still wait, in a sentence."""
        parts = []
        if self.plan.pending:
            names = [m.name for m in self.plan.pending]
            shown = ", ".join(names[:SHOWN_PENDING]) + (", ..." if len(names) > SHOWN_PENDING
                                                         else "")
            parts.append(f"{len(names)} migration{'s' if len(names) != 1 else ''} pending "
                         f"({shown})")
        if self.holder is not None:
            parts.append(f"the migration lock is held by {self.holder}")
        elif self.plan.pending:
            parts.append("no runner holds the migration lock (nobody is applying them)")
        return "; ".join(parts)


def check_timeout(timeout_s: float, what: str) -> None:
    """ConfigError unless `timeout_s` is a number of seconds from 0 to a day (NaN and inf
    fail too: every wait is bounded). `what` names it: `db wait --timeout`."""
    from workspace.errors import ConfigError

    if not 0 <= timeout_s <= MAX_DURATION_S:
        raise ConfigError(f"{what} {timeout_s:g}: must be a number of seconds from 0 to "
                          f"{MAX_DURATION_S:g} (one day)",
                          remedy="Give a number of seconds, e.g. 60.")


def wait_for_migrations(url: str, migrations: list[MigrationFile], *, timeout_s: float,
                        poll_s: float = POLL_S, connect_timeout_s: float = 5.0,
                        report: Callable[[str], None] | None = None,
                        table: str = tracking.TABLE) -> Plan:
    """Block until the database is migrated by someone else, bounded by `timeout_s`.
    `report` gets each new reason to keep waiting (once per change)."""
    said: str | None = None
    look: Look | None = None
    unreachable: DatabaseNotUp | None = None
    for remaining in polling(timeout_s, interval_s=poll_s):
        try:
            look = look_once(url, migrations,
                             timeout_s=max(1.0, min(connect_timeout_s, remaining)), table=table)
            unreachable = None
        except DatabaseNotUp as exc:  # refused, starting up: retried until the deadline
            look, unreachable = None, exc
        if look is not None and look.done:
            return look.plan
        reason = look.reason() if look is not None else f"database unreachable: {unreachable}"
        if report is not None and reason != said:
            report(reason)
        said = reason
    if unreachable is not None:
        unreachable.message = f"{unreachable.message} (still, after waiting {timeout_s:g}s)"
        raise unreachable
    assert look is not None
    raise MigrationsPending(f"still waiting after {timeout_s:g}s: {look.reason()}",
                            pending=[m.name for m in look.plan.pending], holder=look.holder)


def look_once(url: str, migrations: list[MigrationFile], *, timeout_s: float,
              table: str = tracking.TABLE) -> Look:
    """The plan and the lock's holder, read in one connection; nothing written."""
    with map_psycopg_errors("waiting for migrations"), \
            connection(url, timeout_s=timeout_s) as conn:
        exists = tracking.check_shape(conn, table)
        plan = make_plan(migrations, tracking.read_rows(conn, table) if exists else [])
        if plan.modified:  # no runner applies past a changed file: waiting cannot help
            raise ChecksumMismatch([display_path(m.path) for m, _ in plan.modified])
        return Look(plan, _holder(conn))


def _holder(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(_HOLDER, LOCK_KEY).fetchone()
    if row is None:
        return None
    pid, app, client, running_s = row
    held = f", in a transaction for {running_s}s" if running_s is not None else ""
    return f"backend pid {pid} (application {app or '(not visible)'!r}, client {client}{held})"
