"""Compare the expected schema (what the migrations define) with the live one.

One small function per object kind, as alembic's autogenerate/compare has; each yields
`Drift` values. Objects under a missing table (its columns, constraints, indexes,
triggers) are not listed again: the table says it all, and `db fix` recreates them.

    drifts = compare(expected, live, ignore={"kb.custom_table"})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from workspace.db.catalog import Catalog, Column

__all__ = ["Drift", "compare"]

Problem = Literal["missing", "extra", "changed"]


@dataclass(frozen=True)
class Drift:
    kind: str  # "table", "column", "index", "constraint", "function", ...
    name: str  # qualified: kb.tags, kb.tags.name, kb.update_tsv()
    problem: Problem
    detail: str = ""

    def __str__(self) -> str:
        kind = self.kind[0].upper() + self.kind[1:]
        if self.problem == "missing":
            return f"Missing {self.kind}: {self.name}"
        if self.problem == "extra":
            return f"{kind} {self.name} exists but not in migrations (extra)"
        return f"{kind} {self.name} differs from migrations: {self.detail} (changed)"


def compare(expected: Catalog, live: Catalog, ignore: Iterable[str] = ()) -> list[Drift]:
    ignored = tuple(ignore)
    found = [*_schemas(expected, live), *_extensions(expected, live), *_types(expected, live),
             *_sequences(expected, live), *_tables(expected, live), *_indexes(expected, live),
             *_functions(expected, live), *_views(expected, live)]
    return [d for d in found if not _is_ignored(d.name, ignored)]


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
    yield from _keyed("sequence", {k: repr(v) for k, v in e.sequences.items()},
                      {k: repr(v) for k, v in a.sequences.items()}, "type, start or step")


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
            detail = _column_change(want.columns[col], have.columns[col])
            if detail:
                yield Drift("column", f"{name}.{col}", "changed", detail)
        yield from _keyed("constraint", {f"{name}.{k}": v[1] for k, v in want.constraints.items()},
                          {f"{name}.{k}": v[1] for k, v in have.constraints.items()})
        yield from _keyed("trigger", {f"{name}.{k}": v for k, v in want.triggers.items()},
                          {f"{name}.{k}": v for k, v in have.triggers.items()})


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
    return "; ".join(changes)


def _indexes(e: Catalog, a: Catalog) -> Iterator[Drift]:
    # An index of a missing table or view is part of that object's drift.
    gone = (e.tables.keys() - a.tables.keys()) | (e.views.keys() - a.views.keys())
    want = {k: v[1] for k, v in e.indexes.items() if v[0] not in gone}
    yield from _keyed("index", want, {k: v[1] for k, v in a.indexes.items()})


def _functions(e: Catalog, a: Catalog) -> Iterator[Drift]:
    yield from _keyed("function", e.functions, a.functions, "signature or body")


def _views(e: Catalog, a: Catalog) -> Iterator[Drift]:
    for kind, materialized in (("view", False), ("materialized view", True)):
        yield from _keyed(kind, {k: v[1] for k, v in e.views.items() if v[0] == materialized},
                          {k: v[1] for k, v in a.views.items() if v[0] == materialized},
                          "query")
