"""Adopting another runner's history into workspace's tracking table, and baselines.

    result = adopt(url, files, settings, layout="numbered", source="auto")
    result = baseline(url, files, settings, layout="numbered", version="3")

`adopt` reads what another runner recorded: the guide's original runner
(`public.schema_migrations (version text, filename text, applied_at timestamptz)`),
dbmate (`schema_migrations (version varchar)`), golang-migrate (`schema_migrations
(version bigint, dirty boolean)`: the one version is the last applied, every file up to
it counts) and Flyway (`flyway_schema_history`; a BASELINE row counts every file up to
its version). Their versions are matched to our files by version, in the project's
layout; each matched file is recorded with our checksum and their applied time (now
when they kept none). A table of theirs in our table's place is set aside as
`<name>_before_workspace`. `baseline` records every file up to a version as applied
without running it, on a database with no history.

Both run under the migration lock and in one transaction (nothing half-written), do
nothing when our table already says the same (idempotent), and refuse with
`HistoryConflict` when it says otherwise, or when the other history is unfinished (a
dirty golang-migrate version, a failed Flyway row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from workspace.db import tracking
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.files import MigrationFile
from workspace.db.histories import HISTORIES, of_shape
from workspace.db.layouts import Version, order_of, version_from_text
from workspace.db.lock import migration_lock
from workspace.db.plan import AppliedRow
from workspace.db.runner import RunnerSettings
from workspace.errors import HistoryConflict

__all__ = ["SOURCES", "AdoptResult", "Foreign", "adopt", "baseline", "find_foreign"]

SOURCES = ("guide", "dbmate", "golang-migrate", "flyway")
ASIDE = "_before_workspace"  # suffix of another tool's table set aside from our table's place
_FLYWAY = next(h for h in HISTORIES if h.tool == "flyway")


@dataclass(frozen=True)
class Foreign:
    """Another runner's tracking table."""

    tool: str  # one of SOURCES
    table: str  # schema-qualified


@dataclass(frozen=True)
class _Said:
    """What the other runner says: `version` applied (or, `up_to`, every version up to it)."""

    version: Version
    label: str  # as it names the migration
    applied_at: datetime | None = None
    execution_ms: float = 0.0
    up_to: bool = False


@dataclass
class AdoptResult:
    source: Foreign | None
    adopted: list[tuple[MigrationFile, datetime | None]] = field(default_factory=list)
    no_file: list[str] = field(default_factory=list)  # their migrations we have no file for
    pending: list[MigrationFile] = field(default_factory=list)
    already: bool = False  # our table said so already: nothing written
    set_aside: str | None = None  # where their table went, out of our table's place


def find_foreign(conn: psycopg.Connection[Any], table: str = tracking.TABLE) -> list[Foreign]:
    """Every other runner's tracking table in the database (set-aside ones included)."""
    found: list[Foreign] = []
    names = ["public.schema_migrations", f"{table}{ASIDE}", f"public.schema_migrations{ASIDE}"]
    for name in dict.fromkeys(names):
        history = of_shape(tracking.columns_of(conn, name))
        if history is not None:
            found.append(Foreign(history.tool, name))
    for (name,) in conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE tablename = %s "
            "ORDER BY 1", (_FLYWAY.table.partition(".")[2],)).fetchall():
        if _FLYWAY.columns <= tracking.columns_of(conn, name):
            found.append(Foreign("flyway", name))
    return found


