"""Lint: the guide's best practices, checked over the migration files.

Static rules read each statement's parse tree (libpg_query, through pglast):
- `not-idempotent`: DDL that fails when run twice (CREATE without IF NOT EXISTS, CREATE
  FUNCTION/VIEW/TRIGGER without OR REPLACE, ADD COLUMN / ADD VALUE without IF NOT EXISTS,
  DROP without IF EXISTS, ADD CONSTRAINT, CREATE TYPE/DOMAIN/POLICY/ROLE, RENAME), and
  CREATE INDEX without a name, which does not fail but adds a copy on every run;
- `outside-transaction`: statements that cannot run in a transaction, in a file that
  runs in one; and `bad-file`: whatever else stops a file from loading.
Statements inside DO blocks are not inspected: a DO block is how PostgreSQL spells
"create it if it is not there" for objects without IF NOT EXISTS.

The dynamic proof, `prove_rerunnable`, applies every migration twice in a scratch
database: what static rules miss (an INSERT without ON CONFLICT) fails there.

    migrations, findings = load_leniently(Path("migrations"))
    findings += lint_files(migrations)
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from workspace.db.connect import RESET_SESSION, connection, map_psycopg_errors
from workspace.db.files import MigrationFile, find_migrations
from workspace.db.runner import RunnerSettings, migrate
from workspace.db.scratch import scratch_database
from workspace.db.sqlparse import NO_TRANSACTION_FIX, line_col, read_migration
from workspace.errors import MigrationFileError, display_path
from workspace.output import redact

__all__ = ["Finding", "lint_files", "lint_notes", "lint_statement", "load_leniently",
           "prove_rerunnable"]

Problem = tuple[str, str]  # (message, fix)


@dataclass(frozen=True)
class Finding:
    rule: str  # "not-idempotent", "outside-transaction", "bad-file", "fails-twice"
    file: str
    line: int
    column: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.rule}: {self.message} → {self.fix}"


_IF_NOT_EXISTS = {  # node -> what
    "CreateStmt": "CREATE TABLE",
    "IndexStmt": "CREATE INDEX",
    "CreateSchemaStmt": "CREATE SCHEMA",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "CreateExtensionStmt": "CREATE EXTENSION",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "CreateStatsStmt": "CREATE STATISTICS",
    "CreateForeignTableStmt": "CREATE FOREIGN TABLE",
}
_OR_REPLACE = {
    "CreateFunctionStmt": "CREATE FUNCTION",
    "ViewStmt": "CREATE VIEW",
    "CreateTrigStmt": "CREATE TRIGGER",
    "RuleStmt": "CREATE RULE",
}
_NO_IF_NOT_EXISTS = {  # node -> (what, the catalog a DO block would check)
    "CompositeTypeStmt": ("CREATE TYPE", "pg_type"),
    "CreateEnumStmt": ("CREATE TYPE ... AS ENUM", "pg_type"),
    "CreateRangeStmt": ("CREATE TYPE ... AS RANGE", "pg_type"),
    "CreateDomainStmt": ("CREATE DOMAIN", "pg_type"),
    "CreatePolicyStmt": ("CREATE POLICY", "pg_policies"),
    "CreateRoleStmt": ("CREATE ROLE", "pg_roles"),
    "CreateEventTrigStmt": ("CREATE EVENT TRIGGER", "pg_event_trigger"),
    "CreateCastStmt": ("CREATE CAST", "pg_cast"),
    "CreatePublicationStmt": ("CREATE PUBLICATION", "pg_publication"),
}


def _do_block(catalog: str) -> str:
    return ("wrap it in a DO block that checks the catalog first, e.g. DO $$ BEGIN IF NOT "
            f"EXISTS (SELECT FROM {catalog} WHERE ...) THEN ...; END IF; END $$")


def _name(*parts: Any) -> str:
    return ".".join(str(p) for p in parts if p)


def _rel(node: dict[str, Any]) -> str:
    return _name(node.get("schemaname"), node.get("relname"))


def _names(items: list[dict[str, Any]]) -> str:
    return _name(*(i.get("String", {}).get("sval") for i in items))


def _subject(kind: str, node: dict[str, Any]) -> str:
    """The object a statement creates, as the user would write it."""
    if kind == "CreateStmt":
        return _rel(node.get("relation", {}))
    if kind == "CreateForeignTableStmt":
        return _rel(node.get("base", {}).get("relation", {}))
    if kind == "CreateTableAsStmt":
        return _rel(node.get("into", {}).get("rel", {}))
    if kind in ("CreateFunctionStmt", "CreateStatsStmt"):
        return _names(node.get("funcname") or node.get("defnames") or [])
    if kind == "ViewStmt":
        return _rel(node.get("view", {}))
    return str(node.get("idxname") or node.get("schemaname") or node.get("extname")
               or node.get("trigname") or node.get("rulename")
               or _rel(node.get("sequence", {})))


def lint_statement(kind: str, node: dict[str, Any]) -> list[Problem]:
    """(message, fix) for each way the statement fails, or misbehaves, on a second run."""
    if kind == "IndexStmt" and not node.get("idxname"):
        return [("CREATE INDEX without a name adds another copy of the index on every run",
                 "name the index and write CREATE INDEX IF NOT EXISTS <name> ON ...")]
    if kind in _IF_NOT_EXISTS:
        what = _IF_NOT_EXISTS[kind]
        if kind == "CreateTableAsStmt" and node.get("objtype") == "OBJECT_MATVIEW":
            what = "CREATE MATERIALIZED VIEW"
        if not node.get("if_not_exists") and not node.get("base", {}).get("if_not_exists"):
            return [(f"{what} without IF NOT EXISTS",
                     f"write {what} IF NOT EXISTS {_subject(kind, node)}".rstrip())]
    if kind == "CreateTrigStmt" and node.get("isconstraint") and not node.get("replace"):
        return [("CREATE CONSTRAINT TRIGGER fails if it exists (it has no OR REPLACE)",
                 f"write DROP TRIGGER IF EXISTS {node.get('trigname')} ON "
                 f"{_rel(node.get('relation', {}))} first")]
    if kind in _OR_REPLACE and not node.get("replace"):
        what = _OR_REPLACE[kind]
        if kind == "CreateFunctionStmt" and node.get("is_procedure"):
            what = "CREATE PROCEDURE"
        return [(f"{what} without OR REPLACE",
                 f"write {what.replace('CREATE', 'CREATE OR REPLACE')} {_subject(kind, node)}")]
    if kind in _NO_IF_NOT_EXISTS or (kind == "DefineStmt" and node.get("kind") == "OBJECT_TYPE"):
        what, catalog = _NO_IF_NOT_EXISTS.get(kind, ("CREATE TYPE", "pg_type"))
        return [(f"{what} fails if it exists (no IF NOT EXISTS in PostgreSQL)", _do_block(catalog))]
    if kind in ("DropStmt", "DropRoleStmt") and not node.get("missing_ok"):
        return [("DROP without IF EXISTS", "write DROP ... IF EXISTS")]
    if kind == "SelectStmt" and node.get("intoClause"):
        return [("SELECT INTO creates a table and fails when run twice",
                 f"write CREATE TABLE IF NOT EXISTS {_rel(node['intoClause'].get('rel', {}))} "
                 "AS SELECT ...")]
    if kind == "AlterEnumStmt":
        return _alter_enum(node)
    if kind == "RenameStmt":
        return _rename(node)
    if kind == "AlterTableStmt":
        return _alter_table(node)
    return []


def _alter_enum(node: dict[str, Any]) -> list[Problem]:
    enum = _names(node.get("typeName", []))
    if node.get("oldVal"):
        return [("ALTER TYPE ... RENAME VALUE cannot run twice",
                 _do_block("pg_enum") + f" (renaming only while the old label is in {enum})")]
    if not node.get("skipIfNewValExists"):
        return [("ALTER TYPE ... ADD VALUE without IF NOT EXISTS",
                 f"write ALTER TYPE {enum} ADD VALUE IF NOT EXISTS '{node.get('newVal')}'")]
    return []


def _rename(node: dict[str, Any]) -> list[Problem]:
    # Even ALTER TABLE IF EXISTS old RENAME TO new fails on a second run of every
    # migration: the earlier CREATE TABLE IF NOT EXISTS old makes `old` again.
    return [("RENAME cannot run twice", "guard it: " + _do_block(
        "information_schema.columns" if node.get("subname") else "pg_class"))]


def _alter_table(node: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for item in node.get("cmds", ()):
        cmd = item.get("AlterTableCmd", {})
        subtype = cmd.get("subtype")
        if subtype == "AT_AddColumn" and not cmd.get("missing_ok"):
            column = cmd.get("def", {}).get("ColumnDef", {}).get("colname", "...")
            problems.append(("ADD COLUMN without IF NOT EXISTS",
                             f"write ADD COLUMN IF NOT EXISTS {column}"))
        elif subtype == "AT_AddConstraint":
            problems.append(("ADD CONSTRAINT fails if it exists (no IF NOT EXISTS in PostgreSQL)",
                             "declare the constraint in CREATE TABLE, or "
                             + _do_block("pg_constraint")))
        elif subtype in ("AT_DropColumn", "AT_DropConstraint") and not cmd.get("missing_ok"):
            problems.append(("DROP without IF EXISTS", "write DROP COLUMN/CONSTRAINT IF EXISTS"))
        elif subtype == "AT_AttachPartition":
            problems.append(("ATTACH PARTITION fails if it is attached already",
                             _do_block("pg_inherits")))
    return problems


def load_leniently(directory: Path, layout: str = "auto") -> tuple[list[MigrationFile],
                                                                    list[Finding]]:
    """The migrations `find_migrations` would load, and a `bad-file` finding for each file
    it would stop at (name, encoding, emptiness, directive, duplicate version, layout)."""
    problems: list[MigrationFileError] = []
    migrations = find_migrations(directory, layout=layout, problems=problems)
    return migrations, [_bad_file(exc) for exc in problems]


def _bad_file(exc: MigrationFileError) -> Finding:
    return Finding("bad-file", display_path(exc.path), exc.line or 1, exc.column or 1,
                   exc.message.split(": ", 1)[-1], exc.remedy or "")


def lint_notes(migrations: list[MigrationFile]) -> list[Finding]:
    """What the runner does differently from a file's letter (an outer BEGIN/COMMIT left
    out, another tool's tracking table skipped): said, not counted as findings."""
    notes: list[Finding] = []
    for m in migrations:
        try:
            parsed = read_migration(m.path, m.text, transactional=m.transactional)
        except MigrationFileError:
            continue  # lint_files reports it
        notes += [Finding("note", display_path(m.path), n.line, n.column, n.text, "")
                  for n in parsed.notes]
    return notes


