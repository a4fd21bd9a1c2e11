"""`workspace db new NAME`: the next migration file, in the project's layout.

    paths = new_migration(Path("migrations"), "add_tags", layout="numbered")

numbered: the next number, as wide as the others (0005_add_tags.sql); timestamp: the
current UTC time (20240101120000_add_tags.sql); flyway: the next major version
(V6__add_tags.sql); golang-migrate: the pair NNNNNN_add_tags.up.sql / .down.sql, numbered
as the others (or by UTC time when they are timestamps); diesel: the directory
YYYY-MM-DD-HHMMSS_add_tags/ with up.sql and down.sql. Down files are for the other tool:
workspace never runs them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workspace.db.files import MigrationFile, find_migrations
from workspace.errors import MigrationFileError

__all__ = ["NAME_RULE", "new_migration", "template"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,99}$", re.ASCII)
NAME_RULE = ("Give a short name of letters, digits and underscores (at most 100), starting "
             "with a letter or digit, e.g. add_tags.")
_DOWN = "-- Down migration, for {tool} only: workspace never runs it.\n"


def template(name: str, layout: str) -> str:
    return f"""-- {name}: written by `workspace db new` ({layout} layout).
-- It runs in one transaction with its tracking row. Write every statement so that it
-- can run twice (IF NOT EXISTS, OR REPLACE), as `workspace db lint` checks. Examples:
--
-- CREATE SCHEMA IF NOT EXISTS app;
-- CREATE TABLE IF NOT EXISTS app.tags (
--     id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
--     name text NOT NULL UNIQUE
-- );
-- ALTER TABLE app.tags ADD COLUMN IF NOT EXISTS color text;
-- CREATE INDEX IF NOT EXISTS tags_color_idx ON app.tags (color);
-- CREATE OR REPLACE VIEW app.tag_names AS SELECT name FROM app.tags;
-- INSERT INTO app.tags (name) VALUES ('general') ON CONFLICT (name) DO NOTHING;
--
-- An index built without blocking writes cannot run in a transaction: put it in a file
-- of its own whose FIRST line is the directive, e.g.
--   -- workspace: no-transaction
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_name_idx ON app.tags (name);
--
-- (A file with no statement at all stops `workspace db migrate`: write yours below.)

"""


def new_migration(directory: Path, name: str, *, layout: str,
                  now: datetime | None = None) -> list[Path]:
    """Write the next migration of `layout` in `directory` (made if missing); returns the
    paths written, the one workspace runs first. Refuses a bad name or an existing file."""
    if not _NAME.match(name):
        raise MigrationFileError(directory / name, f"{name!r} cannot name a migration",
                                 remedy=NAME_RULE)
    existing = find_migrations(directory, layout=layout) if directory.is_dir() else []
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    up, down, tool = _names(existing, name, layout, stamp)
    paths = [directory / up] + ([directory / down] if down else [])
    for path in paths:
        if path.exists() or path.parent.exists() and layout == "diesel":
            raise MigrationFileError(path, "already exists",
                                     remedy="Choose another name, or wait a second (the "
                                            "version is the current time).")
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(template(name, layout), encoding="utf-8")
    if down:
        paths[1].write_text(_DOWN.format(tool=tool), encoding="utf-8")
    return paths


def _names(existing: list[MigrationFile], name: str, layout: str,
           stamp: datetime) -> tuple[str, str | None, str]:
    """(up file, down file or None, the other tool) relative to the directory."""
    ints = [m.version for m in existing if isinstance(m.version, int)]
    if layout == "timestamp":
        return f"{_after(stamp, ints)}_{name}.sql", None, ""
    if layout == "flyway":
        major = max((m.order[0] for m in existing), default=0)
        return f"V{major + 1}__{name}.sql", None, ""
    if layout == "diesel":
        version = str(_after(stamp, ints))
        folder = (f"{version[:4]}-{version[4:6]}-{version[6:8]}-{version[8:]}_{name}")
        return f"{folder}/up.sql", f"{folder}/down.sql", "diesel"
    width = max((len(m.name.split("_", 1)[0]) for m in existing), default=0)
    if layout == "golang-migrate":
        if ints and min(ints) >= 10**13:  # timestamps, as `migrate create` writes by default
            version = str(_after(stamp, ints))
        else:
            version = f"{max(ints, default=0) + 1:0{width or 6}d}"
        return f"{version}_{name}.up.sql", f"{version}_{name}.down.sql", "golang-migrate"
    return f"{max(ints, default=0) + 1:0{width or 4}d}_{name}.sql", None, ""


def _after(stamp: datetime, versions: list[int]) -> int:
    """The current UTC time as YYYYMMDDHHMMSS, or a second past the newest timestamp if
    that is later (a clock behind, or two files in one second)."""
    newest = max((v for v in versions if len(str(v)) == 14), default=None)
    if newest is not None:
        last = datetime.strptime(str(newest), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        stamp = max(stamp, last + timedelta(seconds=1))
    return int(stamp.strftime("%Y%m%d%H%M%S"))