def adopt(url: str, files: list[MigrationFile], settings: RunnerSettings, *, layout: str,
          source: str = "auto") -> AdoptResult:
    """Import another runner's history into ours (see the module's docstring)."""
    table = settings.table
    with map_psycopg_errors("adopting the history"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn, \
            migration_lock(url, wait_s=settings.lock_wait_s,
                           connect_timeout_s=settings.connect_timeout_s):
        found = find_foreign(conn, table)
        chosen = [f for f in found if source in ("auto", f.tool)]
        if not chosen:
            ours = tracking.check_shape(conn, table) and tracking.read_rows(conn, table)
            if source == "auto" and ours:
                return AdoptResult(None, already=True)
            raise HistoryConflict(
                f"no {'other runner' if source == 'auto' else source}'s history found"
                + (f" (found: {_names(found)})" if found else ""),
                remedy="For a database without history, record what it already has with "
                       "`workspace db baseline VERSION`; choose another history with --from.")
        if len(chosen) > 1:
            raise HistoryConflict(f"several histories found: {_names(chosen)}",
                                  remedy="Say which to adopt: `workspace db adopt --from "
                                         f"{chosen[0].tool}` (one of {', '.join(SOURCES)}).")
        foreign = chosen[0]
        said, no_file = _read(conn, foreign, layout, {m.name: m.version for m in files})
        result = AdoptResult(foreign, no_file=no_file)
        applied = _match(files, said, result)
        result.pending = [m for m in files if m not in {a for a, _ in applied}]
        with conn.transaction():
            if foreign.table == table:
                result.set_aside = _set_aside(conn, table)
            rows = _our_rows(conn, table, files)
            if rows:
                _refuse_disagreement(rows, [m for m, _ in applied], table, "adopt")
                result.already = True
                return result
            for m, said_one in applied:
                _record(conn, table, m, said_one, f"workspace db adopt (from {foreign.tool})")
        result.adopted = [(m, s.applied_at) for m, s in applied]
        return result


def baseline(url: str, files: list[MigrationFile], settings: RunnerSettings, *, layout: str,
             version: str) -> AdoptResult:
    """Record every file up to `version` as applied, without running it."""
    target = version_from_text(layout, version)
    if target is None:
        raise HistoryConflict(f"{version!r} is not a version of the {layout} layout",
                              remedy="Give the version of the last migration the database "
                                     "already has, as its file name spells it (e.g. 0003, "
                                     "20240101120000, 1.1).")
    chosen = [m for m in files if m.order <= order_of(target)]
    if not chosen:
        raise HistoryConflict(f"no migration file has a version up to {version}",
                              remedy="Give the version of the last migration the database "
                                     "already has.")
    table = settings.table
    with map_psycopg_errors("recording a baseline"), \
            connection(url, timeout_s=settings.connect_timeout_s) as conn, \
            migration_lock(url, wait_s=settings.lock_wait_s,
                           connect_timeout_s=settings.connect_timeout_s):
        result = AdoptResult(None, pending=[m for m in files if m not in chosen])
        with conn.transaction():
            rows = _our_rows(conn, table, files)
            if rows:
                _refuse_disagreement(rows, chosen, table, "baseline")
                result.already = True
                return result
            found = find_foreign(conn, table)
            if found:
                raise HistoryConflict(
                    f"this database has a history already: {_names(found)}",
                    remedy=f"Import it instead: `workspace db adopt --from {found[0].tool}`.")
            for m in chosen:
                _record(conn, table, m, None, "workspace db baseline")
        result.adopted = [(m, None) for m in chosen]
        return result


def _set_aside(conn: psycopg.Connection[Any], table: str) -> str:
    """Rename another tool's table (and its indexes: `<name>_pkey` would clash with ours)
    out of our table's place; returns its new name."""
    schema, _, name = table.partition(".")
    aside = f"{name}{ASIDE}"
    indexes = [idx for (idx,) in conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass", (table,)).fetchall()]
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        sql.Identifier(schema, name), sql.Identifier(aside)))
    for idx in indexes:
        if idx.startswith(name):
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(schema, idx), sql.Identifier(aside + idx[len(name):])))
    return f"{schema}.{aside}"


def _names(found: list[Foreign]) -> str:
    return ", ".join(f"{f.table} ({f.tool})" for f in found)


def _read(conn: psycopg.Connection[Any], foreign: Foreign, layout: str,
          names: dict[str, Version]) -> tuple[list[_Said], list[str]]:
    """What the other runner says was applied, and what it names that is no version (a
    version that is none, e.g. the guide's runner keyed by name, is matched by file name)."""
    said: list[_Said] = []
    unknown: list[str] = []
    t = foreign.table

    def add(text: str, label: str, **more: Any) -> None:
        version = version_from_text(layout, text)
        if version is None:
            version = names.get(label)
        if version is None:
            unknown.append(label)
        else:
            said.append(_Said(version, label, **more))

    if foreign.tool == "guide":
        for version, filename, at in conn.execute(
                f"SELECT version, filename, applied_at FROM {t} ORDER BY 1".encode()):
            add(str(version), str(filename or version), applied_at=at)
    elif foreign.tool == "dbmate":
        for (version,) in conn.execute(f"SELECT version FROM {t} ORDER BY 1".encode()):
            add(str(version), str(version))
    elif foreign.tool == "golang-migrate":
        rows = conn.execute(f"SELECT version, dirty FROM {t}".encode()).fetchall()
        for version, dirty in rows:
            if dirty:
                raise HistoryConflict(
                    f"{t}: golang-migrate left version {version} dirty (it failed half-way)",
                    remedy="Fix the database by hand (finish or undo that migration), mark it "
                           f"clean (`migrate force {version}`, or UPDATE {t} SET dirty = "
                           "false), then run `workspace db adopt` again.")
            add(str(version), str(version), up_to=True)
    else:
        _read_flyway(conn, t, add)
    return said, unknown


