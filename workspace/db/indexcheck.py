"""After a no-transaction migration: is every index it built or touched valid?

`CREATE INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY` and `DROP INDEX CONCURRENTLY`
that fail half-way leave an INVALID index behind (pg_index.indisvalid false): queries
do not use it, and a rerun's `IF NOT EXISTS` skips it as if all were well. So before a
no-transaction migration is recorded, every index on the relations the file names (read
from its parse tree), every index it names, and for `REINDEX SCHEMA|DATABASE|SYSTEM
CONCURRENTLY` every index of that scope must be valid. An INVALID index elsewhere is
not this migration's business.

    invalid = find_invalid(conn, migration)   # [("public.t_v", "public.t"), ...]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from workspace.db.files import MigrationFile

__all__ = ["Scope", "find_invalid", "scope_of"]

# Names are resolved by the server with the session the file ran in (its search_path),
# as the file's own statements resolved them.
_INVALID = b"""
WITH named AS (SELECT to_regclass(n) AS oid FROM unnest(%(names)s::text[]) AS n)
SELECT format('%%I.%%I', si.nspname, ci.relname), format('%%I.%%I', st.nspname, ct.relname)
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_namespace si ON si.oid = ci.relnamespace
JOIN pg_class ct ON ct.oid = i.indrelid JOIN pg_namespace st ON st.oid = ct.relnamespace
WHERE NOT i.indisvalid
  AND (i.indrelid IN (SELECT oid FROM named) OR i.indexrelid IN (SELECT oid FROM named)
       OR st.nspname = ANY(%(schemas)s::text[]) OR %(everything)s)
ORDER BY 1
"""


@dataclass
class Scope:
    """What a file touches: relation names (quoted, maybe qualified), whole schemas, or
    the whole database."""

    names: set[str] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)
    everything: bool = False


def scope_of(migration: MigrationFile) -> Scope:
    scope = Scope()
    for statement, node in migration.parsed.tree:  # what runs
        if statement.kind == "ReindexStmt":
            kind = str(node.get("kind", ""))
            if kind == "REINDEX_OBJECT_SCHEMA" and node.get("name"):
                scope.schemas.add(str(node["name"]))
            elif kind in ("REINDEX_OBJECT_DATABASE", "REINDEX_OBJECT_SYSTEM"):
                scope.everything = True
        if statement.kind == "DropStmt" and node.get("removeType") == "OBJECT_INDEX":
            for item in node.get("objects", ()):
                parts = [p.get("String", {}).get("sval") for p in
                         item.get("List", {}).get("items", ())]
                if parts and all(parts):
                    scope.names.add(".".join(_quote(str(p)) for p in parts))
        scope.names.update(_relations(node))
    return scope


def find_invalid(conn: psycopg.Connection[Any], migration: MigrationFile) -> list[tuple[str, str]]:
    """(index, table), schema-qualified, for every INVALID index in the file's scope."""
    scope = scope_of(migration)
    if not (scope.names or scope.schemas or scope.everything):
        return []
    rows = conn.execute(_INVALID, {"names": sorted(scope.names),
                                   "schemas": sorted(scope.schemas),
                                   "everything": scope.everything}).fetchall()
    return [(str(index), str(table)) for index, table in rows]


def _relations(node: Any) -> Iterator[str]:
    """Every RangeVar of a parse tree (JSON form: wrapped as {"RangeVar": ...} where the
    field is any node, bare where it is typed, e.g. IndexStmt.relation)."""
    if isinstance(node, dict):
        if "relname" in node and isinstance(node["relname"], str):
            parts = [node.get("schemaname"), node["relname"]]  # a catalog name is ours
            yield ".".join(_quote(p) for p in parts if p)
        for value in node.values():
            yield from _relations(value)
    elif isinstance(node, list):
        for value in node:
            yield from _relations(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
