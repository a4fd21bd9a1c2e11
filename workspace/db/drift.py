"""Compare the expected schema (what the migrations define) with the live one.

One small function per object kind, as alembic's autogenerate/compare has; each yields
`Drift` values. What hangs off a missing object (a missing table's columns,
constraints, indexes, triggers, policies, grants, comments; a missing type's grants) is
not listed again: the object says it all, and `db fix` recreates it whole. A missing
type names what went with it ("3 columns and 1 function depend on it"), and is listed
before them.

    drifts = compare(expected, live, ignore={"kb.custom_table"})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Literal

from workspace.db.catalog import Catalog, Column, Sequence, Table

__all__ = ["KIND_ORDER", "TYPE_KINDS", "Drift", "compare", "gone_names", "kind_rank"]

Problem = Literal["missing", "extra", "changed", "invalid"]
TYPE_KINDS = ("type", "domain", "composite type", "range type")
# Dependency order: what a later kind may need comes first. `db fix` creates in this
# order, and validation lists missing objects in it (the root before its dependents).
KIND_ORDER = ("schema", "extension", "type", "domain", "domain constraint", "range type",
              "composite type", "sequence", "function", "table", "column", "column default",
              "constraint", "foreign key", "sequence owner", "view", "materialized view",
              "index", "trigger", "trigger state", "statistics", "rule", "row level security",
              "forced row level security", "policy", "event trigger", "grant",
              "default privilege", "comment", "rebuild index")
TRIGGER_STATES = {"O": "enabled", "D": "disabled", "R": "enabled on replicas only",
                  "A": "enabled always"}


@dataclass(frozen=True)
class Drift:
    kind: str  # "table", "column", "index", "policy", "grant", "row level security", ...
    name: str  # qualified: kb.tags, kb.tags.name, kb.update_tsv()
    problem: Problem
    detail: str = ""
    parent: str = field(default="", compare=False)  # for items: what they hang off

    def __str__(self) -> str:
        kind = self.kind[0].upper() + self.kind[1:]
        if self.problem == "missing":
            return f"Missing {self.kind}: {self.name}" + (f" ({self.detail})" if self.detail else "")
        if self.problem == "extra":
            return f"{kind} {self.name} exists but not in migrations (extra)"
        if self.problem == "invalid":
            return (f"{kind} {self.name} is INVALID ({self.detail}): run workspace db fix, "
                    f"or REINDEX INDEX CONCURRENTLY {self.name}")
        return f"{kind} {self.name} differs from migrations: {self.detail} (changed)"


def kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def compare(expected: Catalog, live: Catalog, ignore: Iterable[str] = (), *,
            owners: bool = False) -> list[Drift]:
    """`owners`: compare who owns each object too (off by default: the scratch database
    is built by whoever validates, the live one by whoever migrated)."""
    ignored = tuple(ignore)
    gone = gone_names(expected, live)
    found = [*_schemas(expected, live), *_extensions(expected, live), *_types(expected, live),
             *_sequences(expected, live), *_tables(expected, live), *_indexes(expected, live),
             *_functions(expected, live), *_views(expected, live),
             *_items(expected, live, gone), *(_owners(expected, live) if owners else ())]
    found = _name_roots(expected, found)
    return [d for d in found
            if not _is_ignored(d.name, ignored) and not _is_ignored(d.parent, ignored)]


def gone_names(expected: Catalog, live: Catalog) -> set[str]:
    """Every expected object the live database lacks, by name, with what hangs off a
    missing table or view (its columns, constraints, triggers, indexes): a missing item
    whose parent is here is part of that object's repair, not a finding of its own."""
    gone: set[str] = set(expected.schemas) - set(live.schemas)
    gone |= expected.types.keys() - live.types.keys()
    gone |= expected.sequences.keys() - live.sequences.keys()
    gone |= expected.functions.keys() - live.functions.keys()
    gone |= expected.views.keys() - live.views.keys()
    gone |= {i.name for k, i in expected.items.items() if k not in live.items}
    for name, table in expected.tables.items():
        have = live.tables.get(name)
        if have is None:
            gone.add(name)
        for want, has in ((table.columns, have.columns if have else {}),
                          (table.constraints, have.constraints if have else {}),
                          (table.triggers, have.triggers if have else {})):
            gone |= {f"{name}.{c}" for c in want.keys() - has.keys()}
    gone |= {name for name, (on, _) in expected.indexes.items()
             if on in gone or name not in live.indexes}
    return gone


