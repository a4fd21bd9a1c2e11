"""Round trips of the runner: which pending migrations travel together, and what a batch
recorded.

Consecutive transactional migrations go up to BATCH_MIGRATIONS (or BATCH_CHARS of SQL)
per simple-query round trip, each in its own transaction with its tracking row: the
server runs them in order and stops at the first error. A no-transaction migration
travels alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import psycopg

from workspace.db import tracking
from workspace.db.files import MigrationFile

__all__ = ["BATCH_CHARS", "BATCH_MIGRATIONS", "batches", "recorded_versions",
           "report_recorded"]

BATCH_MIGRATIONS = 50
BATCH_CHARS = 1_000_000


def batches(pending: list[MigrationFile]) -> Iterator[list[MigrationFile]]:
    """Consecutive transactional migrations, up to BATCH_MIGRATIONS or BATCH_CHARS of SQL
    a round trip; a no-transaction migration alone."""
    batch: list[MigrationFile] = []
    size = 0
    for m in pending:
        if batch and (not m.transactional or len(batch) >= BATCH_MIGRATIONS
                      or size + len(m.text) > BATCH_CHARS):
            yield batch
            batch, size = [], 0
        if not m.transactional:
            yield [m]
            continue
        batch.append(m)
        size += len(m.text)
    if batch:
        yield batch


def recorded_versions(conn: psycopg.Connection[Any], batch: list[MigrationFile],
                      table: str = tracking.TABLE) -> set[int | str]:
    """Which of `batch` have their tracking row (after a failure, the ones before it)."""
    versions = ",".join(tracking.version_sql(m.version) for m in batch)
    try:
        rows = conn.execute(f"SELECT version FROM {table} "
                            f"WHERE version IN ({versions})".encode()).fetchall()
    except psycopg.Error:
        return set()  # the connection is gone: the failure is reported on the first
    return {v for (v,) in rows}


def report_recorded(conn: psycopg.Connection[Any], migrations: list[MigrationFile],
                    applied: Callable[[MigrationFile, float], None],
                    table: str = tracking.TABLE) -> None:
    """Report `migrations` (committed: a whole batch, or those of a failed batch before
    the failure) as applied, with the times their tracking rows hold."""
    if not migrations:
        return
    versions = ",".join(tracking.version_sql(m.version) for m in migrations)
    times: dict[int | str, float] = {}
    with suppress(psycopg.Error):
        times = {v: float(ms) for v, ms in conn.execute(
            f"SELECT version, execution_ms FROM {table} "
            f"WHERE version IN ({versions})".encode()).fetchall()}
    for m in migrations:
        applied(m, times.get(m.version, 0.0))
