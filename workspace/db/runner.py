"""The migration runner: the one code path that the CLI, `workspace start` and the apps'
startup hook all use (the guide's single source of truth).

    result = migrate(url, find_migrations(Path("migrations")), RunnerSettings())

Nothing pending: one query on one connection answers, no lock (the fast path apps take
at every start). Otherwise the runner takes the advisory lock, reads the tracking table
again (another runner may have finished meanwhile) and applies each pending migration
and its tracking row in one transaction, sent as one round trip:
`BEGIN; SET LOCAL ...; <statements>; INSERT INTO schema_migrations ...; COMMIT`.
A failure rolls everything of that migration back and names file:line:column,
SQLSTATE, the server's message and the statement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq

from workspace import redact
from workspace.db import roles, tracking
from workspace.db.connect import connection, describe, map_psycopg_errors
from workspace.db.files import MigrationFile, check_sql
from workspace.db.lock import migration_lock
from workspace.db.plan import Plan, make_plan
from workspace.db.sqlparse import Statement, line_col
from workspace.errors import ChecksumMismatch, MigrationError, display_path

__all__ = ["AppliedNow", "MigrateResult", "RunnerSettings", "migrate", "read_plan"]

STATEMENT_PREVIEW_LINES = 6


@dataclass(frozen=True)
class RunnerSettings:
    lock_wait_s: float = 60.0
    lock_timeout_s: float = 10.0
    statement_timeout_s: float = 600.0
    connect_timeout_s: float = 10.0


@dataclass(frozen=True)
class AppliedNow:
    migration: MigrationFile
    elapsed_ms: float


@dataclass
class MigrateResult:
    plan: Plan  # as found before applying
    applied: list[AppliedNow] = field(default_factory=list)
    dry_run: bool = False


Reporter = Callable[[str, MigrationFile, float | None], None]  # ("applying"|"applied", m, ms)


def migrate(url: str, migrations: list[MigrationFile], settings: RunnerSettings, *,
            dry_run: bool = False, report: Reporter | None = None) -> MigrateResult:
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn:
        try:
            plan = make_plan(migrations, tracking.read_rows(conn))  # the one round trip
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            plan = None  # no table yet, or someone else's: decided under the lock
        if plan is not None:
            _refuse_modified(plan)
            if plan.up_to_date:
                return MigrateResult(plan, dry_run=dry_run)
        # Every file that may be applied is parsed before anything is written.
        check_sql(plan.pending if plan is not None else migrations)
        if plan is not None and dry_run:
            return MigrateResult(plan, dry_run=True)
        if dry_run:  # read-only: no lock, no table created
            tracking.check_shape(conn)
            return MigrateResult(make_plan(migrations, []), dry_run=True)
        with migration_lock(url, wait_s=settings.lock_wait_s,
                            connect_timeout_s=settings.connect_timeout_s):
            if not tracking.check_shape(conn):
                conn.execute(tracking.CREATE_TABLE)
            plan = make_plan(migrations, tracking.read_rows(conn))
            _refuse_modified(plan)
            check_sql(plan.pending)
            roles.check_roles(conn, plan.pending)  # before anything is applied
            result = MigrateResult(plan)
            for migration in plan.pending:
                if report:
                    report("applying", migration, None)
                started = time.perf_counter()
                if migration.transactional:
                    _apply_in_transaction(conn, migration, settings)
                else:
                    _apply_outside_transaction(conn, migration, settings)
                elapsed = (time.perf_counter() - started) * 1000
                result.applied.append(AppliedNow(migration, elapsed))
                if report:
                    report("applied", migration, elapsed)
            return result


def read_plan(url: str, migrations: list[MigrationFile], settings: RunnerSettings) -> Plan:
    """The plan without applying anything (for `db status`); no table is created."""
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn:
        exists = tracking.check_shape(conn)
        return make_plan(migrations, tracking.read_rows(conn) if exists else [])


def repair(url: str, migrations: list[MigrationFile], settings: RunnerSettings,
           versions: set[int] | None = None) -> list[MigrationFile]:
    """Accept the current content of modified migrations (all, or `versions`) and
    record who did it and the checksum they replaced. Returns what was repaired."""
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn, \
            migration_lock(url, wait_s=settings.lock_wait_s,
                           connect_timeout_s=settings.connect_timeout_s):
        exists = tracking.check_shape(conn)
        plan = make_plan(migrations, tracking.read_rows(conn) if exists else [])
        chosen = [m for m, _ in plan.modified if versions is None or m.version in versions]
        with conn.transaction():
            for m in chosen:
                conn.execute(tracking.repair_sql(m.version, m.name, m.checksum, describe()))
        return chosen


def _refuse_modified(plan: Plan) -> None:
    if plan.modified:
        raise ChecksumMismatch([display_path(m.path) for m, _ in plan.modified])


def _timeouts(m: MigrationFile, settings: RunnerSettings) -> tuple[str, str]:
    lock = m.directives.lock_timeout or f"{int(settings.lock_timeout_s * 1000)}ms"
    stmt = m.directives.statement_timeout or f"{int(settings.statement_timeout_s * 1000)}ms"
    return lock, stmt


def _apply_in_transaction(conn: psycopg.Connection[Any], m: MigrationFile,
                          settings: RunnerSettings) -> None:
    """The whole migration, its tracking row and COMMIT in one simple-query round trip.
    On failure the server's error position finds the statement; an error without one
    (e.g. "already exists") is located by `_diagnose`."""
    lock, stmt = _timeouts(m, settings)
    head = f"BEGIN; SET LOCAL lock_timeout = '{lock}'; SET LOCAL statement_timeout = '{stmt}';\n"
    record = tracking.record_sql(m.version, m.name, m.checksum, describe()).as_string(conn)
    parts = [head]
    starts = []  # offset of each statement in the batch
    for statement in m.statements:
        starts.append(sum(map(len, parts)))
        parts.append(statement.text + "\n;\n")
    tail_start = sum(map(len, parts))
    batch = "".join(parts) + f"{record};\nCOMMIT"
    try:
        conn.execute(batch.encode())
        return
    except psycopg.Error as exc:
        _rollback(conn)
        error = exc
    position = int(error.diag.statement_position or 0) - 1
    if position >= tail_start:
        raise _failure(m, m.statements[-1], error, None, recording=True) from None
    if position >= 0:
        index = max(i for i, start in enumerate(starts) if start <= position)
        raise _failure(m, m.statements[index], error, position - starts[index]) from None
    located = _diagnose(conn, m, head)
    if located is None:
        raise _failure(m, None, error, None) from None
    raise _failure(m, located[0], located[1], None) from None


def _diagnose(conn: psycopg.Connection[Any], m: MigrationFile,
              head: str) -> tuple[Statement, psycopg.Error] | None:
    """Find the failing statement by running them one by one in a transaction that is
    rolled back whatever happens: safe, because the migration is transactional."""
    try:
        conn.execute(head.encode())
        for statement in m.statements:
            try:
                conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                return statement, exc
        return None
    finally:
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):
                conn.execute(b"ROLLBACK")


def _apply_outside_transaction(conn: psycopg.Connection[Any], m: MigrationFile,
                               settings: RunnerSettings) -> None:
    lock, stmt = _timeouts(m, settings)
    conn.execute(f"SET lock_timeout = '{lock}'; SET statement_timeout = '{stmt}'".encode())
    started = time.perf_counter()
    try:
        for statement in m.statements:
            try:
                conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                _rollback(conn)
                position = int(exc.diag.statement_position or 0) - 1
                raise _failure(m, statement, exc, position if position >= 0 else None,
                               in_transaction=False) from None
        elapsed = (time.perf_counter() - started) * 1000
        conn.execute(tracking.record_sql(m.version, m.name, m.checksum, describe(), elapsed))
    finally:
        if not conn.closed:
            conn.execute(b"RESET lock_timeout; RESET statement_timeout")


def _rollback(conn: psycopg.Connection[Any]) -> None:
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:
        with suppress(psycopg.Error):  # a lost connection has nothing to roll back
            conn.execute(b"ROLLBACK")


def _failure(m: MigrationFile, statement: Statement | None, exc: psycopg.Error,
             position: int | None, *, in_transaction: bool = True,
             recording: bool = False) -> MigrationError:
    """The error users see: file:line:column, SQLSTATE, the server's words, the statement.
    `position` is the 0-based offset of the error inside the statement, when known."""
    diag = exc.diag
    if statement is None:
        line, col, where = 1, 1, " (the failing statement could not be singled out)"
    else:
        offset = statement.offset + (position or 0)
        line, col = line_col(m.text, offset)
        where = " (while recording it in public.schema_migrations)" if recording else ""
    sqlstate = exc.sqlstate or "-----"
    message = (diag.message_primary or str(exc).strip() or type(exc).__name__)
    lines = [f"{display_path(m.path)}:{line}:{col}: migration failed{where}",
             f"  ERROR {sqlstate}: {message}"]
    for label, value in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint)):
        if value:
            lines.append(f"  {label}: {value}")
    if statement is not None and not recording:
        preview = statement.text.splitlines()
        shown = preview[:STATEMENT_PREVIEW_LINES]
        if len(preview) > STATEMENT_PREVIEW_LINES:
            shown.append("...")
        lines.append("  statement: " + "\n             ".join(shown))
    if in_transaction:
        lines.append("  The migration was rolled back and is not recorded.")
    elif statement is not None:
        lines.append(f"  {m.name} runs outside a transaction: the statements before line "
                     f"{statement.line} stay applied, and the migration is not recorded.")
    remedy = None
    if sqlstate == "55P03":
        remedy = ("Another session holds a lock the migration needs: find it in "
                  "pg_stat_activity, or raise the limit with `-- workspace: lock_timeout=60s`.")
    elif sqlstate == "57014":
        remedy = ("The statement ran past statement_timeout: raise it for this file with "
                  "`-- workspace: statement_timeout=30min`, or migrations.statement_timeout_s.")
    elif isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        remedy = "The connection to the database was lost; check the server, then run again."
    return MigrationError(redact.redact("\n".join(lines)), remedy=remedy)