def _is_ignored(name: str, ignored: tuple[str, ...]) -> bool:
    return any(name == i or name.startswith(i + ".") or name.startswith(i + "(")
               for i in ignored)


def _keyed(kind: str, expected: dict[str, str], live: dict[str, str],
           describe: str = "definition") -> Iterator[Drift]:
    for name in expected.keys() - live.keys():
        yield Drift(kind, name, "missing")
    for name in live.keys() - expected.keys():
        yield Drift(kind, name, "extra")
    for name in expected.keys() & live.keys():
        if expected[name] != live[name]:
            yield Drift(kind, name, "changed", f"{describe} is not the one the migrations create")


def _schemas(e: Catalog, a: Catalog) -> Iterator[Drift]:
    yield from _keyed("schema", {s: s for s in e.schemas}, {s: s for s in a.schemas})


def _extensions(e: Catalog, a: Catalog) -> Iterator[Drift]:
    # Versions differ between servers that are both fine; presence is what counts.
    yield from _keyed("extension", dict.fromkeys(e.extensions, ""), dict.fromkeys(a.extensions, ""))


def _types(e: Catalog, a: Catalog) -> Iterator[Drift]:
    yield from _keyed("type", e.types, a.types, "the list of values")


def _sequences(e: Catalog, a: Catalog) -> Iterator[Drift]:
    gone_tables = e.tables.keys() - a.tables.keys()
    for name in sorted(e.sequences.keys() - a.sequences.keys()):
        owner = e.sequences[name].owned_by
        if not owner or owner.rsplit(".", 1)[0] not in gone_tables:  # else it comes with it
            yield Drift("sequence", name, "missing")
    for name in sorted(a.sequences.keys() - e.sequences.keys()):
        yield Drift("sequence", name, "extra")
    for name in sorted(e.sequences.keys() & a.sequences.keys()):
        detail = _sequence_change(e.sequences[name], a.sequences[name])
        if detail:
            yield Drift("sequence", name, "changed", detail)


def _sequence_change(want: Sequence, have: Sequence) -> str:
    def shown(value: object) -> str:
        return "none" if value is None else str(value)  # OWNED BY NONE

    return "; ".join(f"{f.name.replace('_', ' ')} {shown(getattr(have, f.name))}, expected "
                     f"{shown(getattr(want, f.name))}" for f in fields(Sequence)
                     if getattr(want, f.name) != getattr(have, f.name))


def _tables(e: Catalog, a: Catalog) -> Iterator[Drift]:
    for name in sorted(e.tables.keys() - a.tables.keys()):
        yield Drift("table", name, "missing")
    for name in sorted(a.tables.keys() - e.tables.keys()):
        yield Drift("table", name, "extra")
    for name in sorted(e.tables.keys() & a.tables.keys()):
        want, have = e.tables[name], a.tables[name]
        for col in want.columns.keys() - have.columns.keys():
            yield Drift("column", f"{name}.{col}", "missing")
        for col in have.columns.keys() - want.columns.keys():
            yield Drift("column", f"{name}.{col}", "extra")
        for col in sorted(want.columns.keys() & have.columns.keys()):
            wanted, has = want.columns[col], have.columns[col]
            if wanted.default is not None and has.default is None and not has.identity:
                # Gone with a sequence dropped CASCADE: restoring it touches no row.
                yield Drift("column default", f"{name}.{col}", "missing")
                has = Column(**{**has.__dict__, "default": wanted.default})
            detail = _column_change(wanted, has)
            if detail:
                yield Drift("column", f"{name}.{col}", "changed", detail)
        yield from _keyed("constraint", {f"{name}.{k}": v[1] for k, v in want.constraints.items()},
                          {f"{name}.{k}": v[1] for k, v in have.constraints.items()})
        yield from _keyed("trigger", {f"{name}.{k}": v for k, v in want.triggers.items()},
                          {f"{name}.{k}": v for k, v in have.triggers.items()})
        yield from _table_properties(name, want, have)


