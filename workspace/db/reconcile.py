"""The SQL that would reconcile a changed or extra object with the migrations.

`db fix` never runs it (it may drop, rewrite or lock what holds data): it prints it, so
the user can put it in a migration or run it knowingly.

    reconcile_sql(expected, live, Drift("column", "kb.tags.color", "changed", ...))
    # 'ALTER TABLE kb.tags ALTER COLUMN color TYPE text'
"""

from __future__ import annotations

import re

from workspace.db.catalog import Catalog
from workspace.db.drift import Drift

__all__ = ["reconcile_sql"]

_DROP = {"table": "DROP TABLE", "index": "DROP INDEX", "function": "DROP FUNCTION",
         "view": "DROP VIEW", "materialized view": "DROP MATERIALIZED VIEW",
         "sequence": "DROP SEQUENCE", "schema": "DROP SCHEMA", "type": "DROP TYPE",
         "extension": "DROP EXTENSION"}
_DOMAIN = re.compile(r"^(?P<base>.+?)(?: COLLATE (?P<collation>\S+))?"
                     r"(?: DEFAULT (?P<default>.+?))?(?P<not_null> NOT NULL)?$")
_TRIGGER_VERBS = {"O": "ENABLE", "D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}


def reconcile_sql(expected: Catalog, live: Catalog, d: Drift) -> str:
    """Statements separated by `;\\n`, or '' when there is nothing sensible to print."""
    if d.problem == "invalid":
        return f"REINDEX INDEX CONCURRENTLY {d.name}"
    if d.problem == "extra":
        return _extra(live, d)
    if d.problem == "changed":
        return _changed(expected, live, d)
    return ""


def _extra(live: Catalog, d: Drift) -> str:
    item = live.items.get(f"{d.kind}:{d.name}")
    if item is not None:
        return item.drop
    table, _, name = d.name.rpartition(".")
    if d.kind == "column":
        return f"ALTER TABLE {table} DROP COLUMN {name}"
    if d.kind == "constraint":
        return f"ALTER TABLE {table} DROP CONSTRAINT {name}"
    if d.kind == "trigger":
        return f"DROP TRIGGER {name} ON {table}"
    if d.kind == "row level security":
        return f"ALTER TABLE {d.name} DISABLE ROW LEVEL SECURITY"
    if d.kind == "forced row level security":
        return f"ALTER TABLE {d.name} NO FORCE ROW LEVEL SECURITY"
    if d.kind in _DROP:
        return f"{_DROP[d.kind]} {d.name}"
    return ""


def _changed(e: Catalog, a: Catalog, d: Drift) -> str:
    item = e.items.get(f"{d.kind}:{d.name}")
    if item is not None and d.kind == "domain":
        return _domain(d.name, item.definition, a.items[f"{d.kind}:{d.name}"].definition)
    if item is not None and d.kind == "comment":
        return item.create
    if item is not None:  # dropped and made again: so are its comments
        children = [i.create for i in e.items.values() if i.parent == item.name]
        return ";\n".join([item.drop, item.create, *children])
    table, _, name = d.name.rpartition(".")
    if d.kind == "column":
        return _column(e, a, table, name)
    if d.kind == "constraint":
        kind, definition = e.tables[table].constraints[name]
        return (f"ALTER TABLE {table} DROP CONSTRAINT {name};\n"
                f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    if d.kind == "trigger":
        want, have = e.tables[table], a.tables[table]
        if want.triggers[name] != have.triggers[name]:
            return f"DROP TRIGGER {name} ON {table};\n{want.triggers[name]}"
        verb = _TRIGGER_VERBS[want.trigger_states.get(name, "O")]
        return f"ALTER TABLE {table} {verb} TRIGGER {name}"
    if d.kind == "table":
        return _table(e, a, d.name)
    if d.kind == "sequence":
        return _sequence(e, a, d.name)
    if d.kind == "index":
        return f"DROP INDEX {d.name};\n{e.indexes[d.name][1]}"
    if d.kind == "function":
        return e.functions[d.name]
    if d.kind in ("view", "materialized view"):
        return _view(e, a, d)
    if d.kind == "owner":
        return f"ALTER {d.name} OWNER TO {e.owners[d.name]}"
    if d.kind == "type":
        return f"-- ALTER TYPE {d.name} ADD VALUE ... until its values are ({e.types[d.name]})"
    return ""


def _column(e: Catalog, a: Catalog, table: str, name: str) -> str:
    want, have = e.tables[table].columns[name], a.tables[table].columns[name]
    alter = f"ALTER TABLE {table} ALTER COLUMN {name}"
    out = []
    if (want.type, want.collation) != (have.type, have.collation):
        collate = f" COLLATE {want.collation}" if want.collation else ""
        out.append(f"{alter} TYPE {want.type}{collate} USING {name}::{want.type}")
    if want.default != have.default and not want.identity and not want.generated:
        out.append(f"{alter} SET DEFAULT {want.default}" if want.default is not None
                   else f"{alter} DROP DEFAULT")
    if want.not_null != have.not_null:
        out.append(f"{alter} {'SET' if want.not_null else 'DROP'} NOT NULL")
    return ";\n".join(out)


def _sequence(e: Catalog, a: Catalog, name: str) -> str:
    want, have = e.sequences[name], a.sequences[name]
    out = [f"ALTER SEQUENCE {name} AS {want.type} INCREMENT BY {want.increment} "
           f"MINVALUE {want.min} MAXVALUE {want.max} START WITH {want.start} "
           f"CACHE {want.cache} {'' if want.cycle else 'NO '}CYCLE "
           f"OWNED BY {want.owned_by or 'NONE'}"]
    if want.unlogged != have.unlogged:
        out.append(f"ALTER SEQUENCE {name} SET {'UNLOGGED' if want.unlogged else 'LOGGED'}")
    return ";\n".join(out)


def _options(kind: str, name: str, want: str, have: str) -> list[str]:
    out = []
    wanted = dict(o.split("=", 1) for o in want.split(", ") if o)
    had = dict(o.split("=", 1) for o in have.split(", ") if o)
    removed = sorted(had.keys() - wanted.keys())
    if removed:
        out.append(f"ALTER {kind} {name} RESET ({', '.join(removed)})")
    if wanted and wanted != had:
        out.append(f"ALTER {kind} {name} SET ({want})")
    return out


def _table(e: Catalog, a: Catalog, name: str) -> str:
    want, have = e.tables[name], a.tables[name]
    out = _options("TABLE", name, want.options, have.options)
    if want.unlogged != have.unlogged:
        out.append(f"ALTER TABLE {name} SET {'UNLOGGED' if want.unlogged else 'LOGGED'}")
    if want.partition_key != have.partition_key:
        shape = f"PARTITION BY {want.partition_key}" if want.partition_key else "unpartitioned"
        out.append(f"-- no safe SQL: partitioning cannot be altered in place; recreate {name} "
                   f"{shape} and move its rows into it")
    elif (want.partition_of, want.partition_bound) != (have.partition_of, have.partition_bound):
        # ATTACH checks every row against the bound (and the default partition's rows
        # against it): rows that do not fit make it fail, whole; none is moved or lost.
        if have.partition_of:
            out.append(f"ALTER TABLE {have.partition_of} DETACH PARTITION {name}")
        if want.partition_of:
            out.append(f"ALTER TABLE {want.partition_of} ATTACH PARTITION {name} "
                       f"{want.partition_bound}")
    return ";\n".join(out)


def _view(e: Catalog, a: Catalog, d: Drift) -> str:
    materialized, definition, _ = e.views[d.name]
    if definition != a.views[d.name][1]:
        query = definition.strip().rstrip(";")
        if materialized:
            return (f"DROP MATERIALIZED VIEW {d.name};\n"
                    f"CREATE MATERIALIZED VIEW {d.name} AS\n{query}")
        return f"CREATE OR REPLACE VIEW {d.name} AS\n{query}"
    word = "MATERIALIZED VIEW" if materialized else "VIEW"
    return ";\n".join(_options(word, d.name, e.view_options.get(d.name, ""),
                               a.view_options.get(d.name, "")))


def _domain(name: str, want: str, have: str) -> str:
    wanted, had = _DOMAIN.match(want), _DOMAIN.match(have)
    if wanted is None or had is None or wanted["base"] != had["base"] or \
            wanted["collation"] != had["collation"]:
        return f"-- {name}: the base type or collation differs; recreate it as {want}"
    out = []
    if wanted["default"] != had["default"]:
        out.append(f"ALTER DOMAIN {name} SET DEFAULT {wanted['default']}" if wanted["default"]
                   else f"ALTER DOMAIN {name} DROP DEFAULT")
    if wanted["not_null"] != had["not_null"]:
        out.append(f"ALTER DOMAIN {name} {'SET' if wanted['not_null'] else 'DROP'} NOT NULL")
    return ";\n".join(out)