def _read_flyway(conn: psycopg.Connection[Any], t: str, add: Any) -> None:
    columns = tracking.columns_of(conn, t)
    kind = "type" if "type" in columns else "NULL"
    ms = "execution_time" if "execution_time" in columns else "0"
    rows = conn.execute(f"SELECT installed_rank, version, script, installed_on, success, "
                        f"{kind}, {ms} FROM {t} ORDER BY installed_rank".encode()).fetchall()
    failed = [f"V{v} ({script})" for _, v, script, _, success, _, _ in rows if not success]
    if failed:
        raise HistoryConflict(
            f"{t}: Flyway recorded {', '.join(failed)} as failed",
            remedy="Fix the database and remove the failed rows (`flyway repair`), then run "
                   "`workspace db adopt` again.")
    for _, version, script, at, _, row_kind, elapsed in rows:
        if version is None or row_kind in ("SCHEMA", "DELETE"):
            continue  # repeatable migrations, schema creation markers
        add(str(version), str(script), applied_at=at, execution_ms=float(elapsed or 0),
            up_to=row_kind == "BASELINE")


def _match(files: list[MigrationFile], said: list[_Said],
           result: AdoptResult) -> list[tuple[MigrationFile, _Said]]:
    by_order = {m.order: m for m in files}
    matched: dict[tuple[int, ...], tuple[MigrationFile, _Said]] = {}
    for one in said:
        key = order_of(one.version)
        if one.up_to:
            for m in files:
                if m.order <= key:
                    matched.setdefault(m.order, (m, one))
            if key in by_order:
                continue
        elif key in by_order:
            matched[key] = (by_order[key], one)
            continue
        result.no_file.append(one.label)
    return [matched[k] for k in sorted(matched)]


def _our_rows(conn: psycopg.Connection[Any], table: str,
              files: list[MigrationFile]) -> list[AppliedRow]:
    if tracking.check_shape(conn, table):
        return tracking.read_rows(conn, table)
    conn.execute(tracking.create_table_sql(
        table, text_versions=any(isinstance(m.version, str) for m in files)))
    return []


def _refuse_disagreement(rows: list[AppliedRow], wanted: list[MigrationFile], table: str,
                         what: str) -> None:
    """Our rows must already say that every `wanted` file ran, with its checksum."""
    have = {str(r.version): r for r in rows}
    differ = []
    for m in wanted:
        row = have.get(str(m.version))
        if row is None:
            differ.append(f"{m.name} is not recorded")
        elif row.checksum != m.checksum:
            differ.append(f"{m.name} is recorded with another checksum")
    if differ:
        shown = "; ".join(differ[:5]) + (f"; and {len(differ) - 5} more" if len(differ) > 5
                                         else "")
        raise HistoryConflict(
            f"{table} already has {len(rows)} row(s) that disagree: {shown}. Nothing was "
            "written.",
            remedy=f"`workspace db {what}` only fills an empty table: compare with `workspace db "
                   f"status`; if {table} is wrong, empty it (DELETE FROM {table}) and run "
                   f"`workspace db {what}` again.")


def _record(conn: psycopg.Connection[Any], table: str, m: MigrationFile, said: _Said | None,
            via: str) -> None:
    conn.execute(
        f"INSERT INTO {table} (version, name, checksum, applied_at, execution_ms, applied_by) "
        "VALUES (%s, %s, %s, coalesce(%s, now()), %s, current_user || ' via ' || %s)".encode(),
        (m.version, m.name, m.checksum, said.applied_at if said else None,
         said.execution_ms if said else 0.0, via))
