"""`db fix`: recreate what is missing, whole and in its final shape, in one transaction.

The statements are rendered from the expected schema (the catalog of a database the
migrations built), so an object created in 0001 and altered in a later migration comes
back altered, and with everything that hangs off it: a table with its columns in their
order, constraints, indexes, triggers (and their enabled state), row-level security,
policies, grants, comments, statistics and rules; a view or materialized view with its
options, indexes, grants and comment; a type or function with its grants and comment.
Types come before the columns and functions that use them (dependency order); a step
that fails only because something it needs comes later in the plan is retried after it.

Nothing is dropped, renamed or rewritten, and no row is touched: changed and extra
objects are left for the user (`reconcile.py` prints the SQL that would reconcile them).
Each step runs under a savepoint, so one that cannot be repaired is reported with the
server's reason while the others still commit. INVALID indexes are rebuilt afterwards,
outside the transaction, with REINDEX INDEX CONCURRENTLY.

    steps = plan_fix(expected, report.drifts)
    done, failed = apply_fix(url, steps, timeout_s=10)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from workspace.db.bad_rows import data_remedy, is_data_error, quote_ident
from workspace.db.catalog import Catalog, Column, Item
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.drift import TYPE_KINDS, Drift, kind_rank
from workspace.output import redact

__all__ = ["Failure", "Step", "apply_fix", "plan_fix"]

# A step that failed for want of an object a later step makes is tried again.
_RETRY = {"42704", "42P01", "42883", "3F000", "42703"}
_DEFAULT_GRANTEE = re.compile(r" TO (.+?)(?: WITH GRANT OPTION)?$")


@dataclass(frozen=True)
class Failure:
    """Why a step failed: the server's `reason` ("23503 insert or update on ..."), and,
    when rows are in the way (SQLSTATE class 23), the `remedy` that names the table, the
    constraint and a query finding the rows: `db fix` again would fail the same way."""

    reason: str
    sqlstate: str = ""
    remedy: str = ""

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    sql: str
    order: int = 0  # creation order within its kind (the expected catalog's)
    outside_transaction: bool = False  # REINDEX CONCURRENTLY

    @property
    def rank(self) -> int:
        return kind_rank(self.kind)


def plan_fix(expected: Catalog, drifts: list[Drift], live: Catalog | None = None) -> list[Step]:
    """The steps that repair `drifts`; `live` (the catalog they were found in) lets an
    INVALID index whose definition also differs be built again from the expected one."""
    steps: list[Step] = []
    renderer = _Renderer(expected)
    for d in drifts:
        if d.problem == "missing":
            steps += renderer.render(d)
        elif d.problem == "invalid" and d.kind == "index":
            steps += _rebuild(expected, live, d.name)
    unique = list(dict.fromkeys(steps))
    return sorted(unique, key=lambda s: (s.rank, s.order))


def _rebuild(expected: Catalog, live: Catalog | None, name: str) -> list[Step]:
    """An INVALID index (a failed CREATE INDEX CONCURRENTLY) is unused: REINDEX it, or,
    when it is not the index the migrations define, build that one in its place. Both
    outside the transaction, without blocking writes."""
    on, definition = expected.indexes[name]
    table = expected.tables.get(on)
    differs = live is not None and live.indexes.get(name, ("", ""))[1] != definition
    if not differs or (table is not None and table.partitioned):
        return [Step("rebuild index", name, f"REINDEX INDEX CONCURRENTLY {name}",
                     outside_transaction=True)]
    concurrently = re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ",
                          definition)
    comments = [Step("rebuild index", name, item.create, 2, outside_transaction=True)
                for item in expected.items.values() if item.parent == name]
    return [Step("rebuild index", name, f"DROP INDEX CONCURRENTLY {name}",
                 outside_transaction=True),
            Step("rebuild index", name, concurrently, 1, outside_transaction=True), *comments]


def apply_fix(url: str, steps: list[Step], *,
              timeout_s: float) -> tuple[list[Step], list[tuple[Step, Failure]]]:
    done: list[Step] = []
    failed: list[tuple[Step, Failure]] = []
    with map_psycopg_errors("repair"), connection(url, timeout_s=timeout_s) as conn:
        with conn.transaction():
            # Function bodies may name tables created later in this same transaction.
            conn.execute(b"SET LOCAL check_function_bodies = off")
            pending = [s for s in steps if not s.outside_transaction]
            while pending:
                retry: list[tuple[Step, Failure]] = []
                for step in pending:
                    failure = _run(conn, step)
                    if failure is None:
                        done.append(step)
                    elif failure.sqlstate in _RETRY:
                        retry.append((step, failure))
                    else:
                        failed.append((step, failure))
                if len(retry) == len(pending):  # no progress: they stay failed
                    failed += retry
                    break
                pending = [s for s, _ in retry]
        for step in (s for s in steps if s.outside_transaction):
            failure = _run(conn, step, savepoint=False)
            if failure is None:
                done.append(step)
            else:
                failed.append((step, failure))
    return done, failed


def _run(conn: psycopg.Connection[tuple], step: Step, *,  # type: ignore[type-arg]
         savepoint: bool = True) -> Failure | None:
    try:
        if savepoint:
            with conn.transaction():  # a savepoint: one failure spoils only itself
                conn.execute(step.sql.encode())
        else:
            conn.execute(step.sql.encode())
    except psycopg.Error as exc:
        diag, sqlstate = exc.diag, exc.sqlstate or ""
        reason = redact.redact(f"{sqlstate} {diag.message_primary or str(exc).strip()}".strip())
        remedy = ""
        if is_data_error(sqlstate):
            table = ".".join(quote_ident(p) for p in (diag.schema_name, diag.table_name) if p)
            remedy = redact.redact(data_remedy(
                step.sql, sqlstate, table=table, constraint=quote_ident(diag.constraint_name or ""),
                column=quote_ident(diag.column_name or "")))
        return Failure(reason, sqlstate, remedy)
    return None


class _Renderer:
    """The steps that bring one missing object back, with what hangs off it."""

    def __init__(self, cat: Catalog) -> None:
        self.cat = cat
        self.tables = {name: i for i, name in enumerate(cat.tables)}
        self.views = {name: i for i, name in enumerate(cat.views)}
        self.inherited = set(cat.inherited)
        self.by_parent: dict[str, list[Item]] = {}
        for item in cat.items.values():
            self.by_parent.setdefault(item.parent, []).append(item)
        # Who gets privileges by default in a schema (ALTER DEFAULT PRIVILEGES).
        self.grantees = {"PUBLIC"}
        for item in cat.items.values():
            found = _DEFAULT_GRANTEE.search(item.create) if item.kind == "default privilege" \
                else None
            if found:
                self.grantees.add(found.group(1))

    def render(self, d: Drift) -> list[Step]:
        cat = self.cat
        if d.kind == "schema":
            return [self._fresh(Step("schema", d.name, f"CREATE SCHEMA IF NOT EXISTS {d.name}"),
                                "SCHEMA"), *self._items(d.name)]
        if d.kind == "extension":
            ident = '"' + d.name.replace('"', '""') + '"'
            return [Step("extension", d.name, f"CREATE EXTENSION IF NOT EXISTS {ident}")]
        if d.kind == "type" and d.name in cat.types:
            return [self._fresh(Step("type", d.name,
                                     f"CREATE TYPE {d.name} AS ENUM ({cat.types[d.name]})"),
                                "TYPE"), *self._items(d.name)]
        if d.kind == "sequence":
            return self._sequence(d.name)
        if d.kind == "function":
            word = "PROCEDURE" if cat.functions[d.name].startswith(
                "CREATE OR REPLACE PROCEDURE") else "FUNCTION"
            return [self._fresh(Step("function", d.name, cat.functions[d.name]), word),
                    *self._items(d.name)]
        if d.kind == "table":
            return self._table(d.name)
        if d.kind == "column":
            return self._column(d.name)
        if d.kind == "column default":
            table, _, column = d.name.rpartition(".")
            default = cat.tables[table].columns[column].default
            return [Step(d.kind, d.name,
                         f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}")]
        if d.kind == "constraint":
            table, _, name = d.name.rpartition(".")
            if d.name in self.inherited:
                return []  # the parent's constraint brings it
            kind, definition = cat.tables[table].constraints[name]
            return [_constraint(table, name, kind, definition), *self._items(d.name)]
        if d.kind == "trigger":
            table, _, name = d.name.rpartition(".")
            return [] if d.name in self.inherited else self._trigger(table, name)
        if d.kind == "index":
            return [] if d.name in self.inherited else self._index(d.name)
        if d.kind in ("view", "materialized view"):
            return self._view(d.name)
        if d.kind == "row level security":
            return [Step(d.kind, d.name, f"ALTER TABLE {d.name} ENABLE ROW LEVEL SECURITY")]
        if d.kind == "forced row level security":
            return [Step(d.kind, d.name, f"ALTER TABLE {d.name} FORCE ROW LEVEL SECURITY")]
        item = cat.items.get(f"{d.kind}:{d.name}")
        if item is not None:
            return self._item(item)
        return []

    def _item(self, item: Item) -> list[Step]:
        step = Step(item.kind, item.name, item.create)
        if item.kind in TYPE_KINDS:
            step = self._fresh(step, "DOMAIN" if item.kind == "domain" else "TYPE")
        return [step, *self._items(item.name)]

    def _items(self, *parents: str) -> list[Step]:
        """Policies, grants, comments, ... of each of `parents`."""
        return [step for parent in parents for item in self.by_parent.get(parent, ())
                for step in self._item(item)]

    def _fresh(self, step: Step, word: str) -> Step:
        """`step`, then: a recreated object starts from the server's default privileges
        (EXECUTE and USAGE for PUBLIC, the schema's default privileges). Take them back,
        so that only the grants the migrations made (the grant steps that follow) remain."""
        revoke = f"REVOKE ALL ON {word} {step.name} FROM {', '.join(sorted(self.grantees))}"
        return Step(step.kind, step.name, f"{step.sql};\n{revoke}", step.order,
                    step.outside_transaction)

    def _sequence(self, name: str) -> list[Step]:
        s = self.cat.sequences[name]
        steps = [self._fresh(Step(
            "sequence", name, f"CREATE {'UNLOGGED ' if s.unlogged else ''}SEQUENCE IF NOT EXISTS "
            f"{name} AS {s.type} INCREMENT BY {s.increment} MINVALUE {s.min} MAXVALUE {s.max} "
            f"START WITH {s.start} CACHE {s.cache} {'' if s.cycle else 'NO '}CYCLE"), "SEQUENCE")]
        if s.owned_by:
            steps.append(Step("sequence owner", name,
                              f"ALTER SEQUENCE {name} OWNED BY {s.owned_by}"))
        return steps + self._items(name)

    def _table(self, name: str) -> list[Step]:
        cat, table = self.cat, self.cat.tables[name]
        order = self.tables[name]
        if table.partition_of:
            create = (f"CREATE {'UNLOGGED ' if table.unlogged else ''}TABLE IF NOT EXISTS "
                      f"{name} PARTITION OF {table.partition_of} {table.partition_bound}")
        else:
            columns = ",\n    ".join(_column_sql(c) for c in table.columns.values())
            create = (f"CREATE {'UNLOGGED ' if table.unlogged else ''}TABLE IF NOT EXISTS "
                      f"{name} (\n    {columns}\n)")
            if table.partition_key:
                create += f" PARTITION BY {table.partition_key}"
        if table.options:
            create += f" WITH ({table.options})"
        steps = [self._fresh(Step("table", name, create, order), "TABLE")]
        steps += [_constraint(name, cname, kind, definition)
                  for cname, (kind, definition) in table.constraints.items()
                  if f"{name}.{cname}" not in self.inherited]
        for trigger in table.triggers:
            if f"{name}.{trigger}" not in self.inherited:
                steps += self._trigger(name, trigger)
        steps += [step for index, (on, _) in cat.indexes.items()
                  if on == name and index not in self.inherited for step in self._index(index)]
        steps += [step for seq, s in cat.sequences.items()
                  if s.owned_by and s.owned_by.rpartition(".")[0] == name
                  for step in self._sequence(seq)]
        if table.row_security:
            steps.append(Step("row level security", name,
                              f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))
        if table.force_row_security:
            steps.append(Step("forced row level security", name,
                              f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))
        # The table's own items, and those of its columns, constraints and triggers.
        return steps + self._items(name, *(f"{name}.{part}" for part in (
            *table.columns, *table.constraints, *table.triggers)))

    def _column(self, name: str) -> list[Step]:
        table, _, column = name.rpartition(".")
        col = self.cat.tables[table].columns[column]
        if not col.local:
            return []  # the partitioned parent's column brings it
        return [Step("column", name, f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                                     f"{_column_sql(col)}"), *self._items(name)]

    def _trigger(self, table: str, name: str) -> list[Step]:
        t = self.cat.tables[table]
        steps = [Step("trigger", f"{table}.{name}", t.triggers[name])]
        steps += self._items(f"{table}.{name}")
        state = t.trigger_states.get(name)
        if state:
            verb = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}[state]
            steps.append(Step("trigger state", f"{table}.{name}",
                              f"ALTER TABLE {table} {verb} TRIGGER {name}"))
        return steps

    def _index(self, name: str) -> list[Step]:
        on, definition = self.cat.indexes[name]
        table = self.cat.tables.get(on)
        if table is not None and table.partitioned:
            # pg_get_indexdef says ON ONLY: that index would stay INVALID until each
            # partition's is attached. Created on the whole tree, it builds them all.
            definition = definition.replace(f" ON ONLY {on} ", f" ON {on} ", 1)
        return [Step("index", name, definition), *self._items(name)]

    def _view(self, name: str) -> list[Step]:
        cat = self.cat
        materialized, definition, populated = cat.views[name]
        query = definition.strip().rstrip(";")
        options = cat.view_options.get(name)
        with_options = f" WITH ({options})" if options else ""
        if materialized:
            data = "WITH DATA" if populated else "WITH NO DATA"
            step = Step("materialized view", name,
                        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name}{with_options} AS\n"
                        f"{query}\n{data}", self.views[name])
        else:
            step = Step("view", name, f"CREATE OR REPLACE VIEW {name}{with_options} AS\n{query}",
                        self.views[name])
        indexes = [step for index, (on, _) in cat.indexes.items() if on == name
                   for step in self._index(index)]
        columns = [p for p in self.by_parent if p.startswith(name + ".")]  # comments on them
        return [self._fresh(step, "TABLE"), *indexes, *self._items(name, *columns)]


def _column_sql(c: Column) -> str:
    parts = [c.name, c.type]
    if c.collation:
        parts.append(f"COLLATE {c.collation}")
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