def lint_files(migrations: list[MigrationFile]) -> list[Finding]:
    findings: list[Finding] = []
    for m in migrations:
        where = display_path(m.path)
        try:
            tree = read_migration(m.path, m.text, transactional=m.transactional).tree
        except MigrationFileError as exc:
            findings.append(_bad_file(exc))
            continue
        if not tree:
            findings.append(Finding("bad-file", where, 1, 1, "the file contains no SQL statement",
                                    "Add the migration's SQL, or delete the file."))
        for statement, node in tree:
            if m.transactional and statement.outside_transaction:
                fix = NO_TRANSACTION_FIX if statement.kind != "TransactionStmt" else \
                    "Remove it: workspace runs each migration in a transaction of its own."
                findings.append(Finding("outside-transaction", where, statement.line,
                                        statement.column, statement.outside_transaction, fix))
            for problem in lint_statement(statement.kind, node):
                findings.append(Finding("not-idempotent", where, statement.line,
                                        statement.column, *problem))
    return findings


def prove_rerunnable(url: str, migrations: list[MigrationFile],
                     settings: RunnerSettings) -> list[Finding]:
    """Apply every migration in a scratch database with the runner, then every migration
    once more, each in its own transaction as the runner would (so SET LOCAL still holds)
    and from a fresh session (as the runner resets it after each file), statement by
    statement under a savepoint; each statement that fails the second time is a finding.
    A migration that fails the first time raises `MigrationError`."""
    findings: list[Finding] = []
    with map_psycopg_errors("run-twice proof"), \
            scratch_database(url, timeout_s=settings.connect_timeout_s) as scratch:
        migrate(scratch, migrations, settings)
        with connection(scratch, timeout_s=settings.connect_timeout_s) as conn:
            for m in migrations:
                findings += _run_again(conn, m, settings)
    return findings


