"""`db fix`: recreate only what is missing, in its final shape, in one transaction.

The statements are rendered from the expected schema (the catalog of a database the
migrations built), so an object created in 0001 and altered in a later migration comes
back altered. Nothing is dropped, renamed or rewritten, and no row is touched: changed
and extra objects are left for the user. Each step runs under a savepoint, so one that
cannot be repaired is reported with the server's reason while the others still commit.

    steps = plan_fix(expected, report.drifts)
    done, failed = apply_fix(url, steps, timeout_s=10)
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from workspace import redact
from workspace.db.catalog import Catalog, Column
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.drift import Drift

__all__ = ["Step", "apply_fix", "plan_fix"]

# Dependency order: what a later step may need comes first.
ORDER = ("schema", "extension", "type", "sequence", "function", "table", "column",
         "constraint", "foreign key", "sequence owner", "view", "materialized view", "index",
         "trigger")


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    sql: str

    @property
    def rank(self) -> int:
        return ORDER.index(self.kind)


def plan_fix(expected: Catalog, drifts: list[Drift]) -> list[Step]:
    missing = [d for d in drifts if d.problem == "missing"]
    steps: list[Step] = []
    for d in missing:
        steps += _render(expected, d)
    # Views keep the expected catalog's creation order (a view may read another one).
    view_order = {name: i for i, name in enumerate(expected.views)}
    return sorted(steps, key=lambda s: (s.rank, view_order.get(s.name, 0)))


def apply_fix(url: str, steps: list[Step], *,
              timeout_s: float) -> tuple[list[Step], list[tuple[Step, str]]]:
    done: list[Step] = []
    failed: list[tuple[Step, str]] = []
    with map_psycopg_errors("repair"), connection(url, timeout_s=timeout_s) as conn, \
            conn.transaction():
        # Function bodies may name tables created later in this same transaction.
        conn.execute(b"SET LOCAL check_function_bodies = off")
        for step in steps:
            try:
                with conn.transaction():  # a savepoint: one failure spoils only itself
                    conn.execute(step.sql.encode())
                done.append(step)
            except psycopg.Error as exc:
                reason = exc.diag.message_primary or str(exc).strip()
                failed.append((step, redact.redact(f"{exc.sqlstate or ''} {reason}".strip())))
    return done, failed


def _render(cat: Catalog, d: Drift) -> list[Step]:
    if d.kind == "schema":
        return [Step("schema", d.name, f"CREATE SCHEMA IF NOT EXISTS {d.name}")]
    if d.kind == "extension":
        ident = '"' + d.name.replace('"', '""') + '"'
        return [Step("extension", d.name, f"CREATE EXTENSION IF NOT EXISTS {ident}")]
    if d.kind == "type":
        return [Step("type", d.name, f"CREATE TYPE {d.name} AS ENUM ({cat.types[d.name]})")]
    if d.kind == "sequence":
        return _sequence(cat, d.name)
    if d.kind == "function":
        return [Step("function", d.name, cat.functions[d.name])]
    if d.kind == "table":
        return _table(cat, d.name)
    if d.kind == "column":
        table, _, column = d.name.rpartition(".")
        return [Step("column", d.name, f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                                       f"{_column(cat.tables[table].columns[column])}")]
    if d.kind == "constraint":
        table, _, name = d.name.rpartition(".")
        kind, definition = cat.tables[table].constraints[name]
        return [_constraint(table, name, kind, definition)]
    if d.kind == "trigger":
        table, _, name = d.name.rpartition(".")
        return [Step("trigger", d.name, cat.tables[table].triggers[name])]
    if d.kind == "index":
        return [Step("index", d.name, cat.indexes[d.name][1])]
    if d.kind in ("view", "materialized view"):
        return [_view(cat, d.name)]
    return []


def _sequence(cat: Catalog, name: str) -> list[Step]:
    type_, start, step, owner = cat.sequences[name]
    steps = [Step("sequence", name, f"CREATE SEQUENCE IF NOT EXISTS {name} AS {type_} "
                                    f"START WITH {start} INCREMENT BY {step}")]
    if owner:
        steps.append(Step("sequence owner", name, f"ALTER SEQUENCE {name} OWNED BY {owner}"))
    return steps


def _table(cat: Catalog, name: str) -> list[Step]:
    table = cat.tables[name]
    columns = ",\n    ".join(_column(c) for c in table.columns.values())
    steps = [Step("table", name, f"CREATE TABLE IF NOT EXISTS {name} (\n    {columns}\n)")]
    steps += [_constraint(name, cname, kind, definition)
              for cname, (kind, definition) in table.constraints.items()]
    steps += [Step("trigger", f"{name}.{t}", definition) for t, definition in table.triggers.items()]
    steps += [Step("index", index, definition)
              for index, (on, definition) in cat.indexes.items() if on == name]
    steps += [Step("sequence owner", seq, f"ALTER SEQUENCE {seq} OWNED BY {owner}")
              for seq, (_, _, _, owner) in cat.sequences.items()
              if owner and owner.rpartition(".")[0] == name]
    return steps


def _column(c: Column) -> str:
    parts = [c.name, c.type]
    if c.generated == "s" and c.default:
        parts.append(f"GENERATED ALWAYS AS ({c.default}) STORED")
    elif c.identity:
        parts.append("GENERATED ALWAYS AS IDENTITY" if c.identity == "a"
                     else "GENERATED BY DEFAULT AS IDENTITY")
    elif c.default is not None:
        parts.append(f"DEFAULT {c.default}")
    if c.not_null:
        parts.append("NOT NULL")
    return " ".join(parts)


def _constraint(table: str, name: str, kind: str, definition: str) -> Step:
    return Step("foreign key" if kind == "f" else "constraint", f"{table}.{name}",
                f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def _view(cat: Catalog, name: str) -> Step:
    materialized, definition, populated = cat.views[name]
    query = definition.strip().rstrip(";")
    if materialized:
        data = "WITH DATA" if populated else "WITH NO DATA"
        return Step("materialized view", name,
                    f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} AS\n{query}\n{data}")
    return Step("view", name, f"CREATE OR REPLACE VIEW {name} AS\n{query}")
