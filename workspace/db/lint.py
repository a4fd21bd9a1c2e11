"""Lint: the guide's best practices, checked over the migration files.

Static rules read each statement's parse tree (libpg_query, through pglast):
- `not-idempotent`: DDL that fails when run twice (CREATE without IF NOT EXISTS, CREATE
  FUNCTION/VIEW/TRIGGER without OR REPLACE, ADD COLUMN without IF NOT EXISTS, DROP
  without IF EXISTS, ADD CONSTRAINT, CREATE TYPE/DOMAIN/POLICY, RENAME);
- `outside-transaction`: statements that cannot run in a transaction, in a file that
  runs in one; and `bad-file`: whatever else stops a file from loading.
Statements inside DO blocks are not inspected: a DO block is how PostgreSQL spells
"create it if it is not there" for objects without IF NOT EXISTS.

The dynamic proof, `prove_rerunnable`, applies every migration twice in a scratch
database: what static rules miss (an INSERT without ON CONFLICT) fails there.

    findings = lint_files(find_migrations(Path("migrations")))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from workspace import redact
from workspace.db.connect import connection
from workspace.db.files import MigrationFile
from workspace.db.runner import RunnerSettings, migrate
from workspace.db.scratch import scratch_database
from workspace.db.sqlparse import NO_TRANSACTION_FIX, line_col, parse_tree
from workspace.errors import MigrationFileError, display_path

__all__ = ["Finding", "lint_files", "lint_statement", "prove_rerunnable"]


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


_IF_NOT_EXISTS = {  # node -> (what, flag carrying IF NOT EXISTS)
    "CreateStmt": ("CREATE TABLE", "if_not_exists"),
    "IndexStmt": ("CREATE INDEX", "if_not_exists"),
    "CreateSchemaStmt": ("CREATE SCHEMA", "if_not_exists"),
    "CreateSeqStmt": ("CREATE SEQUENCE", "if_not_exists"),
    "CreateExtensionStmt": ("CREATE EXTENSION", "if_not_exists"),
    "CreateTableAsStmt": ("CREATE TABLE AS / MATERIALIZED VIEW", "if_not_exists"),
}
_OR_REPLACE = {
    "CreateFunctionStmt": ("CREATE FUNCTION", "replace"),
    "ViewStmt": ("CREATE VIEW", "replace"),
    "CreateTrigStmt": ("CREATE TRIGGER", "replace"),
    "RuleStmt": ("CREATE RULE", "replace"),
}
_NO_IF_NOT_EXISTS = {
    "CompositeTypeStmt": "CREATE TYPE",
    "CreateEnumStmt": "CREATE TYPE ... AS ENUM",
    "CreateDomainStmt": "CREATE DOMAIN",
    "CreatePolicyStmt": "CREATE POLICY",
}
_DO_BLOCK = ("wrap it in a DO block that checks the catalog first, e.g. "
             "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_type WHERE typname = '...') "
             "THEN ...; END IF; END $$")


def lint_statement(kind: str, node: dict[str, Any]) -> tuple[str, str] | None:
    """(message, fix) when the statement fails on a second run, else None."""
    if kind in _IF_NOT_EXISTS:
        what, flag = _IF_NOT_EXISTS[kind]
        if kind == "CreateTableAsStmt" and node.get("objtype") == "OBJECT_MATVIEW":
            what = "CREATE MATERIALIZED VIEW"
        target = node.get("into", {}).get("rel", {}) if kind == "CreateTableAsStmt" else node
        if not node.get(flag) and not target.get(flag):
            return f"{what} without IF NOT EXISTS", f"write {what} IF NOT EXISTS"
    if kind in _OR_REPLACE:
        what, flag = _OR_REPLACE[kind]
        if kind == "CreateFunctionStmt" and node.get("is_procedure"):
            what = "CREATE PROCEDURE"
        if not node.get(flag):
            return f"{what} without OR REPLACE", f"write {what.replace('CREATE', 'CREATE OR REPLACE')}"
    if kind in _NO_IF_NOT_EXISTS:
        what = _NO_IF_NOT_EXISTS[kind]
        return f"{what} fails if it exists (no IF NOT EXISTS in PostgreSQL)", _DO_BLOCK
    if kind == "DropStmt" and not node.get("missing_ok"):
        return "DROP without IF EXISTS", "write DROP ... IF EXISTS"
    if kind == "RenameStmt":
        return "RENAME cannot run twice", f"guard it: {_DO_BLOCK}"
    if kind == "AlterTableStmt":
        return _alter_table(node)
    return None


def _alter_table(node: dict[str, Any]) -> tuple[str, str] | None:
    for item in node.get("cmds", ()):
        cmd = item.get("AlterTableCmd", {})
        subtype = cmd.get("subtype")
        if subtype == "AT_AddColumn" and not cmd.get("missing_ok"):
            return ("ADD COLUMN without IF NOT EXISTS",
                    "write ALTER TABLE ... ADD COLUMN IF NOT EXISTS")
        if subtype == "AT_AddConstraint":
            return ("ADD CONSTRAINT fails if it exists (no IF NOT EXISTS in PostgreSQL)",
                    "declare the constraint in CREATE TABLE, or " + _DO_BLOCK.replace(
                        "pg_type WHERE typname", "pg_constraint WHERE conname"))
        if subtype in ("AT_DropColumn", "AT_DropConstraint") and not cmd.get("missing_ok"):
            return "DROP without IF EXISTS", "write DROP COLUMN/CONSTRAINT IF EXISTS"
    return None


def lint_files(migrations: list[MigrationFile]) -> list[Finding]:
    findings: list[Finding] = []
    for m in migrations:
        where = display_path(m.path)
        try:
            tree = parse_tree(m.path, m.text)
        except MigrationFileError as exc:
            findings.append(Finding("bad-file", where, exc.line or 1, exc.column or 1,
                                    exc.message.split(": ", 1)[-1], exc.remedy))
            continue
        for statement, node in tree:
            if m.transactional and statement.outside_transaction:
                findings.append(Finding("outside-transaction", where, statement.line,
                                        statement.column, statement.outside_transaction,
                                        NO_TRANSACTION_FIX))
            problem = lint_statement(statement.kind, node)
            if problem:
                findings.append(Finding("not-idempotent", where, statement.line,
                                        statement.column, *problem))
    return findings


def prove_rerunnable(url: str, migrations: list[MigrationFile],
                     settings: RunnerSettings) -> list[Finding]:
    """Apply every migration in a scratch database, then every statement once more;
    each statement that fails the second time is a finding."""
    findings: list[Finding] = []
    with scratch_database(url, timeout_s=settings.connect_timeout_s) as scratch:
        migrate(scratch, migrations, settings)
        with connection(scratch, timeout_s=settings.connect_timeout_s) as conn:
            for m in migrations:
                for statement in m.statements:
                    try:
                        if m.transactional:
                            with conn.transaction():
                                conn.execute(statement.text.encode())
                        else:
                            conn.execute(statement.text.encode())
                    except psycopg.Error as exc:
                        position = int(exc.diag.statement_position or 0) - 1
                        line, col = line_col(m.text, statement.offset + max(position, 0))
                        findings.append(Finding(
                            "fails-twice", display_path(m.path), line, col,
                            redact.redact(f"second run fails: {exc.sqlstate} "
                                          f"{exc.diag.message_primary or exc}"),
                            "make the statement idempotent (IF NOT EXISTS, OR REPLACE, "
                            "ON CONFLICT DO NOTHING)"))
    return findings
