"""What `workspace init` finds in a project and in its database.

    find_migrations_dir(root)     # Path("db/migrations"), or None: no such directory yet
    procfile_apps(root)           # {"web": {"command": [...], "port": 5000, ...}}
    tracking_tables(url)          # [Found("dbmate's", "public.schema_migrations", 3)]

A Procfile (foreman's and honcho's format: `name: command` a line, run by a shell with
PORT set) is the common way a project says which processes it runs; its lines become
`apps:`. The tables are ours and those the usual migration tools keep their history in
(db/histories.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Found", "find_migrations_dir", "procfile_apps", "tracking_tables"]

# Where projects keep their SQL migrations, most common first.
MIGRATION_DIRS = ("migrations", "db/migrations", "database/migrations", "sql/migrations",
                  "migrate", "db/migrate", "sql", "src/migrations", "supabase/migrations")
# honcho's environ.PROCFILE_LINE (its parser, honcho.environ.parse_procfile, is these two
# lines; honcho itself is a process manager we do not need)
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
FIRST_PORT, PORT_STEP = 5000, 100  # as foreman and honcho number PORT


def find_migrations_dir(root: Path) -> Path | None:
    """The project's migrations directory, relative to `root`: the first of the usual
    places holding .sql files (in it or one level down, diesel's `<name>/up.sql`), else
    an existing `migrations/`; None when there is none."""
    for name in MIGRATION_DIRS:
        path = root / name
        if path.is_dir() and (any(path.glob("*.sql")) or any(path.glob("*/*.sql"))):
            return Path(name)
    return Path("migrations") if (root / "migrations").is_dir() else None


def procfile_apps(root: Path) -> dict[str, dict[str, Any]]:
    """The Procfile's processes as `apps:` entries, in order; {} without a Procfile. A
    line is run by `sh -c`, as honcho does; one that uses $PORT gets a port (5000, 5100,
    ...) and a TCP readiness probe on it."""
    path = root / "Procfile"
    if not path.is_file():
        return {}
    apps: dict[str, dict[str, Any]] = {}
    port = FIRST_PORT
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = PROCFILE_LINE.match(line.strip())
        if match is None or line.lstrip().startswith("#"):
            continue
        name, command = match.group(1), match.group(2).strip()
        app: dict[str, Any] = {"command": ["sh", "-c", command]}
        if re.search(r"\$\{?PORT\b", command):
            app.update(port=port, ready={"tcp": port})
            port += PORT_STEP
        apps[name] = app
    return apps


@dataclass(frozen=True)
class Found:
    owner: str  # whose history it is, as a phrase: "dbmate's", "workspace's own"
    table: str
    rows: int | None
    ours: bool = False


def tracking_tables(url: str, *, timeout_s: float = 5.0) -> tuple[list[Found], int]:
    """The migration history tables in the database, and how many other tables it has.
    Raises DatabaseUnreachable."""
    from psycopg import sql

    from workspace.db import tracking
    from workspace.db.connect import connection, map_psycopg_errors
    from workspace.db.histories import HISTORIES, recognise

    tables = list(dict.fromkeys([tracking.TABLE, *(h.table for h in HISTORIES)]))
    names = sorted(tables)
    with map_psycopg_errors("database"), connection(url, timeout_s=timeout_s) as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name, array_agg(column_name::text) "
            "FROM information_schema.columns WHERE table_schema || '.' || table_name = "
            "ANY(%s) GROUP BY 1", (names,)).fetchall()
        columns = {table: set(cols) for table, cols in rows}
        found: list[Found] = []
        for table in (t for t in tables if t in columns):
            if table == tracking.TABLE and set(tracking.COLUMNS) <= columns[table]:
                owner, ours = "workspace's own", True
            elif (history := recognise(table, columns[table])) is not None:
                owner, ours = history.owner, False
            else:
                continue
            schema, name = table.split(".")
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(schema, name))).fetchone()
            found.append(Found(owner, table, int(count[0]) if count else None, ours))
        other = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', "
            "'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
            "AND n.nspname || '.' || c.relname <> ALL(%s)", (names,)).fetchone()
    return found, int(other[0]) if other else 0
