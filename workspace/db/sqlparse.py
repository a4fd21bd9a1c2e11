"""SQL of migration files, read with pglast (the PostgreSQL parser itself).

Splits a file into statements that keep their offset in the file (as `line:column`:
`sqltext.line_col`) and finds statements that cannot run inside a transaction block,
all before anything touches the database. The directive line and the text checks that
every loaded file goes through are `sqltext`'s (re-exported here), so that a run with
nothing to apply loads no parser module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace.db.sqltext import Directives, check_text, line_col, parse_directives
from workspace.errors import MigrationFileError

__all__ = ["Directives", "Note", "Parsed", "Statement", "check_text", "line_col",
           "parse_directives", "parse_tree", "read_migration", "split_migration",
           "split_statements"]

NO_TRANSACTION_FIX = ("Move the statement to a file of its own whose first line is "
                      "`-- workspace: no-transaction`.")


@dataclass(frozen=True)
class Statement:
    text: str
    offset: int  # character offset of the statement in the file
    line: int
    column: int
    kind: str  # the parse node's name, e.g. "CreateStmt"
    outside_transaction: str | None  # why it cannot run in a transaction block, if so


def split_statements(path: Path, text: str, *, transactional: bool = True) -> list[Statement]:
    """Every statement of `text` that runs, in order; raise `MigrationFileError` on a syntax
    error, an empty file, or (in a transactional file) a statement that must run outside
    one. See `split_migration` for what is left out."""
    return list(split_migration(path, text, transactional=transactional).statements)


@dataclass(frozen=True)
class Note:
    """Something workspace did differently from the file's letter, said once."""

    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Parsed:
    tree: tuple[tuple[Statement, dict[str, Any]], ...]  # what runs, with its parse nodes
    notes: tuple[Note, ...] = ()

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(statement for statement, _ in self.tree)


def split_migration(path: Path, text: str, *, transactional: bool = True) -> Parsed:
    """`read_migration`, then the checks: no statement that cannot run in the file's
    transaction, at least one statement."""
    parsed = read_migration(path, text, transactional=transactional)
    for statement in parsed.statements if transactional else ():
        if statement.outside_transaction:
            raise MigrationFileError(path, statement.outside_transaction, line=statement.line,
                                     column=statement.column, remedy=NO_TRANSACTION_FIX
                                     if statement.kind != "TransactionStmt" else
                                     "Remove it: workspace runs each migration in a "
                                     "transaction of its own.")
    if not parsed.tree:
        raise MigrationFileError(path, "the file contains no SQL statement",
                                 remedy="Add the migration's SQL, or delete the file.")
    return parsed


def read_migration(path: Path, text: str, *, transactional: bool = True) -> Parsed:
    """The statements of a migration that run, each with its parse node, and notes on
    what is left out (raises only on a syntax error):

    - another tool's tracking table created by a baseline (a pg_dump of a database run
      by the guide's original runner, dbmate, golang-migrate, Flyway or workspace
      itself): its CREATE TABLE, and the statements on it (ALTER ... OWNER, its primary
      key, the COPY ... FROM stdin block or INSERTs of its rows). workspace keeps its own
      table; `workspace db adopt` imports the other's rows from the database;
    - in a transactional file, one outer `BEGIN;` ... `COMMIT;` pair around everything:
      the runner's own transaction takes its place (not nested in it);
    - pg_dump's `\\restrict` / `\\unrestrict` lines (psql meta-commands);
    - dbmate's `-- migrate:down` section (a dbmate file holds both directions; its
      `-- migrate:up transaction:false` first line is read by `parse_directives`)."""
    notes: list[Note] = []
    blanked = _blank_tracking_copy(_blank_restrict(_blank_dbmate_down(text), notes))
    tree = parse_tree(path, blanked)
    foreign: dict[str, str] = {}  # table -> whose
    for statement, node in tree:
        if statement.kind == "CreateStmt" and (found := _foreign_tracking_table(node)):
            foreign[found[0]] = found[1]
    if foreign:
        kept = []
        for statement, node in tree:
            name = _relation_of(statement.kind, node)
            if name in foreign:
                if statement.kind == "CreateStmt":
                    notes.append(Note(statement.line, statement.column,
                                      f"CREATE TABLE {name} makes {foreign[name]} tracking "
                                      "table: skipped, with the statements on it (workspace "
                                      "keeps its own; `workspace db adopt` imports its rows)"))
                continue
            kept.append((statement, node))
        tree = kept
    control = [i for i, (statement, _) in enumerate(tree) if statement.kind == "TransactionStmt"
               and statement.outside_transaction]
    if transactional and len(control) == 2 and control == [0, len(tree) - 1] \
            and _transaction_kind(tree[0][1]) in ("BEGIN", "START") \
            and _transaction_kind(tree[-1][1]) == "COMMIT":
        first, last = tree[0][0], tree[-1][0]
        notes.append(Note(first.line, first.column,
                          f"the file's own {first.text.split()[0].upper()} (line {first.line}) "
                          f"and COMMIT (line {last.line}) are left out: workspace runs it in "
                          "a transaction of its own, with its tracking row (remove them to "
                          "silence this note)"))
        tree = tree[1:-1]
    return Parsed(tuple(tree), tuple(notes))


