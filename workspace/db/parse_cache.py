"""What parsing a migration file found, cached per file content, so that a file parsed
once (by `db migrate`, `--dry-run`, `lint`, a migrate of another database) is not
parsed again: the runner still checks every file before it writes anything, from the
cache when the file is unchanged.

    cache = ParseCache.open(project / ".workspace" / "cache")
    check_sql(pending, cache)     # hits are taken from it, misses parsed and added
    cache.save(migrations)        # one file, written atomically, if anything was added

One JSON file (`sql-<key>.json`, never pickle) maps each file's content digest to its
statements (offset, length, line, column, node kind, why it must run outside a
transaction) and notes. The key covers this format, Python's version and the sources
the result depends on: `sqlparse.py`, `sqltext.py` (lines and columns) and pglast's
version (its `__init__.py`). A statement is cached only as a slice of the file's own
text (a file whose statement differs from its slice, e.g. with a blanked COPY block, is
parsed each time), so the cache can only ever give back text the file holds; an entry that does not fit the
file, or a cache file that does not parse, is a miss. A file whose parse raised is
never cached: it is parsed, and raises, every time.

What needs the parse tree itself (roles a file names, a no-transaction file's index
check, lint) still parses that file on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

from workspace.db import sqlparse, sqltext
from workspace.db.sqlparse import Note, Statement

__all__ = ["ParseCache", "content_key"]

FORMAT = 1
MAX_BYTES = 256 * 2**20  # a cache file larger than this is not read


class MigrationFile(Protocol):
    """What the cache reads of `files.MigrationFile` (not imported: files imports us)."""

    @property
    def text(self) -> str: ...

    @property
    def checksum(self) -> str: ...


def content_key(m: MigrationFile) -> str:
    """The digest of the file's text exactly as parsed. The checksum is of the text with
    line endings made `\\n`: the same text when there is no `\\r`, else hashed again
    (offsets and lines differ between the two), or when it still begins with a BOM (the
    checksum drops one more: the texts with and without it would share a key)."""
    if "\r" not in m.text and not m.text.startswith("\ufeff"):
        return m.checksum
    return "raw:" + hashlib.sha256(m.text.encode("utf-8")).hexdigest()


class ParseCache:
    """The entries read from one cache file, and those added by this process. (A plain
    class: defining a dataclass costs more than a warm run's lookups.)"""

    def __init__(self, path: Path | None, entries: dict[str, Any]) -> None:
        self.path = path
        self.entries = entries
        self.added = False

    @classmethod
    def open(cls, directory: Path | None) -> ParseCache:
        """The cache kept in `directory` (empty when there is none yet, or it does not
        parse); `None`: a cache in memory only."""
        if directory is None:
            return cls(None, {})
        path = directory / f"sql-{_sources_key()[:32]}.json"
        entries: dict[str, Any] = {}
        with suppress(OSError, ValueError):
            with path.open("rb") as fh:
                data = json.loads(fh.read(MAX_BYTES))
            if isinstance(data, dict) and data.get("format") == FORMAT \
                    and isinstance(data.get("files"), dict):
                entries = data["files"]
        return cls(path, entries)

    def take(self, m: MigrationFile) -> tuple[tuple[Statement, ...], tuple[Note, ...]] | None:
        """The statements and notes cached for `m`'s text, or None."""
        entry = self.entries.get(content_key(m))
        if entry is None:
            return None
        try:
            return _decode(m.text, entry)
        except (TypeError, ValueError, KeyError, IndexError):
            return None

    def put(self, m: MigrationFile, statements: Iterable[Statement],
            notes: Iterable[Note]) -> None:
        key = content_key(m)
        if key in self.entries:
            return
        encoded = _encode(m.text, statements, notes)
        if encoded is not None:
            self.entries[key] = encoded
            self.added = True

    def save(self, migrations: Iterable[MigrationFile]) -> None:
        """Write the entries of `migrations` (the project's files: others are for
        contents since changed), when this process added one. A temporary file per
        process, then a rename; nothing when the directory cannot be written."""
        if self.path is None or not self.added:
            return
        keys = {content_key(m) for m in migrations}
        files = {k: v for k, v in self.entries.items() if k in keys}
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": FORMAT, "files": files}, fh, ensure_ascii=False,
                          separators=(",", ":"))
            os.replace(temp, self.path)
            self.added = False
        except OSError:
            with suppress(OSError):
                temp.unlink()


def _sources_key() -> str:
    """What a cached result depends on besides the file: this format, Python, the parsing
    code and pglast's version (its `__init__.py`, found without importing it)."""
    import importlib.util

    digest = hashlib.sha256(f"{FORMAT} {sys.version}".encode())
    for name in (sqlparse.__file__, sqltext.__file__, __file__):
        with suppress(OSError, TypeError):
            digest.update(Path(name or "").read_bytes())
    spec = importlib.util.find_spec("pglast")
    if spec is not None and spec.origin:
        with suppress(OSError):
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()


def _encode(text: str, statements: Iterable[Statement],
            notes: Iterable[Note]) -> list[Any] | None:
    rows = []
    for s in statements:
        if text[s.offset:s.offset + len(s.text)] != s.text:
            return None  # not a slice of the file (blanked lines in it): not cached
        rows.append([s.offset, len(s.text), s.line, s.column, s.kind, s.outside_transaction])
    return [rows, [[n.line, n.column, n.text] for n in notes]]


def _decode(text: str, entry: Any) -> tuple[tuple[Statement, ...], tuple[Note, ...]]:
    rows, notes = entry
    statements = []
    end = 0
    for offset, length, line, column, kind, outside in rows:
        if not (isinstance(offset, int) and isinstance(length, int) and length > 0
                and end <= offset and offset + length <= len(text)
                and isinstance(line, int) and isinstance(column, int)
                and isinstance(kind, str) and (outside is None or isinstance(outside, str))):
            raise ValueError("not an entry for this text")
        end = offset + length
        statements.append(Statement(text[offset:end], offset, line, column, kind, outside))
    if not statements:
        raise ValueError("no statement")
    return tuple(statements), tuple(Note(int(line), int(column), str(note))
                                    for line, column, note in notes)
