"""The migration runner: the one code path that the CLI, `workspace start` and the apps'
startup hook all use (the guide's single source of truth).

    result = migrate(url, find_migrations(Path("migrations")), RunnerSettings())

Nothing pending: one query on one connection answers, no lock (the fast path apps take
at every start). Otherwise the runner takes the advisory lock, reads the tracking table
again (another runner may have finished meanwhile) and applies each pending migration
and its tracking row in one transaction:
`BEGIN; SELECT set_config(timeouts); <statements>; RESET ROLE ...; INSERT INTO
schema_migrations ...; RESET ALL; COMMIT`. Up to BATCH_MIGRATIONS such transactions
travel in one round trip (`batch`);
the server stops at the first error, so the ones before it stay committed and the rest
never run. A failure rolls everything of that migration back and names
file:line:column, SQLSTATE, the server's message and the statement.

Each file starts from a fresh session (`connect.RESET_SESSION` ends every file; roles
are reset before its tracking row, which is therefore written as the runner's own user).

Durability: every migration but the run's last commits with `synchronous_commit = off`
(no WAL flush per migration); the last one commits synchronously (`DURABLE_COMMIT`: also
where the server's default is off), which flushes the WAL of all before it, and a run
that stops on an error flushes what it applied before it reports. So a migration and its
tracking row are together at every instant, and a run is durable once it has reported
its end; a server or OS crash during the run can lose only migrations committed in the
last moments (about 3 x wal_writer_delay), which are then simply pending again.

A no-transaction file is recorded only when no index in its scope is INVALID
(`indexcheck`): a concurrent index build that failed half-way is never "applied".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg
from psycopg import pq

from workspace.db import tracking
from workspace.db.batch import batches, recorded_versions, report_recorded
from workspace.db.connect import (
    RESET_ROLES,
    RESET_SESSION,
    connection,
    describe,
    map_psycopg_errors,
)
from workspace.db.files import MigrationFile, check_sql
from workspace.db.lock import holding_lock, migration_lock
from workspace.db.plan import Plan, make_plan
from workspace.db.sqltext import line_col
from workspace.errors import (
    ChecksumMismatch,
    ConfigError,
    MigrationError,
    MigrationIndexInvalid,
    display_path,
)
from workspace.output import redact

if TYPE_CHECKING:
    from workspace.db.sqlparse import Statement

__all__ = ["AppliedNow", "MigrateResult", "RunnerSettings", "migrate", "read_plan"]

STATEMENT_PREVIEW_LINES = 6
# A commit that waits for its WAL flush (and so every commit's before it) even where the
# server's default is off; a stronger default (remote_write, remote_apply) is kept.
DURABLE_COMMIT = ("SELECT set_config('synchronous_commit', 'on', true) "
                  "WHERE current_setting('synchronous_commit') = 'off'")


# Plain classes and a NamedTuple, no dataclasses: defining a dataclass costs about 3M
# instructions, and this module loads at every start of every app (a no-op run's
# budget is a few dozen M above Python's own start-up and psycopg's).


class RunnerSettings(NamedTuple):
    lock_wait_s: float = 60.0
    lock_timeout_s: float = 10.0
    statement_timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    table: str = tracking.TABLE  # migrations.table
    cache_dir: Path | None = None  # parse results kept here (parse_cache); None: not kept


class AppliedNow:
    __slots__ = ("elapsed_ms", "migration")

    def __init__(self, migration: MigrationFile, elapsed_ms: float) -> None:
        self.migration = migration
        self.elapsed_ms = elapsed_ms


class MigrateResult:
    __slots__ = ("applied", "dry_run", "elapsed_ms", "plan")

    def __init__(self, plan: Plan, applied: list[AppliedNow] | None = None,
                 dry_run: bool = False, elapsed_ms: float = 0.0) -> None:
        self.plan = plan  # as found before applying
        self.applied = [] if applied is None else applied
        self.dry_run = dry_run
        # applying, wall clock (the migrations' own times add up to less)
        self.elapsed_ms = elapsed_ms


Reporter = Callable[[str, MigrationFile, float | None], None]  # ("applying"|"applied", m, ms)


def migrate(url: str, migrations: list[MigrationFile], settings: RunnerSettings, *,
            dry_run: bool = False, report: Reporter | None = None) -> MigrateResult:
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn:
        try:
            plan = make_plan(migrations, tracking.read_rows(conn, settings.table))  # one trip
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            plan = None  # no table yet, or someone else's: decided under the lock
        if plan is not None:
            _refuse_modified(plan)
            if plan.up_to_date:
                return MigrateResult(plan, dry_run=dry_run)
        # Every file that may be applied is parsed before anything is written (a file
        # parsed before with the same text: its statements from the cache).
        from workspace.db.parse_cache import ParseCache

        cache = ParseCache.open(settings.cache_dir)
        check_sql(plan.pending if plan is not None else migrations, cache)
        cache.save(migrations)
        if plan is not None and dry_run:
            return MigrateResult(plan, dry_run=True)
        if dry_run:  # read-only: no lock, no table created
            tracking.check_shape(conn, settings.table)
            return MigrateResult(make_plan(migrations, []), dry_run=True)
        # The lock on this connection, unless a file could release it there: a
        # no-transaction one (DISCARD ALL), or one that unlocks advisory locks (a
        # session's unlock outlives its transaction's rollback): then on one of its own.
        lock = holding_lock(conn, wait_s=settings.lock_wait_s) \
            if all(m.transactional and "advisory_unlock" not in m.text.lower()
                   for m in migrations) else \
            migration_lock(url, wait_s=settings.lock_wait_s,
                           connect_timeout_s=settings.connect_timeout_s)
        with lock:
            if not tracking.check_shape(conn, settings.table):
                conn.execute(tracking.create_table_sql(
                    settings.table, text_versions=any(isinstance(m.version, str)
                                                      for m in migrations)))
            plan = make_plan(migrations, tracking.read_rows(conn, settings.table))
            _refuse_modified(plan)
            check_sql(plan.pending, cache)
            cache.save(migrations)
            from workspace.db import roles  # only when there is something to apply

            roles.check_roles(conn, plan.pending)  # before anything is applied
            result = MigrateResult(plan)

            def applied(migration: MigrationFile, elapsed_ms: float) -> None:
                result.applied.append(AppliedNow(migration, elapsed_ms))
                if report:
                    report("applied", migration, elapsed_ms)

            started = time.perf_counter()
            try:
                for batch in batches(plan.pending):
                    for migration in batch:
                        if report:
                            report("applying", migration, None)
                    if batch[0].transactional:
                        _apply_in_transactions(conn, batch, settings, applied,
                                               durable=batch[-1] is plan.pending[-1])
                    else:
                        began = time.perf_counter()
                        _apply_outside_transaction(conn, batch[0], settings)
                        applied(batch[0], (time.perf_counter() - began) * 1000)
            except BaseException:
                if result.applied:
                    _flush(conn, result.applied[-1].migration, settings.table)
                raise
            result.elapsed_ms = (time.perf_counter() - started) * 1000
            return result


def read_plan(url: str, migrations: list[MigrationFile], settings: RunnerSettings) -> Plan:
    """The plan without applying anything (for `db status`); no table is created."""
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn:
        exists = tracking.check_shape(conn, settings.table)
        return make_plan(migrations, tracking.read_rows(conn, settings.table) if exists else [])


def repair(url: str, migrations: list[MigrationFile], settings: RunnerSettings,
           versions: set[str] | None = None) -> list[MigrationFile]:
    """Accept the current content of modified migrations (all, or `versions`) and
    record who did it and the checksum they replaced. Returns what was repaired."""
    with map_psycopg_errors("migrations"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn, \
            migration_lock(url, wait_s=settings.lock_wait_s,
                           connect_timeout_s=settings.connect_timeout_s):
        exists = tracking.check_shape(conn, settings.table)
        plan = make_plan(migrations, tracking.read_rows(conn, settings.table) if exists else [])
        chosen = [m for m, _ in plan.modified if versions is None or _named(m, versions)]
        unchanged = sorted(v for v in versions or set() if not any(_named(m, {v}) for m in chosen))
        if unchanged:  # a typo must not pass as "nothing to repair": nothing is repaired
            changed = ", ".join(str(m.version) for m, _ in plan.modified) or "none"
            raise ConfigError(
                f"db repair: {', '.join(unchanged)}: not an applied migration whose "
                f"file changed (changed: {changed})",
                remedy="Name the versions `workspace db status` shows as modified, or none "
                       "for all of them.")
        with conn.transaction():
            for m in chosen:
                conn.execute(tracking.repair_sql(m.version, m.name, m.checksum, describe(),
                                                 settings.table))
        return chosen


def _named(m: MigrationFile, versions: set[str]) -> bool:
    """Whether `versions` (as typed: `5`, `0005`, `1.1`) names the migration."""
    return any(v.strip() == str(m.version) or (v.strip().isdigit() and isinstance(m.version, int)
                                               and int(v) == m.version) for v in versions)


def _refuse_modified(plan: Plan) -> None:
    if plan.modified:
        raise ChecksumMismatch([display_path(m.path) for m, _ in plan.modified])


def _timeouts(m: MigrationFile, settings: RunnerSettings) -> tuple[str, str]:
    lock = m.directives.lock_timeout or f"{int(settings.lock_timeout_s * 1000)}ms"
    stmt = m.directives.statement_timeout or f"{int(settings.statement_timeout_s * 1000)}ms"
    return lock, stmt


class _Sent:
    """Where one migration sits in a batch's SQL: its start, each statement's start,
    and where its tail (session reset, tracking row, COMMIT) starts."""

    __slots__ = ("head", "migration", "start", "statements", "tail")

    def __init__(self, migration: MigrationFile, start: int, statements: list[int], tail: int,
                 head: str) -> None:
        self.migration, self.start, self.statements = migration, start, statements
        self.tail, self.head = tail, head


def _apply_in_transactions(conn: psycopg.Connection[Any], batch: list[MigrationFile],
                           settings: RunnerSettings, applied: Callable[[MigrationFile, float], None],
                           *, durable: bool) -> None:
    """Each migration of `batch` in a transaction of its own with its session reset and
    tracking row, all sent as one simple-query round trip:
    `BEGIN; SELECT set_config(...); <m1>; RESET ...; INSERT ...; COMMIT; BEGIN; ...`.
    The server runs them in order and stops at the first error: the migrations before it
    are committed (and reported applied), the failing one is rolled back, the rest never
    ran. Only the run's last commit waits for the WAL flush (`durable`). The time of
    each is the server's, from its BEGIN to its tracking row, read back afterwards.
    On failure the server's error position finds the statement; an error without one
    (e.g. "already exists") is located by `_diagnose`."""
    parts: list[str] = []
    sent: list[_Sent] = []
    size = 0
    who = describe()
    for m in batch:
        lock, stmt = _timeouts(m, settings)
        # One statement for the three (set_config(..., true) is SET LOCAL).
        head = (f"BEGIN; SELECT set_config('lock_timeout', '{lock}', true), "
                f"set_config('statement_timeout', '{stmt}', true), {tracking.START_CLOCK};\n")
        start, starts = size, []
        parts.append(head)
        size += len(head)
        for statement in m.statements:
            starts.append(size)
            text = statement.text + "\n;\n"
            parts.append(text)
            size += len(text)
        record = tracking.record_sql(m.version, m.name, m.checksum, who, table=settings.table)
        # The row is written as the runner's own role, while the migration's clock is
        # still set; synchronous_commit after RESET ALL, which would undo it.
        sync = f"{DURABLE_COMMIT}; " if durable and m is batch[-1] else \
            "SET LOCAL synchronous_commit = off; "
        tail = f"{RESET_ROLES}; {record}; RESET ALL; {sync}\nCOMMIT;\n"
        sent.append(_Sent(m, start, starts, size, head))
        parts.append(tail)
        size += len(tail)
    try:
        conn.execute("".join(parts).encode())
    except psycopg.Error as exc:
        _rollback(conn)
        error = exc
    else:
        report_recorded(conn, batch, applied, settings.table)
        return
    position = int(error.diag.statement_position or 0) - 1
    if position >= 0:
        failed = max(i for i, one in enumerate(sent) if one.start <= position)
    else:
        done = recorded_versions(conn, batch, settings.table)
        failed = next((i for i, one in enumerate(sent) if one.migration.version not in done),
                      len(sent) - 1)
    report_recorded(conn, [one.migration for one in sent[:failed]], applied, settings.table)
    one = sent[failed]
    m = one.migration
    if position >= one.tail:
        raise _failure(m, m.statements[-1], error, None, recording=True,
                       table=settings.table) from None
    if position >= 0:
        index = max(i for i, start in enumerate(one.statements) if start <= position)
        raise _failure(m, m.statements[index], error, position - one.statements[index]) from None
    located = _diagnose(conn, m, one.head)
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
    """Statement by statement in autocommit; then, still in the file's session (its
    search_path names what it touched), no INVALID index may be in its scope; then the
    session reset and the tracking row, which commits synchronously (it flushes the
    asynchronous commits before it)."""
    lock, stmt = _timeouts(m, settings)
    conn.execute(f"SET lock_timeout = '{lock}'; SET statement_timeout = '{stmt}'".encode())
    started = time.perf_counter()
    failure = None
    for statement in m.statements:
        try:
            conn.execute(statement.text.encode())
        except psycopg.Error as exc:
            _rollback(conn)
            position = int(exc.diag.statement_position or 0) - 1
            failure = _failure(m, statement, exc, position if position >= 0 else None,
                               in_transaction=False)
            break
    from workspace.db import indexcheck  # only for no-transaction files: import is not free

    try:
        invalid = indexcheck.find_invalid(conn, m)
    except psycopg.Error:
        if failure is None:
            raise
        invalid = []  # e.g. the connection is gone: the statement's failure is the news
    if invalid:
        raise MigrationIndexInvalid(display_path(m.path), invalid,
                                    cause=failure.message if failure else None) from None
    if failure is not None:
        raise failure
    elapsed = (time.perf_counter() - started) * 1000
    record = tracking.record_sql(m.version, m.name, m.checksum, describe(), elapsed,
                                 table=settings.table)
    conn.execute(f"{RESET_SESSION}; BEGIN; {DURABLE_COMMIT}; {record}; COMMIT".encode())


def _flush(conn: psycopg.Connection[Any], last: MigrationFile, table: str) -> None:
    """Make the asynchronous commits of this run durable before a failure is reported: a
    synchronous commit that writes WAL (a no-op update of the last tracking row; a commit
    that wrote nothing would not flush) flushes every WAL record before its own."""
    if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return
    with suppress(psycopg.Error):  # a lost connection: the failure is reported as it is
        conn.execute(f"BEGIN; {RESET_ROLES}; {DURABLE_COMMIT}; "
                     f"UPDATE {table} SET version = version "
                     f"WHERE version = {tracking.version_sql(last.version)}; COMMIT".encode())


def _rollback(conn: psycopg.Connection[Any]) -> None:
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:
        with suppress(psycopg.Error):  # a lost connection has nothing to roll back
            conn.execute(b"ROLLBACK")


def _failure(m: MigrationFile, statement: Statement | None, exc: psycopg.Error,
             position: int | None, *, in_transaction: bool = True,
             recording: bool = False, table: str = tracking.TABLE) -> MigrationError:
    """The error users see: file:line:column, SQLSTATE, the server's words, the statement.
    `position` is the 0-based offset of the error inside the statement, when known."""
    diag = exc.diag
    if statement is None:
        line, col, where = 1, 1, " (the failing statement could not be singled out)"
    else:
        offset = statement.offset + (position or 0)
        line, col = line_col(m.text, offset)
        where = f" (while recording it in {table})" if recording else ""
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

