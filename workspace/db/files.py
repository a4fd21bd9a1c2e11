"""Discovery of migration files in the project's layout (`layouts`), in version order.

Every check here runs before the database is touched: names, duplicate versions,
encoding, emptiness, directives (`sqltext`); and SQL syntax (through `sqlparse`, loaded
then) for every file before it is applied. The first problem found stops
the run with a `MigrationFileError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from workspace.db.layouts import Entry, Version, choose_layout, naming_rule, order_of, parse_version, scan
from workspace.db.sqltext import Directives, check_text, line_col, parse_directives
from workspace.errors import MigrationFileError
from workspace.userfile import NotReadable, describe, read_regular

if TYPE_CHECKING:
    from workspace.db.parse_cache import ParseCache
    from workspace.db.sqlparse import Note, Parsed, Statement

__all__ = ["MigrationFile", "check_sql", "checksum", "detect_layout", "find_migrations",
           "load_migration"]

MAX_VERSION = 2**63 - 1  # the tracking table's version is a bigint
MAX_BYTES = 2**30 - 1  # PostgreSQL takes no query string longer (MaxAllocSize)
NAMING_RULE = naming_rule("numbered")


class MigrationFile:
    """One migration. Its SQL is parsed on first use of `statements` (which raises
    `MigrationFileError` on bad SQL): the runner parses every file it is about to
    apply before it writes anything, and an up-to-date run parses nothing. (A plain
    class: a dataclass costs about 3M instructions to define, on every start.)"""

    def __init__(self, version: Version, entry: Entry, text: str, checksum: str,
                 directives: Directives) -> None:
        self.version = version  # an int, as recorded in the tracking table; Flyway's: "1.1"
        self.name = entry.name  # relative to the migrations directory: "0001_init.sql", ...
        self._entry = entry
        self.text = text  # BOM removed, line endings as in the file
        self.checksum = checksum
        self.directives = directives

    def __repr__(self) -> str:
        return f"MigrationFile({self.name!r}, version={self.version!r})"

    @property
    def path(self) -> Path:
        return self._entry.path  # made on first use (layouts.Entry)

    @property
    def transactional(self) -> bool:
        return self.directives.transactional

    @property
    def order(self) -> tuple[int, ...]:
        return order_of(self.version)

    @cached_property
    def parsed(self) -> Parsed:
        from workspace.db.sqlparse import split_migration  # only files about to be applied

        return split_migration(self.path, self.text, transactional=self.transactional)

    @cached_property
    def statements(self) -> tuple[Statement, ...]:
        """What runs: the file's statements less what `split_migration` leaves out (an
        outer BEGIN/COMMIT pair, another tool's tracking table in a dump)."""
        return self.parsed.statements

    @cached_property
    def notes(self) -> tuple[Note, ...]:
        return self.parsed.notes

    def use_parsed(self, statements: tuple[Statement, ...], notes: tuple[Note, ...]) -> None:
        """Take `statements` and `notes` as what parsing this text gives (from
        `parse_cache`); `parsed` still parses on first use."""
        self.__dict__["statements"], self.__dict__["notes"] = statements, notes


def checksum(text: str) -> str:
    """sha256 of the content with the BOM dropped and line endings made `\\n`, so a
    checkout with CRLF endings does not count as a change."""
    normal = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def find_migrations(directory: Path, *, layout: str = "auto",
                    problems: list[MigrationFileError] | None = None) -> list[MigrationFile]:
    """Load every migration of `directory` in its layout (configured, or `auto`: detected),
    sorted by version. A bad file raises, or, when `problems` is given (lint lists them
    all), is added to it and left out."""
    remedy = "Create it, or set migrations.dir in config.yaml (or MIGRATIONS_DIR)."
    if not directory.is_dir():
        problem = describe(directory)
        if problem == "does not exist":
            raise MigrationFileError(directory, "migrations directory not found", remedy=remedy)
        raise MigrationFileError(directory, "migrations path is not a directory: it "
                                 f"{problem or 'is a regular file'}", remedy=remedy)
    try:
        entries = _entries(directory)
    except OSError as exc:
        raise MigrationFileError(directory, f"cannot be read: {exc.strerror or exc}",
                                 remedy=remedy) from None
    try:
        layout = choose_layout(directory, entries, layout)
    except MigrationFileError as exc:
        if problems is None:
            raise
        problems.append(exc)
        return []
    by_version: dict[tuple[int, ...], MigrationFile] = {}
    for entry in entries:
        if entry.ignored and entry.layout == layout:
            continue  # a down migration
        try:
            migration = _load(entry, layout)
            order = migration.order
            other = by_version.get(order)
            if other is not None:
                raise MigrationFileError(
                    entry.path, f"duplicate version {migration.version}: {other.name} has it "
                                "too", remedy="Give one of the two files the next free number.")
        except MigrationFileError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        by_version[order] = migration
    return [by_version[v] for v in sorted(by_version)]


def _entries(directory: Path) -> list[Entry]:
    """The directory's entries that may be migrations, classified, in name order (as
    Path sorts one directory's entries); hidden ones left out. OSError when it cannot
    be read. (Names, not Paths: a Path per entry costs more than reading the file.)"""
    return scan(directory, sorted(n for n in os.listdir(directory) if not n.startswith(".")))


def detect_layout(directory: Path, configured: str = "auto") -> str:
    """The project's layout: configured, or detected from the names (numbered when there
    is no migration yet); raises on mixed layouts."""
    if configured != "auto" or not directory.is_dir():
        return "numbered" if configured == "auto" else configured
    try:
        entries = _entries(directory)
    except OSError:
        return "numbered"  # find_migrations says why
    return choose_layout(directory, entries)


def load_migration(path: Path, *, layout: str = "numbered") -> MigrationFile:
    return _load(Entry(path, path.name, None), layout)


def _load(entry: Entry, layout: str) -> MigrationFile:
    version, _ = parse_version(layout, entry)
    if isinstance(version, int) and version > MAX_VERSION:
        raise MigrationFileError(
            entry.path, f"version {version} is too large: the tracking table's version is a "
                  f"bigint (at most {MAX_VERSION})",
            remedy="Number it as the others, e.g. the next free number: 0005_add_tags.sql.")
    try:
        data = read_regular(entry.file, max_bytes=MAX_BYTES)
    except NotReadable as exc:
        raise MigrationFileError(
            entry.path, exc.problem, remedy="A migration must be a readable regular file: "
                                            "replace it with one, or rename it so it does not "
                                            "end in .sql.") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8").removeprefix("\ufeff")
        line, column = line_col(before, len(before))
        raise MigrationFileError(entry.path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                                 line=line, column=column,
                                 remedy="Save the file as UTF-8.") from None
    check_text(entry.file, text)
    if not text.strip():
        raise MigrationFileError(entry.path, "the file is empty",
                                 remedy="Add the migration's SQL, or delete the file.")
    return MigrationFile(version, entry, text, checksum(text), parse_directives(entry.file, text))


def check_sql(migrations: list[MigrationFile], cache: ParseCache | None = None) -> None:
    """Parse every file's SQL now (raising on the first bad one); a file whose text
    `cache` holds is taken from it, one parsed is added to it."""
    for migration in migrations:
        if cache is None or "statements" in migration.__dict__:
            migration.statements  # noqa: B018 - parsing is the point
            continue
        hit = cache.take(migration)
        if hit is not None:
            migration.use_parsed(*hit)
        else:
            cache.put(migration, migration.statements, migration.notes)
