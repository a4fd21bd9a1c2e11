"""Docker fixtures, registered for every test by tests/conftest.py: a real engine (the
tests needing one skip, saying why, when none answers), and throw-away compose projects,
each removed with its volumes afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from workspace.config.models import Config, DockerConfig
from workspace.deps.compose import MANAGED_LABEL, PROJECT_LABEL, ComposeProject
from workspace.deps.docker_engine import connect, engine_problem
from workspace.errors import WorkspaceError

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker" / "docker-compose.yml"
CI_HINT = "CI starts one with .ci/setup-docker.sh"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """The engine's SDK client; skips the test, with the reason, when no engine answers."""
    problem = engine_problem(timeout_s=5)
    if problem is not None:
        pytest.skip(f"{problem} — {CI_HINT}")
    client = connect(10)
    yield client
    client.close()


@pytest.fixture(scope="session")
def host_network(docker_client: Any) -> bool:
    """Whether containers must share the host's network: set by CI's env file, else when
    the engine has no bridge network."""
    configured = os.environ.get("WORKSPACE_DOCKER__HOST_NETWORK")
    if configured is not None:
        return configured.strip().lower() in ("1", "true", "yes", "on")
    return not docker_client.networks.list(names=["bridge"])


@pytest.fixture
def docker_config(tmp_path: Path, docker_client: Any,
                  host_network: bool) -> Iterator[Callable[..., Config]]:
    """Makes the Config of a fresh compose project (unique name, free ports, generated
    secrets); every project made is taken down with its volumes afterwards."""
    made: list[Config] = []

    def make(compose_file: Path = COMPOSE_FILE, *, host: bool | None = None) -> Config:
        env_file = tmp_path / f"docker-{len(made)}.env"
        env_file.write_text(
            f"POSTGRES_PASSWORD=pg-{secrets.token_hex(8)}\n"
            f"ZITADEL_DB_PASSWORD=zd-{secrets.token_hex(8)}\n"
            f"ZITADEL_MASTERKEY={secrets.token_hex(16)}\n")
        config = Config(project_dir=tmp_path, docker=DockerConfig(
            compose_file=compose_file, env_file=env_file,
            project_name=f"wstest-{uuid.uuid4().hex[:10]}",
            postgres_port=free_port(), zitadel_port=free_port(),
            host_network=host_network if host is None else host,
            compose_timeout_s=180, stop_timeout_s=5))
        made.append(config)
        return config

    yield make
    for config in made:
        project = ComposeProject(config)
        with contextlib.suppress(WorkspaceError):
            project.down(volumes=True)
        # whatever `down` could not remove (it failed, or the file was gone): ours, by label
        labels = {"label": [f"{PROJECT_LABEL}={project.name}", f"{MANAGED_LABEL}=true"]}
        for container in docker_client.containers.list(all=True, filters=labels):
            container.remove(force=True, v=True)
        for volume in docker_client.volumes.list(filters=labels):
            volume.remove(force=True)
