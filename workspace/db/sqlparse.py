"""SQL of migration files, read with pglast (the PostgreSQL parser itself).

Splits a file into statements that keep their offset in the file, turns offsets into
`line:column`, reads the directive line, and finds statements that cannot run inside
a transaction block, all before anything touches the database.

Directive: the first line of a file may be `-- workspace: <option> ...` with options
`no-transaction`, `lock_timeout=<duration>` and `statement_timeout=<duration>`
(durations as PostgreSQL spells them: `30s`, `5min`, `0` for none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pglast import ast, parser

from workspace.errors import MigrationFileError

__all__ = ["Directives", "Statement", "line_col", "parse_directives", "split_statements"]

DIRECTIVE_PREFIX = "-- workspace:"
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")
NO_TRANSACTION_FIX = ("Move the statement to a file of its own whose first line is "
                      "`-- workspace: no-transaction`.")


@dataclass(frozen=True)
class Statement:
    text: str
    offset: int  # character offset of the statement in the file
    line: int
    column: int
    kind: str  # the pglast node name, e.g. "CreateStmt"
    outside_transaction: str | None  # why it cannot run in a transaction block, if so


@dataclass(frozen=True)
class Directives:
    transactional: bool = True
    lock_timeout: str | None = None
    statement_timeout: str | None = None


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset (a `\\r` before `\\n` is ignored)."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def parse_directives(path: Path, text: str) -> Directives:
    first = text.split("\n", 1)[0].strip()
    if not first.startswith(DIRECTIVE_PREFIX):
        return Directives()
    values: dict[str, str | bool] = {}
    for token in first[len(DIRECTIVE_PREFIX):].split():
        key, eq, value = token.partition("=")
        if key == "no-transaction" and not eq:
            values["transactional"] = False
        elif key in ("lock_timeout", "statement_timeout") and _DURATION.match(value):
            values[key] = value
        else:
            raise MigrationFileError(
                path, f"unknown directive option {token!r}", line=1,
                remedy="Known options: no-transaction, lock_timeout=<duration>, "
                       "statement_timeout=<duration> (e.g. 30s, 5min, 0).")
    return Directives(**values)  # type: ignore[arg-type]


def split_statements(path: Path, text: str, *, transactional: bool = True) -> list[Statement]:
    """Every statement of `text`, in order; raise `MigrationFileError` on a syntax error,
    an empty file, or (in a transactional file) a statement that must run outside one."""
    try:
        raw = parser.parse_sql(text)
    except parser.ParseError as exc:
        message, position = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, col = line_col(text, position)
        remedy = None
        if text.lstrip().startswith("\\") or "\n\\" in text:
            remedy = "psql meta-commands (lines starting with a backslash) are not SQL: remove them."
        raise MigrationFileError(path, f"SQL syntax error: {message}", line=line, column=col,
                                 remedy=remedy) from None
    statements = []
    for item in raw:
        start = item.stmt_location or 0
        end = start + item.stmt_len if item.stmt_len else len(text)
        body = text[start:end].strip()
        start += len(text[start:end]) - len(text[start:end].lstrip())
        line, col = line_col(text, start)
        node = item.stmt
        statement = Statement(body, start, line, col, type(node).__name__,
                              _needs_autocommit(node))
        if transactional and statement.outside_transaction:
            raise MigrationFileError(path, f"{statement.outside_transaction}", line=line,
                                     column=col, remedy=NO_TRANSACTION_FIX
                                     if statement.kind != "TransactionStmt" else
                                     "Remove it: workspace runs each migration in a "
                                     "transaction of its own.")
        statements.append(statement)
    if not statements:
        raise MigrationFileError(path, "the file contains no SQL statement",
                                 remedy="Add the migration's SQL, or delete the file.")
    return statements


_ALWAYS_OUTSIDE: dict[type, str] = {
    ast.CreatedbStmt: "CREATE DATABASE",
    ast.DropdbStmt: "DROP DATABASE",
    ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
    ast.DropTableSpaceStmt: "DROP TABLESPACE",
}


def _needs_autocommit(node: object) -> str | None:
    """Why `node` cannot run inside a transaction block, or None when it can."""
    cannot = "cannot run inside a transaction block"
    if type(node) in _ALWAYS_OUTSIDE:
        return f"{_ALWAYS_OUTSIDE[type(node)]} {cannot}"
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return f"CREATE INDEX CONCURRENTLY {cannot}"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return f"DROP INDEX CONCURRENTLY {cannot}"
    if isinstance(node, ast.ReindexStmt) and any(
            getattr(p, "defname", None) == "concurrently" for p in node.params or ()):
        return f"REINDEX CONCURRENTLY {cannot}"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return f"VACUUM {cannot}"
    if isinstance(node, ast.AlterTableStmt) and any(
            isinstance(getattr(cmd, "def_", None), ast.PartitionCmd) and cmd.def_.concurrent
            for cmd in node.cmds or ()):
        return f"DETACH PARTITION CONCURRENTLY {cannot}"
    if isinstance(node, ast.TransactionStmt) and node.kind is not None:
        kind = node.kind.name.removeprefix("TRANS_STMT_")
        if kind in ("BEGIN", "START", "COMMIT", "ROLLBACK", "PREPARE", "COMMIT_PREPARED",
                    "ROLLBACK_PREPARED"):
            return f"{kind.replace('_', ' ')} ends or nests the migration's own transaction"
    return None
