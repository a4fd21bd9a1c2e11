"""Discovery of migration files: `migrations/NNNN_name.sql`, in numeric order.

Every check here runs before the database is touched: names, duplicate versions,
encoding, emptiness, directives; and SQL syntax (through `sqlparse`) for every file
before it is applied. The first problem found stops
the run with a `MigrationFileError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from workspace.db.sqlparse import (
    Directives,
    Statement,
    check_text,
    line_col,
    parse_directives,
    split_statements,
)
from workspace.errors import MigrationFileError
from workspace.userfile import NotReadable, describe, read_regular

__all__ = ["MigrationFile", "check_sql", "checksum", "find_migrations", "load_migration"]

FILENAME = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$", re.ASCII)
MAX_VERSION = 2**63 - 1  # the tracking table's version is a bigint
MAX_BYTES = 2**30 - 1  # PostgreSQL takes no query string longer (MaxAllocSize)
NAMING_RULE = "Name migrations NNNN_description.sql (digits, an underscore, then letters, " \
              "digits, _ . or -), e.g. 0005_add_tags.sql."


@dataclass(frozen=True)
class MigrationFile:
    """One migration. Its SQL is parsed on first use of `statements` (which raises
    `MigrationFileError` on bad SQL): the runner parses every file it is about to
    apply before it writes anything, and an up-to-date run parses nothing."""

    version: int
    name: str  # the file name, e.g. "0001_init.sql"
    path: Path
    text: str  # BOM removed, line endings as in the file
    checksum: str
    directives: Directives

    @property
    def transactional(self) -> bool:
        return self.directives.transactional

    @cached_property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(split_statements(self.path, self.text, transactional=self.transactional))


def checksum(text: str) -> str:
    """sha256 of the content with the BOM dropped and line endings made `\\n`, so a
    checkout with CRLF endings does not count as a change."""
    normal = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def find_migrations(directory: Path, *,
                    problems: list[MigrationFileError] | None = None) -> list[MigrationFile]:
    """Load every migration of `directory`, sorted by version. A bad file raises, or,
    when `problems` is given (lint lists them all), is added to it and left out."""
    remedy = "Create it, or set migrations.dir in config.yaml (or MIGRATIONS_DIR)."
    if not directory.is_dir():
        problem = describe(directory)
        if problem == "does not exist":
            raise MigrationFileError(directory, "migrations directory not found", remedy=remedy)
        raise MigrationFileError(directory, "migrations path is not a directory: it "
                                 f"{problem or 'is a regular file'}", remedy=remedy)
    try:
        names = sorted(os.listdir(directory))  # as sorted(iterdir()): one directory's names
    except OSError as exc:
        raise MigrationFileError(directory, f"cannot be read: {exc.strerror or exc}",
                                 remedy=remedy) from None
    by_version: dict[int, MigrationFile] = {}
    for name in names:
        if name.startswith(".") or not name.lower().endswith(".sql"):
            continue  # READMEs, editor files and the like
        path = directory / name
        try:
            migration = load_migration(path)
            other = by_version.get(migration.version)
            if other is not None:
                raise MigrationFileError(
                    path, f"duplicate version {migration.version}: {other.name} has it too",
                    remedy="Give one of the two files the next free number.")
        except MigrationFileError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        by_version[migration.version] = migration
    return [by_version[v] for v in sorted(by_version)]


def load_migration(path: Path) -> MigrationFile:
    name = path.name
    match = FILENAME.match(name)
    if not match:
        raise MigrationFileError(path, "file name does not follow the naming rule",
                                 remedy=NAMING_RULE)
    version = int(match["version"])
    if version > MAX_VERSION:
        raise MigrationFileError(
            path, f"version {version} is too large: the tracking table's version is a "
                  f"bigint (at most {MAX_VERSION})",
            remedy="Number it as the others, e.g. the next free number: 0005_add_tags.sql.")
    try:
        data = read_regular(path, max_bytes=MAX_BYTES)
    except NotReadable as exc:
        raise MigrationFileError(
            path, exc.problem, remedy="A migration must be a readable regular file: replace "
                                      "it with one, or rename it so it does not end in .sql."
        ) from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8").removeprefix("\ufeff")
        line, column = line_col(before, len(before))
        raise MigrationFileError(path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                                 line=line, column=column,
                                 remedy="Save the file as UTF-8.") from None
    check_text(path, text)
    if not text.strip():
        raise MigrationFileError(path, "the file is empty",
                                 remedy="Add the migration's SQL, or delete the file.")
    return MigrationFile(version, name, path, text, checksum(text),
                         parse_directives(path, text))


def check_sql(migrations: list[MigrationFile]) -> None:
    """Parse every file's SQL now (raising on the first bad one)."""
    for migration in migrations:
        migration.statements  # noqa: B018 - parsing is the point
