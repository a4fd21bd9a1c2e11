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
from workspace.deps.ref import DOCKER_ZITADEL, EMBEDDED_POSTGRES, DepRef
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

    result = UpResult(backend="docker", started=[DepRef("postgres", "docker"), DOCKER_ZITADEL])
    assert UpResult.from_json(json.loads(json.dumps(asdict(result)))) == result


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