def _table_properties(name: str, want: Table, have: Table) -> Iterator[Drift]:
    """Row-level security, storage options, persistence, partitioning, trigger states."""
    for kind, wanted, has in (("row level security", want.row_security, have.row_security),
                              ("forced row level security", want.force_row_security,
                               have.force_row_security)):
        if wanted != has:
            yield Drift(kind, name, "missing" if wanted else "extra")
    changes = []
    if want.options != have.options:
        changes.append(f"options ({have.options or 'none'}), expected "
                       f"({want.options or 'none'})")
    if want.unlogged != have.unlogged:
        changes.append("UNLOGGED, expected logged" if have.unlogged else
                       "logged, expected UNLOGGED")
    if want.partition_key != have.partition_key:
        changes.append(f"partitioned by {have.partition_key or 'nothing'}, expected "
                       f"{want.partition_key or 'not partitioned'}")
    if (want.partition_of, want.partition_bound) != (have.partition_of, have.partition_bound):
        changes.append(f"partition of {have.partition_of or 'nothing'} "
                       f"{have.partition_bound}".rstrip() + ", expected "
                       f"{want.partition_of or 'no partition'} {want.partition_bound}".rstrip())
    if changes:
        yield Drift("table", name, "changed", "; ".join(changes))
    for trigger in sorted(want.triggers.keys() & have.triggers.keys()):
        wanted_state = want.trigger_states.get(trigger, "O")
        has_state = have.trigger_states.get(trigger, "O")
        if wanted_state != has_state:
            yield Drift("trigger", f"{name}.{trigger}", "changed",
                        f"{TRIGGER_STATES.get(has_state, has_state)}, expected "
                        f"{TRIGGER_STATES.get(wanted_state, wanted_state)}")


def _column_change(want: Column, have: Column) -> str:
    changes = []
    if want.type != have.type:
        changes.append(f"type {have.type}, expected {want.type}")
    if want.not_null != have.not_null:
        changes.append("nullable, expected NOT NULL" if want.not_null else
                       "NOT NULL, expected nullable")
    if want.default != have.default:
        changes.append(f"default {have.default or 'none'}, expected {want.default or 'none'}")
    if (want.identity, want.generated) != (have.identity, have.generated):
        changes.append("identity or generation differs")
    if want.collation != have.collation:
        changes.append(f"collation {have.collation or 'default'}, expected "
                       f"{want.collation or 'default'}")
    return "; ".join(changes)


def _indexes(e: Catalog, a: Catalog) -> Iterator[Drift]:
    # An index of a missing table or view is part of that object's drift.
    gone = (e.tables.keys() - a.tables.keys()) | (e.views.keys() - a.views.keys())
    want = {k: v[1] for k, v in e.indexes.items() if v[0] not in gone}
    invalid = set(a.invalid_indexes) - set(e.invalid_indexes)
    # An INVALID index is reported as such (its rebuild uses the expected definition).
    yield from (d for d in _keyed("index", want, {k: v[1] for k, v in a.indexes.items()})
                if not (d.problem == "changed" and d.name in invalid))
    for name in sorted(set(a.invalid_indexes) & want.keys()):
        if name not in e.invalid_indexes:
            yield Drift("index", name, "invalid", "a CREATE INDEX CONCURRENTLY or REINDEX that "
                                                  "failed: queries do not use it")


