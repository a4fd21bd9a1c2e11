"""Read a database's schema from pg_catalog into plain, comparable values.

It only reads; comparison lives in `drift.py`. Every definition is the text PostgreSQL
itself renders (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_functiondef`,
`pg_get_triggerdef`, `pg_get_viewdef`, `format_type`, `pg_get_expr`), so two databases
built from the same migrations read the same, and a fix can replay the text as is.
Objects that belong to an extension, and the tracking table, are left out.

    catalog = read_catalog(conn)
    catalog.tables["kb.tags"].columns["name"].type   # 'text'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from workspace.db.catalog_items import ITEM_QUERIES
from workspace.db.catalog_sql import QUERIES

__all__ = ["QUERIES", "Catalog", "Column", "Item", "Sequence", "Table", "read_catalog"]

FORMAT = 5  # bump when what is read changes: cached expected schemas are keyed on it
ITEMS_QUERY = " UNION ALL ".join(f"({query})" for query in ITEM_QUERIES.values()).encode()
SESSION = (b"SET LOCAL search_path = ''; SET LOCAL TimeZone = 'UTC'; "
           b"SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL IntervalStyle = 'postgres'")

@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    generated: str  # '' | 's' (STORED)
    collation: str = ""  # a collation other than the type's, e.g. pg_catalog."C"
    local: bool = True  # False: inherited from a partitioned parent


@dataclass(frozen=True)
class Table:
    name: str
    partitioned: bool
    columns: dict[str, Column] = field(default_factory=dict)
    constraints: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (type, def)
    triggers: dict[str, str] = field(default_factory=dict)  # name -> definition
    row_security: bool = False  # relrowsecurity
    force_row_security: bool = False  # relforcerowsecurity
    options: str = ""  # reloptions, sorted: "fillfactor=90"
    unlogged: bool = False
    partition_key: str = ""  # pg_get_partkeydef: "RANGE (occurred_at)"
    partition_of: str = ""  # the parent of a partition
    partition_bound: str = ""  # "FOR VALUES FROM (...) TO (...)", "DEFAULT"
    trigger_states: dict[str, str] = field(default_factory=dict)  # name -> tgenabled, not 'O'


@dataclass(frozen=True)
class Sequence:
    type: str
    start: int
    increment: int
    owned_by: str | None
    min: int = 1
    max: int = 2**63 - 1
    cache: int = 1
    cycle: bool = False
    unlogged: bool = False


@dataclass(frozen=True)
class Item:
    """An object compared as a whole: a policy, grant, comment, domain, statistics, ...

    `definition` is what is compared, `create` the SQL that makes it, `drop` the SQL that
    would remove it (printed, never run), `parent` the object it hangs off (a table,
    column, view, function, type or schema): repairing that object brings it back too."""

    kind: str
    name: str
    definition: str
    create: str
    drop: str
    parent: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass
class Catalog:
    schemas: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)  # name -> version
    types: dict[str, str] = field(default_factory=dict)  # enum name -> labels
    sequences: dict[str, Sequence] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    indexes: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (table, def)
    functions: dict[str, str] = field(default_factory=dict)  # signature -> definition
    views: dict[str, tuple[bool, str, bool]] = field(default_factory=dict)  # materialized, def, populated
    view_options: dict[str, str] = field(default_factory=dict)  # view -> reloptions, when set
    items: dict[str, Item] = field(default_factory=dict)  # Item.key -> item
    invalid_indexes: list[str] = field(default_factory=list)  # indisvalid false
    inherited: list[str] = field(default_factory=list)  # indexes, table.constraint, table.trigger
    # a partition gets from its parent
    type_dependents: dict[str, list[str]] = field(default_factory=dict)  # type -> "column:..."
    owners: dict[str, str] = field(default_factory=dict)  # "TABLE kb.t" -> role

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        if data.get("format") != FORMAT:
            raise ValueError(f"catalog format {data.get('format')}, expected {FORMAT}")
        tables = {
            name: Table(**{**t, "columns": {c: Column(**col) for c, col in t["columns"].items()},
                           "constraints": {k: (v[0], v[1]) for k, v in t["constraints"].items()}})
            for name, t in data["tables"].items()
        }
        return cls(list(data["schemas"]), dict(data["extensions"]), dict(data["types"]),
                   {k: Sequence(**v) for k, v in data["sequences"].items()},
                   tables, {k: (v[0], v[1]) for k, v in data["indexes"].items()},
                   dict(data["functions"]),
                   {k: (v[0], v[1], v[2]) for k, v in data["views"].items()},
                   dict(data["view_options"]),
                   {k: Item(**v) for k, v in data["items"].items()},
                   list(data["invalid_indexes"]), list(data["inherited"]),
                   {k: list(v) for k, v in data["type_dependents"].items()},
                   dict(data["owners"]))


def read_catalog(conn: psycopg.Connection[Any], *, owners: bool = True,
                 dependents: bool = True) -> Catalog:
    """Read everything in one transaction, so the picture is consistent. `owners` and
    `dependents` (what uses each type) False leave those out (empty): a live catalog
    compared without owners needs neither, and they are a tenth of the server's work."""
    skip = {kind for kind, wanted in (("owners", owners), ("type_dependents", dependents))
            if not wanted}
    with conn.transaction():
        # Rendering depends on these: pin them, so every session reads the same text
        # (types and tables always schema-qualified, bounds and defaults in UTC).
        conn.execute(SESSION)
        with conn.pipeline():  # every query sent at once: one round trip, not 28
            cursors = {kind: conn.execute(query.encode()) for kind, query in QUERIES.items()
                       if kind not in skip}
            items_cursor = conn.execute(ITEMS_QUERY)
        rows = {kind: cursor.fetchall() for kind, cursor in cursors.items()}
        items = items_cursor.fetchall()
    cat = Catalog()
    cat.schemas = [r[0] for r in rows["schemas"]]
    cat.extensions = {r[0]: r[1] for r in rows["extensions"]}
    cat.types = {r[0]: r[1] for r in rows["types"]}
    cat.sequences = {r[0]: Sequence(*r[1:]) for r in rows["sequences"]}
    cat.tables = {r[0]: Table(r[0], r[1] == "p", row_security=r[2], force_row_security=r[3],
                              options=r[4], unlogged=r[5], partition_key=r[6],
                              partition_of=r[7], partition_bound=r[8])
                  for r in rows["tables"]}
    for table, name, type_, not_null, default, identity, generated, _, collation, local \
            in rows["columns"]:
        cat.tables[table].columns[name] = Column(name, type_, not_null, default, identity,
                                                 generated, collation, local)
    for table, name, kind, definition, inherited in rows["constraints"]:
        cat.tables[table].constraints[name] = (kind, definition)
        if inherited:
            cat.inherited.append(f"{table}.{name}")
    for table, name, definition, enabled, inherited in rows["triggers"]:
        cat.tables[table].triggers[name] = definition
        if enabled != "O":
            cat.tables[table].trigger_states[name] = enabled
        if inherited:
            cat.inherited.append(f"{table}.{name}")
    for name, table, definition, valid, inherited in rows["indexes"]:
        cat.indexes[name] = (table, definition)
        if not valid:
            cat.invalid_indexes.append(name)
        if inherited:
            cat.inherited.append(name)
    cat.functions = {r[0]: r[1] for r in rows["functions"]}
    cat.views = {r[0]: (r[1], r[2], r[3]) for r in rows["views"]}
    cat.view_options = {r[0]: r[4] for r in rows["views"] if r[4]}
    for type_, dependent in rows.get("type_dependents", ()):
        if dependent:
            cat.type_dependents.setdefault(type_, []).append(dependent)
    cat.owners = {r[0]: r[1] for r in rows.get("owners", ())}
    for row in sorted(items, key=lambda r: (r[0], r[1])):
        item = Item(*row)
        cat.items[item.key] = item
    return cat
