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

__all__ = ["Catalog", "Column", "Table", "read_catalog"]

FORMAT = 1  # bump when what is read changes: cached expected schemas are keyed on it

_NS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') "
       "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")


def _not_ext(catalog: str, oid: str) -> str:
    return (f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
            f"AND d.objid = {oid} AND d.deptype = 'e')")


_REL = (f"{_NS} AND {_not_ext('pg_class', 'c.oid')} "
        "AND NOT (n.nspname = 'public' AND c.relname = 'schema_migrations')")

QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT quote_ident(n.nspname) FROM pg_namespace n
        WHERE {_NS} AND {_not_ext('pg_namespace', 'n.oid')} ORDER BY 1""",
    "extensions": """
        SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1""",
    "types": f"""
        SELECT format('%I.%I', n.nspname, t.typname),
               (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                FROM pg_enum e WHERE e.enumtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'e' AND {_NS} AND {_not_ext('pg_type', 't.oid')} ORDER BY 1""",
    "sequences": f"""
        SELECT format('%I.%I', n.nspname, c.relname), format_type(s.seqtypid, NULL),
               s.seqstart, s.seqincrement,
               (SELECT format('%I.%I.%I', tn.nspname, tc.relname, a.attname)
                FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE c.relkind = 'S' AND {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'i')
        ORDER BY 1""",
    "columns": f"""
        SELECT format('%I.%I', n.nspname, c.relname), quote_ident(a.attname),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attnum
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p') AND {_REL}
        ORDER BY 1, a.attnum""",
    "tables": f"""
        SELECT format('%I.%I', n.nspname, c.relname), c.relkind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {_REL} ORDER BY 1""",
    "constraints": f"""
        SELECT format('%I.%I', n.nspname, c.relname), quote_ident(k.conname), k.contype,
               pg_get_constraintdef(k.oid, true)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {_REL} ORDER BY 1, 2""",
    "indexes": f"""
        SELECT format('%I.%I', n.nspname, i.relname), format('%I.%I', n.nspname, c.relname),
               pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                          AND k.contype IN ('p', 'u', 'x'))
        ORDER BY 1""",
    "functions": f"""
        SELECT format('%I.%I(%s)', n.nspname, p.proname,
                      pg_get_function_identity_arguments(p.oid)),
               pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p') AND {_NS} AND {_not_ext('pg_proc', 'p.oid')}
        ORDER BY 1""",
    "triggers": f"""
        SELECT format('%I.%I', n.nspname, c.relname), quote_ident(t.tgname),
               pg_get_triggerdef(t.oid, true)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p') AND {_REL} ORDER BY 1, 2""",
    "views": f"""
        SELECT format('%I.%I', n.nspname, c.relname), c.relkind = 'm',
               pg_get_viewdef(c.oid, true), c.relispopulated
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_REL} ORDER BY c.oid""",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    generated: str  # '' | 's' (STORED)


@dataclass(frozen=True)
class Table:
    name: str
    partitioned: bool
    columns: dict[str, Column] = field(default_factory=dict)
    constraints: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (type, def)
    triggers: dict[str, str] = field(default_factory=dict)  # name -> definition


@dataclass
class Catalog:
    schemas: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)  # name -> version
    types: dict[str, str] = field(default_factory=dict)  # enum name -> labels
    sequences: dict[str, tuple[str, int, int, str | None]] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    indexes: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (table, def)
    functions: dict[str, str] = field(default_factory=dict)  # signature -> definition
    views: dict[str, tuple[bool, str, bool]] = field(default_factory=dict)  # materialized, def, populated

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        tables = {
            name: Table(t["name"], t["partitioned"],
                        {c: Column(**col) for c, col in t["columns"].items()},
                        {k: (v[0], v[1]) for k, v in t["constraints"].items()},
                        dict(t["triggers"]))
            for name, t in data["tables"].items()
        }
        return cls(list(data["schemas"]), dict(data["extensions"]), dict(data["types"]),
                   {k: (v[0], v[1], v[2], v[3]) for k, v in data["sequences"].items()},
                   tables, {k: (v[0], v[1]) for k, v in data["indexes"].items()},
                   dict(data["functions"]),
                   {k: (v[0], v[1], v[2]) for k, v in data["views"].items()})


def read_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Read everything in one transaction, so the picture is consistent."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with conn.transaction():
        for kind, query in QUERIES.items():
            rows[kind] = conn.execute(query.encode()).fetchall()
    cat = Catalog()
    cat.schemas = [r[0] for r in rows["schemas"]]
    cat.extensions = {r[0]: r[1] for r in rows["extensions"]}
    cat.types = {r[0]: r[1] for r in rows["types"]}
    cat.sequences = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows["sequences"]}
    cat.tables = {r[0]: Table(r[0], r[1] == "p") for r in rows["tables"]}
    for table, name, type_, not_null, default, identity, generated, _ in rows["columns"]:
        cat.tables[table].columns[name] = Column(name, type_, not_null, default, identity,
                                                 generated)
    for table, name, kind, definition in rows["constraints"]:
        cat.tables[table].constraints[name] = (kind, definition)
    for table, name, definition in rows["triggers"]:
        cat.tables[table].triggers[name] = definition
    cat.indexes = {r[0]: (r[1], r[2]) for r in rows["indexes"]}
    cat.functions = {r[0]: r[1] for r in rows["functions"]}
    cat.views = {r[0]: (r[1], r[2], r[3]) for r in rows["views"]}
    return cat
