"""Roles the migrations name (GRANT ... TO, REVOKE ... FROM, CREATE POLICY ... TO,
OWNER TO, ALTER DEFAULT PRIVILEGES FOR ROLE, GRANT role TO ...) must exist on the server.

Roles are cluster-wide: no migration file can count on one that no migration creates.
Checked from pglast's parse tree before anything is applied, so a missing role is its
own clear error naming the role and file:line, not a 42704 half-way through a file.
Roles the pending migrations create themselves (CREATE ROLE, also inside a DO block)
are not asked for.

    check_roles(conn, plan.pending)   # raises RoleMissing
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from workspace.db.files import MigrationFile
from workspace.db.sqlparse import line_col
from workspace.errors import RoleMissing, display_path

__all__ = ["RoleUse", "check_roles", "roles_used"]

# CREATE ROLE/USER/GROUP inside a DO block's body, which the parser leaves as a string.
_CREATED_IN_DO = re.compile(r"\bCREATE\s+(?:ROLE|USER|GROUP)\s+(\"(?:[^\"]|\"\")+\"|[\w$]+)",
                            re.IGNORECASE)
# A file without these words names no role: it is not parsed again.
_MAY_NAME_ROLES = re.compile(r"\b(GRANT|REVOKE|OWNER|ROLE|USER|GROUP|AUTHORIZATION|POLICY)\b",
                             re.IGNORECASE)
# Statements whose role names need not exist (or are being made).
_SKIP = {"DropRoleStmt", "CreateRoleStmt"}


@dataclass(frozen=True)
class RoleUse:
    role: str
    migration: MigrationFile
    line: int
    column: int

    def where(self) -> str:
        return f"{display_path(self.migration.path)}:{self.line}:{self.column}"


def roles_used(migrations: list[MigrationFile]) -> tuple[list[RoleUse], set[str]]:
    """Every role named by the migrations, and the roles they create."""
    uses: list[RoleUse] = []
    created: set[str] = set()
    for migration in migrations:
        text = migration.text
        if not _MAY_NAME_ROLES.search(text):
            continue
        data = text.encode("utf-8")
        for statement, node in migration.parsed.tree:  # what runs
            if statement.kind == "CreateRoleStmt":
                created.add(str(node.get("role", "")))
            elif statement.kind == "DoStmt":
                created |= {_identifier(m) for m in _CREATED_IN_DO.findall(_do_body(node))}
            if statement.kind in _SKIP:
                continue
            for role, location in _role_names(statement.kind, node):
                offset = statement.offset if location is None else \
                    len(data[:location].decode("utf-8", errors="replace"))
                line, column = line_col(text, offset)
                uses.append(RoleUse(role, migration, line, column))
    return uses, created


def check_roles(conn: psycopg.Connection[Any], pending: list[MigrationFile]) -> None:
    """Raise RoleMissing when a pending migration names a role the server lacks."""
    if not pending:
        return
    uses, created = roles_used(pending)
    wanted = sorted({u.role for u in uses} - created)
    if not wanted:
        return
    rows = conn.execute(b"SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                        (wanted,)).fetchall()
    missing = [r for r in wanted if r not in {row[0] for row in rows}]
    if missing:
        raise RoleMissing(missing, [u.where() for u in uses if u.role in missing])


def _role_names(kind: str, node: Any) -> Iterator[tuple[str, int | None]]:
    """(name, byte location) of each named role: RoleSpec nodes (not PUBLIC, CURRENT_USER
    and the like) and the roles GRANT role TO ... hands out."""
    if isinstance(node, dict):
        if "roletype" in node:  # a RoleSpec, wrapped or inline (OWNER TO's newowner)
            if node["roletype"] == "ROLESPEC_CSTRING" and node.get("rolename"):
                yield str(node["rolename"]), node.get("location")
            return
        for key, value in node.items():
            if key == "AccessPriv" and kind == "GrantRoleStmt" and isinstance(value, dict):
                if value.get("priv_name"):
                    yield str(value["priv_name"]), None
            else:
                yield from _role_names(kind, value)
    elif isinstance(node, list):
        for value in node:
            yield from _role_names(kind, value)


def _do_body(node: dict[str, Any]) -> str:
    for arg in node.get("args", ()):
        elem = arg.get("DefElem", {})
        if elem.get("defname") == "as":
            return str(elem.get("arg", {}).get("String", {}).get("sval", ""))
    return ""


def _identifier(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()