def _run_again(conn: psycopg.Connection[Any], m: MigrationFile,
               settings: RunnerSettings) -> list[Finding]:
    findings: list[Finding] = []
    lock = m.directives.lock_timeout or f"{int(settings.lock_timeout_s * 1000)}ms"
    stmt = m.directives.statement_timeout or f"{int(settings.statement_timeout_s * 1000)}ms"
    local = "LOCAL " if m.transactional else ""
    with conn.transaction() if m.transactional else nullcontext():
        conn.execute(f"SET {local}lock_timeout = '{lock}'; "
                     f"SET {local}statement_timeout = '{stmt}'".encode())
        for statement in m.statements:
            try:
                with conn.transaction() if m.transactional else nullcontext():  # a savepoint
                    conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                if exc.sqlstate is None:
                    raise  # the connection is gone: not the statement's fault
                position = int(exc.diag.statement_position or 0) - 1
                line, col = line_col(m.text, statement.offset + max(position, 0))
                findings.append(Finding(
                    "fails-twice", display_path(m.path), line, col,
                    redact.redact(f"second run fails: {exc.sqlstate} "
                                  f"{exc.diag.message_primary or exc}"),
                    "make the statement idempotent (IF NOT EXISTS, OR REPLACE, "
                    "ON CONFLICT DO NOTHING)"))
    conn.execute(RESET_SESSION.encode())
    return findings

