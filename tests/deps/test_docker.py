"""The Docker backend against a real engine (tests marked `docker` skip, with the reason,
when none answers; CI starts one with .ci/setup-docker.sh). Only the postgres service is
brought up: Zitadel's image cannot be had where CI runs."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.deps.zitadel_fixture import FakeCompose, zitadel_container
from workspace.config.models import Config, DockerConfig, load_config
from workspace.deps.compose import MANAGED_LABEL, ComposeProject, ContainerInfo
from workspace.deps.docker import (
    DockerPostgres,
    DockerZitadel,
    engine_problem,
    engine_url,
    postgres_url,
)
from workspace.errors import ConfigError, DependencyExited, DockerUnavailable, PortInUse
from workspace.output import redact

MakeConfig = Callable[..., Config]
docker = pytest.mark.docker


def wait_healthy(probe: Callable[[], str | None], timeout_s: float = 90.0) -> float:
    """Seconds until `probe` answers None; fails after `timeout_s` with its last reason."""
    began = time.monotonic()
    while (reason := probe()) is not None:
        if time.monotonic() - began > timeout_s:
            pytest.fail(f"not healthy within {timeout_s:.0f}s: {reason}")
        time.sleep(0.1)
    return time.monotonic() - began


def env_value(config: Config, name: str) -> str:
    for line in config.path(config.docker.env_file).read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise KeyError(name)


# -- without an engine: these never skip ----------------------------------------------

@pytest.mark.parametrize("kind", ["missing socket", "socket nobody serves"])
def test_no_engine_is_docker_unavailable_naming_where_it_looked(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock_path = tmp_path / "dead.sock"
    holder = None
    if kind == "socket nobody serves":  # bound, never listening: connections are refused
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(str(sock_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock_path}")
    try:
        began = time.monotonic()
        problem = engine_problem(timeout_s=2)
        assert problem is not None and f"unix://{sock_path}" in problem
        with pytest.raises(DockerUnavailable) as info:
            DockerPostgres(Config(project_dir=tmp_path)).start()
        assert info.value.code == "PRECHECK_DOCKER_UNAVAILABLE" and info.value.exit_code == 14
        assert f"no Docker engine answers at unix://{sock_path}" in info.value.message
        assert "Start Docker" in info.value.remedy
        assert time.monotonic() - began < 15
    finally:
        if holder is not None:
            holder.close()


def test_missing_env_file_is_a_config_error_with_the_copy_command(tmp_path: Path) -> None:
    config = Config(project_dir=tmp_path, docker=DockerConfig(env_file=Path("docker/.env")))
    with pytest.raises(ConfigError) as info:
        ComposeProject(config).env_values()
    assert info.value.code == "PRECHECK_CONFIG_INVALID"
    assert "docker/.env.example" in info.value.remedy


def test_url_quotes_and_registers_the_password(tmp_path: Path) -> None:
    config = Config(project_dir=tmp_path, docker=DockerConfig(postgres_port=6543))
    password = f"p@ss:w/rd-{uuid.uuid4().hex[:6]}"
    url = postgres_url(config, {"POSTGRES_PASSWORD": password, "POSTGRES_DB": "app"})
    assert url.startswith("postgresql://postgres:p%40ss%3Aw%2Frd-") and url.endswith("@127.0.0.1:6543/app")
    assert redact.mask_url(url) == "postgresql://postgres:********@127.0.0.1:6543/app"
    assert password not in redact.redact(f"failed with {password}")


def test_host_network_from_the_environment_adds_the_override(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={"WORKSPACE_DOCKER__HOST_NETWORK": "1"})
    assert config.docker.host_network
    files = ComposeProject(config).files
    assert [f.name for f in files] == ["docker-compose.yml", "docker-compose.host.yml"]


def zitadel_with(tmp_path: Path, before: list[ContainerInfo],
                 after: list[ContainerInfo]) -> DockerZitadel:
    config = Config(project_dir=tmp_path)
    pat = config.path(config.oidc.pat_file)
    pat.parent.mkdir(parents=True, exist_ok=True)
    pat.write_text("pat-from-an-earlier-zitadel-0123456789\n")
    return DockerZitadel(config, project=FakeCompose(config, before, after))  # type: ignore[arg-type]


def test_a_zitadel_container_this_start_created_gets_the_first_boot_budget(
        tmp_path: Path) -> None:
    """#13 fix 6: after `docker compose down -v` an old PAT is still on disk; the new
    container's first boot must not be cut off after the guide's 30 s."""
    zitadel = zitadel_with(tmp_path, before=[], after=[zitadel_container("a" * 64, time.time())])
    assert zitadel.start() == "http://localhost:8080"
    assert zitadel.created and zitadel.first_boot


def test_a_pat_older_than_the_running_container_is_stale(tmp_path: Path) -> None:
    later = zitadel_container("b" * 64, time.time() + 60)
    zitadel = zitadel_with(tmp_path, before=[later], after=[later])
    zitadel.start()
    assert not zitadel.created and zitadel.first_boot
    earlier = zitadel_container("c" * 64, time.time() - 3600)
    zitadel = zitadel_with(tmp_path, before=[earlier], after=[earlier])
    zitadel.start()
    assert not zitadel.created and not zitadel.first_boot  # a restart: the guide's budget
    recreated = zitadel_container("d" * 64, time.time() - 3600)  # compose replaced it
    zitadel = zitadel_with(tmp_path, before=[earlier], after=[recreated])
    zitadel.start()
    assert zitadel.created and zitadel.first_boot


def test_a_docker_services_identity_is_its_container_not_one_made_since(
        tmp_path: Path) -> None:
    """What a dead launcher recorded (the container's id) stops that container only:
    compose recreates a container with a new id."""
    zitadel = zitadel_with(tmp_path, before=[], after=[zitadel_container("a" * 64)])
    zitadel.start()
    assert zitadel.identity() == "a" * 64
    assert zitadel.still_runs("a" * 64) and not zitadel.still_runs("b" * 64)
    since = zitadel_with(tmp_path, before=[zitadel_container("b" * 64)], after=[])
    assert not since.still_runs("a" * 64)
    assert zitadel_with(tmp_path, before=[], after=[]).identity() is None


def test_docker_checks_its_ports_with_those_it_starts_in_the_same_run(tmp_path: Path) -> None:
    config = Config(project_dir=tmp_path)
    project = FakeCompose(config, [], [])
    postgres = DockerPostgres(config, project=project)  # type: ignore[arg-type]
    postgres.check_ports(["zitadel"])
    postgres.check_ports([])
    assert project.checked == [["postgres", "zitadel"], ["postgres"]]


def test_docker_finds_the_recorded_password_in_its_env_file(tmp_path: Path) -> None:
    config = Config(project_dir=tmp_path)
    project = FakeCompose(config, [], [])
    url = DockerPostgres(config, project=project).recorded_url(  # type: ignore[arg-type]
        "postgresql://app:********@127.0.0.1:5432/workspace")
    assert url == postgres_url(config, project.env_values())
    assert url is not None and "pw%20from%20env" in url
    assert DockerZitadel(config, project=project).recorded_url("x") is None  # type: ignore[arg-type]


def test_a_containers_creation_time_is_read_to_the_microsecond() -> None:
    class Container:
        attrs = {"Id": "e" * 64, "Name": "/workspace-zitadel-1",
                 "Created": "2025-11-07T09:12:40.552117689Z", "State": {"Status": "running"},
                 "Config": {"Image": "zitadel", "Labels": {}}}

    info = ContainerInfo.of(Container())
    assert info.created_at == pytest.approx(1762506760.552117)


# -- against a real engine --------------------------------------------------------------

@docker
def test_engine_answers_where_the_cli_would_look(docker_client: Any) -> None:
    assert engine_problem() is None
    assert docker_client.ping()
    assert engine_url().startswith(("unix://", "tcp://", "npipe://", "ssh://"))


@docker
def test_postgres_comes_up_healthy_with_extensions_and_zitadel_role(
        docker_config: MakeConfig, docker_client: Any, host_network: bool) -> None:
    config = docker_config()
    backend = DockerPostgres(config)
    began = time.monotonic()
    url = backend.start()
    seconds = wait_healthy(backend.probe)
    print(f"\ncompose up -> healthy: {time.monotonic() - began:.1f}s (waited {seconds:.1f}s)")
    assert backend.started_by_us
    backend.check_alive()

    password = env_value(config, "POSTGRES_PASSWORD")
    assert password not in redact.mask_url(url)
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
        assert {"vector", "pgcrypto"} <= extensions  # docker/init.sql
        assert conn.execute("SELECT current_database()").fetchone() == ("workspace",)
    zitadel_url = url.replace(f"postgres:{password}@", f"zitadel:{env_value(config, 'ZITADEL_DB_PASSWORD')}@")
    with psycopg.connect(zitadel_url.rsplit("/", 1)[0] + "/zitadel", connect_timeout=10) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("zitadel", "zitadel")

    (info,) = backend.project.containers("postgres")
    assert info.managed and info.running and info.health == "healthy"
    project_filter = {"label": f"com.docker.compose.project={config.docker.project_name}"}
    if host_network:  # the override must not make compose create a network
        assert docker_client.networks.list(filters=project_filter) == []
    volumes = docker_client.volumes.list(filters=project_filter)
    assert [v.attrs["Labels"].get(MANAGED_LABEL) for v in volumes] == ["true"]


@docker
def test_container_that_exits_while_waited_on_fails_at_once_with_its_log(
        docker_config: MakeConfig, tmp_path: Path) -> None:
    compose_file = tmp_path / "crash.yml"
    compose_file.write_text(textwrap.dedent("""\
        services:
          postgres:
            image: pgvector/pgvector:pg18
            entrypoint: ["/bin/sh", "-c"]
            command: ["echo starting; echo 'FATAL: invalid setting' >&2; sleep 2; exit 3"]
            network_mode: none
            healthcheck:  # never passes: the wait goes on until the container exits
              test: ["CMD-SHELL", "exit 1"]
              interval: 1s
            labels:
              dev.workspace.managed: "true"
        """))
    backend = DockerPostgres(docker_config(compose_file, host=False))
    backend.start()
    began = time.monotonic()
    with pytest.raises(DependencyExited) as info:
        wait_healthy(backend.probe, timeout_s=60)
    assert time.monotonic() - began < 10  # at once, not after the 60 s budget
    assert info.value.code == "PRECHECK_DEPENDENCY_EXITED"
    assert "exited with code 3" in info.value.message
    assert "  | starting" in info.value.message and "  | FATAL: invalid setting" in info.value.message
    with pytest.raises(DependencyExited):
        backend.check_alive()


@docker
def test_leftovers_are_found_by_label_and_reused_by_the_next_start(
        docker_config: MakeConfig) -> None:
    config = docker_config()
    first = DockerPostgres(config)
    first.start()
    wait_healthy(first.probe)
    (running,) = first.project.containers("postgres")

    second = DockerPostgres(config)  # e.g. the next `workspace start`
    assert [c.id for c in second.project.containers("postgres")] == [running.id]
    second.start()
    assert not second.started_by_us  # it was running already: not ours to stop

    first.stop()
    third = DockerPostgres(config)
    assert [(c.id, c.status) for c in third.project.leftovers()] == [(running.id, "exited")]
    third.start()
    wait_healthy(third.probe)
    assert third.started_by_us and [c.id for c in third.reused] == [running.id]
    assert [c.id for c in third.project.containers()] == [running.id]  # no second container


@docker
def test_stop_keeps_the_volume_and_its_data(docker_config: MakeConfig, docker_client: Any) -> None:
    config = docker_config()
    backend = DockerPostgres(config)
    url = backend.start()
    wait_healthy(backend.probe)
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")

    backend.stop()
    (info,) = backend.project.containers("postgres")
    assert info.status == "exited"
    assert docker_client.volumes.get(f"{config.docker.project_name}_pgdata")

    url = backend.start()
    wait_healthy(backend.probe)
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


@pytest.fixture
def foreign_listener() -> Iterator[Callable[[int], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def listen(port: int) -> subprocess.Popen[bytes]:
        # Listens until its stdin closes: when the test ends, however it ends.
        code = ("import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])));"
                " s.listen(); print('ready', flush=True); sys.stdin.read()")
        proc = subprocess.Popen([sys.executable, "-c", code, str(port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        return proc

    yield listen
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@docker
def test_foreign_process_on_the_port_is_named(
        docker_config: MakeConfig, foreign_listener: Callable[[int], subprocess.Popen[bytes]]) -> None:
    config = docker_config()
    proc = foreign_listener(config.docker.postgres_port)
    with pytest.raises(PortInUse) as info:
        DockerPostgres(config).start()
    assert info.value.code == "PRECHECK_PORT_IN_USE" and info.value.port == config.docker.postgres_port
    assert re.search(rf"pid {proc.pid} python[\d.]* \(.*socket", info.value.holder)
    assert "docker.postgres_port" in info.value.remedy
    assert proc.poll() is None  # never touched


@docker
def test_foreign_container_on_the_port_is_named_and_left_running(
        docker_config: MakeConfig, docker_client: Any, host_network: bool) -> None:
    config = docker_config()
    port = config.docker.postgres_port
    name = f"wstest-foreign-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = (
        {"network_mode": "host", "command": ["postgres", "-c", f"port={port}"]} if host_network
        else {"ports": {"5432/tcp": ("127.0.0.1", port)}})
    foreign = docker_client.containers.run("pgvector/pgvector:pg18", name=name, detach=True,
                                           environment={"POSTGRES_PASSWORD": "foreign"}, **options)
    try:
        deadline = time.monotonic() + 60
        while ComposeProject(config).port_holder(port) is None:
            assert time.monotonic() < deadline, "the foreign container never took the port"
            time.sleep(0.2)
        with pytest.raises(PortInUse) as info:
            DockerPostgres(config).start()
        assert f"container {name} (image pgvector/pgvector:pg18)" in info.value.holder
        foreign.reload()
        assert foreign.status == "running"  # never touched
    finally:
        foreign.remove(force=True, v=True)
