"""The package's import graph, read from the source (imports inside functions count):
no circles, and the database layer does not reach up to the configuration."""

from __future__ import annotations

import ast
from pathlib import Path

import workspace

PACKAGE = Path(workspace.__file__).parent


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


def is_db(module: str) -> bool:
    return module == "workspace.db" or module.startswith("workspace.db.")


def is_config(module: str) -> bool:
    """The configuration's modules, where they are today and inside a config/ package."""
    return (module in ("workspace.config", "workspace.apps_config")
            or module.startswith(("workspace.config.", "workspace.config_")))


def paths_to_config(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """db/ module -> the shortest chain of imports from it to a configuration module,
    for each db/ module that reaches one (directly or through other modules)."""
    found = {}
    for start in sorted(m for m in graph if is_db(m)):
        came_from: dict[str, str] = {start: ""}
        queue = [start]
        for module in queue:  # breadth first: the chain found is a shortest one
            if is_config(module):
                chain = [module]
                while came_from[chain[-1]]:
                    chain.append(came_from[chain[-1]])
                found[start] = chain[::-1]
                break
            for target in sorted(graph.get(module, ())):
                if target not in came_from:
                    came_from[target] = module
                    queue.append(target)
    return found


def test_the_database_layer_does_not_reach_up_to_the_configuration() -> None:
    """db/ takes its own settings objects (workspace.db.settings), built from the
    configuration outside db/: no db/ module imports a configuration module, not even
    under TYPE_CHECKING or through another module."""
    chains = paths_to_config(import_graph())
    assert chains == {}, "db/ modules reaching the configuration: " + "; ".join(
        " -> ".join(chain) for chain in chains.values())


def test_a_reach_to_the_configuration_is_found() -> None:
    """The check can fail: directly, and through a module outside db/."""
    graph = {"workspace.db.reset": {"workspace.running_db", "workspace.errors"},
             "workspace.running_db": {"workspace.config"},
             "workspace.db.wait": {"workspace.config_types"},
             "workspace.db.files": {"workspace.errors"},
             "workspace.errors": set(), "workspace.config": set(),
             "workspace.config_types": set()}
    assert paths_to_config(graph) == {
        "workspace.db.reset": ["workspace.db.reset", "workspace.running_db", "workspace.config"],
        "workspace.db.wait": ["workspace.db.wait", "workspace.config_types"]}


# Data flows down: a module imports only from its own layer or the ones below it.
# Each module's layer is that of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("workspace", "workspace.errors", "workspace.waits", "workspace.urls",
                    "workspace.userfile", "workspace.signals", "workspace.output",
                    "workspace.output.redact", "workspace.output.console")),
    ("configuration", ("workspace.config", "workspace.project", "workspace.project.root")),
    # config.db builds db/'s settings from the configuration: it sits above both
    ("parts", ("workspace.db", "workspace.deps", "workspace.supervisor", "workspace.config.db")),
    ("lifecycle", ("workspace.run", "workspace.page", "workspace.startup", "workspace.psql",
                   "workspace.project.init", "workspace.project.detect",
                   "workspace.output.events", "workspace.output.validation")),
    ("commands", ("workspace.commands", "workspace.cli", "workspace.__main__")),
]
# Known upward imports, to be removed. This set may only shrink.
UPWARD_ALLOWED: set[tuple[str, str]] = set()


def layer_of(module: str) -> int:
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS)
               for prefix in prefixes if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in graph.items() for t in targets
            if layer_of(t) > layer_of(m)}


def test_imports_go_down_the_layers() -> None:
    found = upward(import_graph())
    assert found <= UPWARD_ALLOWED, "imports up the layers (config in, events out): " + \
        ", ".join(f"{m} -> {t} ({LAYERS[layer_of(m)][0]} -> {LAYERS[layer_of(t)][0]})"
                  for m, t in sorted(found - UPWARD_ALLOWED))


def test_an_upward_import_is_found() -> None:
    """The check can fail: the supervisor reaching up to the run's state, as it once did."""
    graph = {"workspace.supervisor.manager": {"workspace.run.state", "workspace.errors"},
             "workspace.run.state": {"workspace.supervisor.identity"}}
    graph.update({t: set() for targets in list(graph.values()) for t in targets})
    assert upward(graph) == {("workspace.supervisor.manager", "workspace.run.state")}
