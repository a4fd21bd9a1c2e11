"""The package's import graph, read from the source (imports inside functions count):
no circles, and the database layer does not reach up to the configuration."""

from __future__ import annotations

import ast
from pathlib import Path

import workspace

PACKAGE = Path(workspace.__file__).parent
# db/ modules that still take the whole Config (issue 13: db/ takes its own settings).
# This list may only shrink.
DB_TAKING_CONFIG = {"workspace.db", "workspace.db.validate", "workspace.db.reset"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the workspace modules it imports anywhere in its source. `from pkg import
    mod` is an edge to pkg.mod (not to pkg) when mod is a module."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{alias.name}" for alias in node.names]
                names = [n for n in subs if n in modules]
                if len(names) < len(subs):
                    names.append(node.module)
            else:
                continue
            for name in names:
                target = owner(name) if name.split(".")[0] == "workspace" else None
                if target and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_counting_imports_inside_functions() -> None:
    assert cycles(import_graph()) == []


def test_a_circle_is_found() -> None:
    """The check can fail: a made-up graph with a circle through three modules."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_database_layer_does_not_import_the_configuration_more_than_it_did() -> None:
    graph = import_graph()
    taking = {m for m, targets in graph.items()
              if (m == "workspace.db" or m.startswith("workspace.db."))
              and "workspace.config.models" in targets}
    assert taking <= DB_TAKING_CONFIG, f"new db/ modules importing config: {taking - DB_TAKING_CONFIG}"