# Another tool's tracking table, by name and columns (`version` alone is dbmate's and
# Rails'; the guide's original runner added `filename`, `applied_at`).
_TRACKING_TABLES = {
    "schema_migrations": (
        ({"version", "filename", "applied_at"}, "the guide's original runner's"),
        ({"version"}, "dbmate's (or Rails')"),
        ({"version", "dirty"}, "golang-migrate's"),
        ({"version", "name", "checksum", "applied_at", "execution_ms", "applied_by"},
         "workspace's"),
    ),
    "flyway_schema_history": (
        ({"installed_rank", "version", "script", "checksum", "installed_on", "success"},
         "Flyway's"),
    ),
}
_COPY_TRACKING = re.compile(
    r"^COPY\s+(?:(?:public|\"public\")\.)?\"?(?:schema_migrations|flyway_schema_history)\"?"
    r"\s*(?:\([^)]*\))?\s+FROM\s+stdin\s*;[^\n]*\n(?P<data>.*?^\\\.[ \t]*\r?$)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL)


_DBMATE_DOWN = re.compile(r"^--\s*migrate:down\b", re.MULTILINE)


def _blank_dbmate_down(text: str) -> str:
    """Everything from dbmate's `-- migrate:down` line on made spaces (line breaks kept):
    the down migration is dbmate's, never run here."""
    if "migrate:down" not in text:
        return text
    match = _DBMATE_DOWN.search(text)
    if match is None:
        return text
    return text[:match.start()] + re.sub(r"[^\r\n]", " ", text[match.start():])


_RESTRICT = re.compile(r"^\\(un)?restrict[ \t]+[A-Za-z0-9]+[ \t]*\r?$", re.MULTILINE)


def _blank_restrict(text: str, notes: list[Note]) -> str:
    """pg_dump's `\\restrict KEY` and `\\unrestrict KEY` lines (since PostgreSQL 17.6, a
    guard for psql against a dump that smuggles meta-commands) made spaces: the file is
    sent as SQL, never to psql, so there is nothing to guard."""
    if "restrict" not in text:
        return text
    match = _RESTRICT.search(text)
    if match is None:
        return text
    line, column = line_col(text, match.start())
    notes.append(Note(line, column, "pg_dump's \\restrict and \\unrestrict lines (psql "
                                    "meta-commands) are left out: workspace sends SQL only"))
    return _RESTRICT.sub(lambda m: " " * len(m.group(0)), text)


def _blank_tracking_copy(text: str) -> str:
    """pg_dump's `COPY <tracking table> ... FROM stdin;` rows, up to `\\.`, made spaces:
    they are data, not SQL, for the parser; offsets and lines stay as in the file."""
    if "stdin" not in text and "STDIN" not in text:
        return text

    def blank(match: re.Match[str]) -> str:
        start, end = match.span("data")
        inner = re.sub(r"[^\r\n]", " ", text[start:end])
        return match.group(0)[:start - match.start()] + inner
    return _COPY_TRACKING.sub(blank, text)


def _qualified(relation: dict[str, Any]) -> str | None:
    name = relation.get("relname")
    if not name:
        return None
    return f"{relation.get('schemaname') or 'public'}.{name}"


def _foreign_tracking_table(node: dict[str, Any]) -> tuple[str, str] | None:
    name = _qualified(node.get("relation", {}))
    if name is None:
        return None
    schema, _, table = name.partition(".")
    shapes = _TRACKING_TABLES.get(table, ())
    if table == "schema_migrations" and schema != "public":
        return None
    columns = {e["ColumnDef"]["colname"] for e in node.get("tableElts", ()) if "ColumnDef" in e}
    for wanted, owner in shapes:
        if wanted <= columns and (owner != "dbmate's (or Rails')" or columns == wanted):
            return name, owner
    return None


def _relation_of(kind: str, node: dict[str, Any]) -> str | None:
    """The table a statement is on (CREATE/ALTER TABLE, COPY, INSERT, CREATE INDEX)."""
    if kind in ("CreateStmt", "AlterTableStmt", "CopyStmt", "InsertStmt", "IndexStmt"):
        return _qualified(node.get("relation", {}))
    return None


def _transaction_kind(node: dict[str, Any]) -> str:
    return str(node.get("kind", "")).removeprefix("TRANS_STMT_")


def parse_tree(path: Path, text: str) -> list[tuple[Statement, dict[str, Any]]]:
    """Each statement with its parse node (a dict, as libpg_query renders it in JSON).

    JSON rather than pglast's Python AST: the same parse, without building a Python
    object per node (about four times faster)."""
    from pglast import parser  # imported on first use: a no-op run never parses

    check_text(path, text)  # the parser reads a C string: it must see every character
    try:
        raw = json.loads(parser.parse_sql_json(text))["stmts"]
    except parser.ParseError as exc:
        message, position = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, col = line_col(text, position)
        remedy = None
        if text.lstrip().startswith("\\") or "\n\\" in text:
            remedy = "psql meta-commands (lines starting with a backslash) are not SQL: remove them."
        raise MigrationFileError(path, f"SQL syntax error: {message}", line=line, column=col,
                                 remedy=remedy) from None
    data = text.encode("utf-8")
    ascii_only = len(data) == len(text)  # then byte offsets are character offsets
    out = []
    for item in raw:
        (kind, node), = item["stmt"].items()
        begin = item.get("stmt_location", 0)
        end = begin + item["stmt_len"] if item.get("stmt_len") else len(data)
        chunk = data[begin:end].decode("utf-8")
        start = begin if ascii_only else len(data[:begin].decode("utf-8"))
        start += len(chunk) - len(chunk.lstrip())
        line, col = line_col(text, start)
        out.append((Statement(chunk.strip(), start, line, col, kind, _needs_autocommit(kind, node)),
                    node))
    return out


_ALWAYS_OUTSIDE = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
}
_TRANSACTION_ENDERS = ("BEGIN", "START", "COMMIT", "ROLLBACK", "PREPARE", "COMMIT_PREPARED",
                       "ROLLBACK_PREPARED")


