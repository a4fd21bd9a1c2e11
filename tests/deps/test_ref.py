"""Typed dependency references and the BACKENDS registry: no dependency travels as a
"service:backend" string any more, and the state files older workspaces wrote still read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from workspace.config.models import Config
from workspace.deps import BACKENDS, backend_for
from workspace.deps.ref import DOCKER_ZITADEL, EMBEDDED_POSTGRES, DepRef, Instance, identity_of
from workspace.run.launcher import UpResult
from workspace.run.state import RunState, StateStore


def test_a_state_file_of_the_old_format_still_reads(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({
        "pid": 1, "pid_started": 2.0, "mode": "foreground", "started_at": 3.0,
        "backend": "docker", "started": ["postgres:docker", "zitadel:docker"]}))
    state = store.read()
    assert state is not None
    assert state.started == [DepRef("postgres", "docker"), DOCKER_ZITADEL]


def test_the_state_file_stores_typed_references(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = RunState(1, 2.0, "foreground", 3.0, started=[EMBEDDED_POSTGRES])
    store.write(state)
    assert json.loads(store.path.read_text())["started"] == [
        {"service": "postgres", "backend": "embedded"}]
    read = store.read()
    assert read is not None and read.started == [EMBEDDED_POSTGRES]


def test_an_unknown_reference_makes_the_record_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        DepRef.from_json("postgres:kubernetes")
    store = StateStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"pid": 1, "pid_started": 2.0, "mode": "foreground",
                                      "started_at": 3.0, "started": ["mystery"]}))
    assert store.read() is None  # nothing in it can be trusted (stop.py removes it)


def test_the_detached_hand_off_keeps_the_references() -> None:
    from dataclasses import asdict

    result = UpResult(backend="docker", started=[DepRef("postgres", "docker"), DOCKER_ZITADEL],
                      identities=[Instance(DOCKER_ZITADEL, "c" * 64)])
    assert UpResult.from_json(json.loads(json.dumps(asdict(result)))) == result


def test_the_state_file_keeps_each_identity_and_reads_an_older_postmaster(
        tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    identity = [123, "boot-id 456"]
    store.write(RunState(1, 2.0, "foreground", 3.0, started=[EMBEDDED_POSTGRES],
                         identities=[Instance(EMBEDDED_POSTGRES, identity)]))
    read = store.read()
    assert read is not None and read.identities == [Instance(EMBEDDED_POSTGRES, identity)]
    assert identity_of(read.identities, EMBEDDED_POSTGRES) == identity
    assert identity_of(read.identities, DOCKER_ZITADEL) is None
    older = json.loads(store.path.read_text())
    del older["identities"]
    older["postmaster"] = identity  # what a workspace before the identities wrote
    store.path.write_text(json.dumps(older))
    read = store.read()
    assert read is not None and read.identities == [Instance(EMBEDDED_POSTGRES, identity)]


def test_the_registry_makes_each_backend(tmp_path: Path) -> None:
    from workspace.deps.docker import DockerPostgres, DockerZitadel
    from workspace.deps.embedded import EmbeddedBackend
    from workspace.deps.external import ExternalPostgres

    config = Config(project_dir=tmp_path, database={"url": "postgresql://u:p@h/d"})
    assert set(BACKENDS) == {"embedded", "docker", "external"}
    assert isinstance(backend_for(config, EMBEDDED_POSTGRES), EmbeddedBackend)
    assert isinstance(backend_for(config, DepRef("postgres", "docker")), DockerPostgres)
    assert isinstance(backend_for(config, DOCKER_ZITADEL), DockerZitadel)
    assert isinstance(backend_for(config, DepRef("postgres", "external")), ExternalPostgres)
    assert backend_for(config, DepRef("postgres", "external")).stop() == []


def test_no_code_matches_dependency_keys_as_strings() -> None:
    """"postgres:embedded" and friends exist only where the old state file is read."""
    pattern = re.compile(r"""["'](postgres|zitadel):(embedded|docker|external)?["'{]""")
    reader = REPO / "workspace" / "deps" / "ref.py"
    found = [f"{path.relative_to(REPO)}:{n}" for path in (REPO / "workspace").rglob("*.py")
             if path != reader
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line)]
    assert found == []


_KINDS = {"embedded", "docker", "external"}


def backend_name_checks(source: str) -> list[int]:
    """Lines of `source` that branch on a backend's name (`x.backend == "docker"`,
    `backend.name in ("embedded", "docker")`) or type (`isinstance(b, EmbeddedBackend)`).
    A configured choice (`config.deps.postgres.backend`) is the user's, not an identity."""
    import ast

    def kinds(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in _KINDS
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(
            kinds(e) for e in node.elts)

    def named(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr in ("backend", "name")
                and "deps" not in ast.unparse(node).split("."))

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(named(o) for o in operands) and any(kinds(o) for o in operands):
                found.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "isinstance" and len(node.args) == 2
              and any(word in ast.unparse(node.args[1])
                      for word in ("Embedded", "Docker", "External", "Backend"))):
            found.append(node.lineno)
    return found


def test_the_check_for_backend_names_finds_them() -> None:
    """The control: each way of asking a backend's name or type is found."""
    source = ('if state.backend == "embedded": pass\n'
              'if backend.name == "docker": pass\n'
              'if result.backend in ("embedded", "docker"): pass\n'
              'if isinstance(backend, EmbeddedBackend): pass\n'
              'if config.deps.postgres.backend == "docker": pass\n'
              'if mode == "docker": pass\n')
    assert backend_name_checks(source) == [1, 2, 3, 4]


def test_run_asks_its_backends_not_their_names() -> None:
    """run/ reaches each backend through deps.BACKENDS and the Backend protocol: it never
    branches on a backend's name or type (Zitadel's mode is a configured choice)."""
    found = [f"{path.relative_to(REPO)}:{line}"
             for path in sorted((REPO / "workspace" / "run").glob("*.py"))
             for line in backend_name_checks(path.read_text())]
    assert found == []
