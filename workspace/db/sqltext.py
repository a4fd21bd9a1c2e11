"""What loading a migration file needs before any parsing: its directive line, the check
that the parser and the server would both see its whole text, and offsets as
`line:column`. Split from `sqlparse` so that a run with nothing to apply loads no parser
module: every file is loaded at every start, only pending ones are parsed.

Directive: the first line of a file may be `-- workspace: <option> ...` with options
`no-transaction`, `lock_timeout=<duration>` and `statement_timeout=<duration>`
(durations as PostgreSQL spells them: `30s`, `5min`, `0` for none). A dbmate file's
`-- migrate:up transaction:false` first line says the same as `no-transaction`.
"""

from __future__ import annotations

import re
from pathlib import Path

from workspace.errors import MigrationFileError

__all__ = ["DIRECTIVE_PREFIX", "Directives", "check_text", "line_col",
           "parse_directives"]

DIRECTIVE_PREFIX = "-- workspace:"
# Patterns as text, compiled by `re` on first use (its own cache): most files have no
# directive line, and compiling costs more than a no-op run's whole use of them.
_LINE_BREAK = r"\r\n?|\n"  # as PostgreSQL's scanner and editors see lines
_DURATION = r"^(?P<number>\d+(\.\d+)?)\s*(?P<unit>us|ms|s|min|h|d)?$"
_DBMATE_UP = r"^--\s*migrate:up\b(?P<options>.*)$"
_UNIT_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_TIMEOUT_MS = 2**31 - 1  # the server's limit for lock_timeout and statement_timeout


class Directives:
    """What a file's directive line asks. (A plain class: a dataclass costs about 3M
    instructions to define, on the path of every command that loads migrations.)"""

    __slots__ = ("lock_timeout", "statement_timeout", "transactional")

    def __init__(self, transactional: bool = True, lock_timeout: str | None = None,
                 statement_timeout: str | None = None) -> None:
        self.transactional = transactional
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout

    def _values(self) -> tuple[bool, str | None, str | None]:
        return self.transactional, self.lock_timeout, self.statement_timeout

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Directives) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (f"Directives(transactional={self.transactional!r}, lock_timeout="
                f"{self.lock_timeout!r}, statement_timeout={self.statement_timeout!r})")


_NO_DIRECTIVES = Directives()  # one for every file without a directive line


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset. Lines end at `\\r\\n`, `\\n` or a
    lone `\\r` (old Mac files): as PostgreSQL's scanner ends a `--` comment, and as
    editors number lines."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + text.count("\r", 0, offset) \
        - text.count("\r\n", 0, offset) + 1
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    return line, offset - start + 1


def check_text(path: Path | str, text: str) -> None:
    """Refuse text the parser and the server would not both see whole. A NUL ends a C
    string: libpg_query (pglast) would stop parsing there, and libpq cannot send it, so
    everything after it would be silently dropped. (Strictly decoded UTF-8 holds no lone
    surrogate; every other character reaches both as it is.)"""
    nul = text.find("\x00")
    if nul >= 0:
        line, column = line_col(text, nul)
        raise MigrationFileError(
            path, "contains a NUL byte (0x00): PostgreSQL cannot receive it, and everything "
                  "after it would be lost", line=line, column=column,
            remedy="Remove the NUL byte (e.g. `tr -d '\\000' < old > new`).")


def parse_directives(path: Path | str, text: str) -> Directives:
    if not text.lstrip().startswith("--"):  # most files: no directive (nor dbmate) line
        return _NO_DIRECTIVES
    first = re.split(_LINE_BREAK, text, maxsplit=1)[0].strip()
    if (dbmate := re.match(_DBMATE_UP, first)) is not None:  # dbmate's `-- migrate:up` line
        return Directives(transactional="transaction:false" not in dbmate["options"].split())
    if not first.startswith(DIRECTIVE_PREFIX):
        return Directives()
    values: dict[str, str | bool] = {}
    for token in first[len(DIRECTIVE_PREFIX):].split():
        key, eq, value = token.partition("=")
        if key == "no-transaction" and not eq:
            values["transactional"] = False
        elif key in ("lock_timeout", "statement_timeout") and \
                (match := re.match(_DURATION, value)):
            if float(match["number"]) * _UNIT_MS[match["unit"] or "ms"] > MAX_TIMEOUT_MS:
                raise MigrationFileError(
                    path, f"{token} is past PostgreSQL's limit ({MAX_TIMEOUT_MS} ms, about "
                          "24 days)", line=1, remedy="Give a shorter duration, or 0 for none.")
            values[key] = value
        else:
            raise MigrationFileError(
                path, f"unknown directive option {token!r}", line=1,
                remedy="Known options: no-transaction, lock_timeout=<duration>, "
                       "statement_timeout=<duration> (e.g. 30s, 5min, 0).")
    return Directives(**values)  # type: ignore[arg-type]
