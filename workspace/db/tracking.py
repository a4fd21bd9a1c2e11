"""The tracking table (`public.schema_migrations` unless `migrations.table` says
otherwise): its shape, reading and writing rows.

A table of that name left by another tool is recognised by its columns and reported,
never read as ours: dbmate and Rails keep `version varchar` only, golang-migrate
`version bigint, dirty boolean`, the guide's original runner `version text, filename
text, applied_at timestamptz` (db/histories.py; `workspace db adopt` imports them).

Every function takes the table's name, schema-qualified (`TABLE` by default), as the
configuration checked it: lower-case identifiers, so it is written into SQL as it is.
Versions are bigints; a project in Flyway's layout (dotted versions) has a text column.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from workspace.db.histories import of_shape
from workspace.db.plan import AppliedRow
from workspace.errors import TrackingTableInvalid

__all__ = ["CREATE_TABLE", "START_CLOCK", "TABLE", "check_shape", "create_table_sql", "literal",
           "read_rows", "record_sql", "version_sql"]

TABLE = "public.schema_migrations"
TABLE_PATTERN = r"^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$"
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


def create_table_sql(table: str = TABLE, *, text_versions: bool = False) -> bytes:
    """Our table (and its schema), if missing; versions are text for Flyway's layout."""
    sql_text = CREATE_TABLE.decode().replace("public.schema_migrations", table)
    if text_versions:
        sql_text = sql_text.replace("bigint PRIMARY KEY", "text PRIMARY KEY")
    schema = table.partition(".")[0]
    if schema != "public":
        sql_text = f"CREATE SCHEMA IF NOT EXISTS {schema};{sql_text}"
    return sql_text.encode()


def read_rows(conn: psycopg.Connection[Any], table: str = TABLE) -> list[AppliedRow]:
    """Every tracked migration; raises psycopg's UndefinedTable/UndefinedColumn as is,
    so that the one-round-trip fast path can fall back to `check_shape()`."""
    query = SELECT_ROWS if table == TABLE else \
        SELECT_ROWS.replace(b"public.schema_migrations", table.encode())
    return [AppliedRow(*row) for row in conn.execute(query).fetchall()]


def columns_of(conn: psycopg.Connection[Any], table: str) -> set[str]:
    schema, _, name = table.partition(".")
    return {column for (column,) in conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s", (schema, name)).fetchall()}


def check_shape(conn: psycopg.Connection[Any], table: str = TABLE) -> bool:
    """True when our table exists, False when there is none; raise when another's is there."""
    columns = columns_of(conn, table)
    if not columns:
        return False
    if set(COLUMNS) <= columns:
        return True
    history = of_shape(columns)  # another tool's, in our table's place
    owner = "an unknown tool's" if history is None else history.owner
    raise TrackingTableInvalid(
        f"{table} exists but is {owner} tracking table, not workspace's "
        f"(columns: {', '.join(sorted(columns))})",
        remedy="Import its history into workspace's table with `workspace db adopt`, or keep "
               "it for the other tool and give workspace a table of its own "
               "(migrations.table in config.yaml, e.g. workspace.schema_migrations).")


def version_sql(version: int | str) -> str:
    """A version as a literal: a number, or (Flyway's dotted versions) a string."""
    return str(int(version)) if isinstance(version, int) else literal(version)


def record_sql(version: int | str, name: str, checksum: str, applied_by: str,
               execution_ms: float | None = None, *, table: str = TABLE) -> str:
    """The INSERT of one tracking row, values inlined, so it travels in the same round
    trip as the migration's last statement and its COMMIT. The execution time is the
    server's own: from START_CLOCK (sent first in the migration's transaction; now() is
    the same for every transaction of one query string) to this row, unless given (a
    migration that ran outside a transaction measures its own). Plain string building:
    it runs once per migration, and psycopg.sql composition cost more than the rest."""
    elapsed = (f"1000 * (extract(epoch FROM clock_timestamp()) - coalesce(nullif("
               f"current_setting('{_CLOCK}', true), '')::numeric, extract(epoch FROM now())))"
               if execution_ms is None else repr(round(float(execution_ms), 3)))
    return (f"INSERT INTO {table} "
            "(version, name, checksum, execution_ms, applied_by) "
            f"VALUES ({version_sql(version)}, {literal(name)}, {literal(checksum)}, {elapsed}, "
            f"current_user || ' via ' || {literal(applied_by)})")


def literal(text: str) -> str:
    """A string literal that reads the same whatever standard_conforming_strings is (a
    migration may turn it off): E'' with quotes and backslashes doubled."""
    if "\x00" in text:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def repair_sql(version: int | str, name: str, checksum: str, repaired_by: str,
               table: str = TABLE) -> sql.Composed:
    return sql.SQL(
        "UPDATE {} SET previous_checksum = checksum, checksum = {}, "
        "name = {}, repaired_at = now(), repaired_by = current_user || ' via ' || {} "
        "WHERE version = {}"
    ).format(sql.Identifier(*table.split(".")), sql.Literal(checksum), sql.Literal(name),
             sql.Literal(repaired_by), sql.Literal(version))