def _functions(e: Catalog, a: Catalog) -> Iterator[Drift]:
    yield from _keyed("function", e.functions, a.functions, "signature or body")


def _views(e: Catalog, a: Catalog) -> Iterator[Drift]:
    for kind, materialized in (("view", False), ("materialized view", True)):
        yield from _keyed(kind, {k: v[1] for k, v in e.views.items() if v[0] == materialized},
                          {k: v[1] for k, v in a.views.items() if v[0] == materialized},
                          "query")
    for name in sorted(e.views.keys() & a.views.keys()):
        want, have = e.view_options.get(name, ""), a.view_options.get(name, "")
        if want != have:
            kind = "materialized view" if e.views[name][0] else "view"
            yield Drift(kind, name, "changed",
                        f"options ({have or 'none'}), expected ({want or 'none'})")


_ITEM_CHANGE = {"comment": "the text is not the one the migrations set",
                "grant": "grant option differs",
                "default privilege": "grant option differs"}


def _items(e: Catalog, a: Catalog, gone: set[str]) -> Iterator[Drift]:
    """Policies, grants, default privileges, comments, domains, composite and range
    types, statistics, rules, event triggers."""
    for key in sorted(e.items.keys() - a.items.keys()):
        item = e.items[key]
        if item.parent not in gone:
            yield Drift(item.kind, item.name, "missing", parent=item.parent)
    known = _names(e)
    for key in sorted(a.items.keys() - e.items.keys()):
        item = a.items[key]
        if not item.parent or item.parent in known:  # else its extra parent says it all
            yield Drift(item.kind, item.name, "extra", parent=item.parent)
    for key in sorted(e.items.keys() & a.items.keys()):
        want, have = e.items[key], a.items[key]
        if want.definition != have.definition:
            yield Drift(want.kind, want.name, "changed", _ITEM_CHANGE.get(
                want.kind, "definition is not the one the migrations create"), want.parent)


def _names(cat: Catalog) -> set[str]:
    """Every object an item can hang off."""
    names = set(cat.schemas) | cat.types.keys() | cat.sequences.keys() | cat.functions.keys()
    names |= cat.views.keys() | cat.tables.keys() | {i.name for i in cat.items.values()}
    names |= {f"{t.name}.{c}" for t in cat.tables.values() for c in t.columns}
    return names


def _name_roots(expected: Catalog, drifts: list[Drift]) -> list[Drift]:
    """A missing type names what went with it (validation lists it first)."""
    missing = {(d.kind, d.name) for d in drifts if d.problem == "missing"}
    out: list[Drift] = []
    for d in drifts:
        if d.problem == "missing" and d.kind in TYPE_KINDS:
            counts: dict[str, int] = {}
            for dependent in expected.type_dependents.get(d.name, []):
                kind, _, name = dependent.partition(":")
                kinds = {"type": TYPE_KINDS, "view": ("view", "materialized view")}
                if any((k, name) in missing for k in kinds.get(kind, (kind,))):
                    counts[kind] = counts.get(kind, 0) + 1
            if counts:
                said = " and ".join(f"{n} {kind}{'s' if n > 1 else ''}"
                                    for kind, n in counts.items())
                d = Drift(d.kind, d.name, d.problem,
                          f"{said} depend{'s' if sum(counts.values()) == 1 else ''} on it",
                          d.parent)
        out.append(d)
    return out


def _owners(e: Catalog, a: Catalog) -> Iterator[Drift]:
    for name in sorted(e.owners.keys() & a.owners.keys()):
        if e.owners[name] != a.owners[name]:
            parent = re.sub(r"^(MATERIALIZED VIEW|[A-Z]+) ", "", name)
            yield Drift("owner", name, "changed",
                        f"owned by {a.owners[name]}, expected {e.owners[name]}", parent)