def _needs_autocommit(kind: str, node: dict[str, Any]) -> str | None:
    """Why a statement cannot run inside a transaction block, or None when it can."""
    cannot = "cannot run inside a transaction block"
    if kind in _ALWAYS_OUTSIDE:
        return f"{_ALWAYS_OUTSIDE[kind]} {cannot}"
    if kind == "IndexStmt" and node.get("concurrent"):
        return f"CREATE INDEX CONCURRENTLY {cannot}"
    if kind == "DropStmt" and node.get("concurrent"):
        return f"DROP INDEX CONCURRENTLY {cannot}"
    if kind == "ReindexStmt" and any(
            p.get("DefElem", {}).get("defname") == "concurrently" for p in node.get("params", ())):
        return f"REINDEX CONCURRENTLY {cannot}"
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return f"VACUUM {cannot}"
    if kind == "AlterTableStmt" and any(
            cmd.get("AlterTableCmd", {}).get("def", {}).get("PartitionCmd", {}).get("concurrent")
            for cmd in node.get("cmds", ())):
        return f"DETACH PARTITION CONCURRENTLY {cannot}"
    if kind == "TransactionStmt":
        which = str(node.get("kind", "")).removeprefix("TRANS_STMT_")
        if which in _TRANSACTION_ENDERS:
            return f"{which.replace('_', ' ')} ends or nests the migration's own transaction"
    return None
