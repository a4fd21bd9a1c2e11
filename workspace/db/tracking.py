"""The tracking table `public.schema_migrations`: its shape, reading and writing rows.

A table of that name left by another tool is recognised by its columns and reported,
never read as ours: dbmate and Rails keep `version varchar` only, golang-migrate
`version bigint, dirty boolean`.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from workspace.db.plan import AppliedRow
from workspace.errors import TrackingTableInvalid

__all__ = ["CREATE_TABLE", "START_CLOCK", "TABLE", "check_shape", "literal", "read_rows",
           "record_sql"]

TABLE = "public.schema_migrations"
COLUMNS = ("version", "name", "checksum", "applied_at", "execution_ms", "applied_by")
SELECT_ROWS = (b"SELECT version, name, checksum, applied_at, execution_ms, applied_by, "
               b"repaired_at FROM public.schema_migrations ORDER BY version")
CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version           bigint PRIMARY KEY,
    name              text NOT NULL,
    checksum          text NOT NULL,
    applied_at        timestamptz NOT NULL DEFAULT now(),
    execution_ms      double precision NOT NULL,
    applied_by        text NOT NULL,
    repaired_at       timestamptz,
    repaired_by       text,
    previous_checksum text
)"""
_CLOCK = "workspace.migration_started"
# In a migration's transaction, first: when it started (epoch seconds, as text: no
# DateStyle in the way), for record_sql's execution time. A select list item, so the
# runner sets its timeouts in the same statement.
START_CLOCK = (f"set_config('{_CLOCK}', extract(epoch FROM clock_timestamp())::text, "
               "true)")
_FOREIGN_SHAPES = {
    frozenset({"version"}): "dbmate's or Rails' (a single version column)",
    frozenset({"version", "dirty"}): "golang-migrate's (version, dirty)",
}


def read_rows(conn: psycopg.Connection[Any]) -> list[AppliedRow]:
    """Every tracked migration; raises psycopg's UndefinedTable/UndefinedColumn as is,
    so that the one-round-trip fast path can fall back to `check_shape()`."""
    return [AppliedRow(*row) for row in conn.execute(SELECT_ROWS).fetchall()]


def check_shape(conn: psycopg.Connection[Any]) -> bool:
    """True when our table exists, False when there is none; raise when another's is there."""
    columns = {name for (name,) in conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'schema_migrations'").fetchall()}
    if not columns:
        return False
    if set(COLUMNS) <= columns:
        return True
    owner = _FOREIGN_SHAPES.get(frozenset(columns), "an unknown tool's")
    raise TrackingTableInvalid(
        f"{TABLE} exists but is {owner} tracking table, not workspace's "
        f"(columns: {', '.join(sorted(columns))})")


def record_sql(version: int, name: str, checksum: str, applied_by: str,
               execution_ms: float | None = None) -> str:
    """The INSERT of one tracking row, values inlined, so it travels in the same round
    trip as the migration's last statement and its COMMIT. The execution time is the
    server's own: from START_CLOCK (sent first in the migration's transaction; now() is
    the same for every transaction of one query string) to this row, unless given (a
    migration that ran outside a transaction measures its own). Plain string building:
    it runs once per migration, and psycopg.sql composition cost more than the rest."""
    elapsed = (f"1000 * (extract(epoch FROM clock_timestamp()) - coalesce(nullif("
               f"current_setting('{_CLOCK}', true), '')::numeric, extract(epoch FROM now())))"
               if execution_ms is None else repr(round(float(execution_ms), 3)))
    return ("INSERT INTO public.schema_migrations "
            "(version, name, checksum, execution_ms, applied_by) "
            f"VALUES ({int(version)}, {literal(name)}, {literal(checksum)}, {elapsed}, "
            f"current_user || ' via ' || {literal(applied_by)})")


def literal(text: str) -> str:
    """A string literal that reads the same whatever standard_conforming_strings is (a
    migration may turn it off): E'' with quotes and backslashes doubled."""
    if "\x00" in text:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def repair_sql(version: int, name: str, checksum: str, repaired_by: str) -> sql.Composed:
    return sql.SQL(
        "UPDATE public.schema_migrations SET previous_checksum = checksum, checksum = {}, "
        "name = {}, repaired_at = now(), repaired_by = current_user || ' via ' || {} "
        "WHERE version = {}"
    ).format(sql.Literal(checksum), sql.Literal(name), sql.Literal(repaired_by),
             sql.Literal(version))
