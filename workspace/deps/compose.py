"""Our compose project: `docker compose` (v2) as a bounded subprocess for up and down,
and the docker SDK for what its containers are doing.

    project = ComposeProject(config)
    project.up(["postgres"])         # compose -p <name> -f <file> [-f host] --env-file <env> up -d
    project.probe("postgres")        # None when healthy, else the reason; DependencyExited if it died
    project.stop()                   # our running containers, dependents first; volumes stay

Our containers are those carrying compose's project label for this project and our own
dev.workspace.managed=true (every service in docker/docker-compose.yml sets it): only
those are ever stopped or removed, never anything matched by name. Containers of others
are only read, to name who holds a port.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace.config.models import Config
from workspace.deps.docker_engine import connect, docker, map_docker_errors, reason
from workspace.deps.ports import listener_pids, port_holder
from workspace.errors import (
    ConfigError,
    DependencyExited,
    DockerUnavailable,
    PortInUse,
    display_path,
)
from workspace.output import redact

__all__ = ["EXITED", "HOST", "MANAGED_LABEL", "PROJECT_LABEL", "SERVICE_LABEL", "ComposeProject",
           "ContainerInfo"]

MANAGED_LABEL = "dev.workspace.managed"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
HOST = "127.0.0.1"
HOST_OVERRIDE = "docker-compose.host.yml"  # next to the compose file
LOG_TAIL_LINES = 20
EXITED = ("exited", "dead", "restarting")  # restarting: it crashed and a restart policy retries
_SECRET_NAMES = ("PASSWORD", "MASTERKEY", "SECRET", "TOKEN")
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    service: str
    project: str
    image: str
    status: str  # created | running | paused | restarting | exited | dead
    health: str | None  # starting | healthy | unhealthy; None without a healthcheck
    exit_code: int
    oom_killed: bool
    health_output: str  # what the last healthcheck printed
    managed: bool  # carries dev.workspace.managed=true
    created_at: float | None = None  # when the engine created it (epoch seconds)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @classmethod
    def of(cls, container: Any) -> ContainerInfo:
        attrs: dict[str, Any] = container.attrs
        state = attrs.get("State") or {}
        health = state.get("Health") or {}
        checks = health.get("Log") or []
        config = attrs.get("Config") or {}
        labels = config.get("Labels") or {}
        return cls(id=attrs["Id"], name=str(attrs.get("Name", "")).lstrip("/"),
                   service=labels.get(SERVICE_LABEL, ""), project=labels.get(PROJECT_LABEL, ""),
                   image=config.get("Image", ""), status=state.get("Status", "unknown"),
                   health=health.get("Status"), exit_code=int(state.get("ExitCode") or 0),
                   oom_killed=bool(state.get("OOMKilled")),
                   health_output=str(checks[-1].get("Output") or "").strip() if checks else "",
                   managed=labels.get(MANAGED_LABEL) == "true",
                   created_at=_epoch(attrs.get("Created")))

    def describe(self) -> str:
        text = f"container {self.name} (image {self.image})"
        if self.managed and self.project:
            text += (f", left by an earlier workspace run as compose project {self.project!r}: "
                     f"`docker compose -p {self.project} down`")
        elif self.project:
            text += f", compose project {self.project!r}"
        return text


class ComposeProject:
    """docker/docker-compose.yml as one compose project of ours.

        project = ComposeProject(config)
        project.up(["postgres"]); project.probe("postgres"); project.stop()
    """

    def __init__(self, config: Config) -> None:
        d = config.docker
        self.name = d.project_name
        self.files = [config.path(d.compose_file)]
        if d.host_network:
            self.files.append(self.files[0].with_name(HOST_OVERRIDE))
        self.env_file = config.path(d.env_file)
        self.pat_file = config.path(config.oidc.pat_file)
        self.ports = {"postgres": (d.postgres_port, "docker.postgres_port"),
                      "zitadel": (d.zitadel_port, "docker.zitadel_port")}
        self.engine_timeout_s = d.engine_timeout_s
        self.compose_timeout_s = d.compose_timeout_s
        self.stop_timeout_s = d.stop_timeout_s
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self.engine_timeout_s)
        return self._client

    def env_values(self) -> dict[str, str]:
        """The env file's values (secrets registered for redaction), or ConfigError."""
        from dotenv import dotenv_values

        if not self.env_file.is_file():
            example = self.env_file.with_name(".env.example")
            raise ConfigError(
                f"{display_path(self.env_file)} is missing: it holds the secrets docker compose needs",
                remedy=f"cp {display_path(example)} {display_path(self.env_file)}, then replace "
                       "every value (or choose the embedded backend).")
        values = {k: v for k, v in dotenv_values(self.env_file).items() if v is not None}
        for key, value in values.items():
            if any(part in key.upper() for part in _SECRET_NAMES):
                redact.register(value)
        return values

    # -- compose, the subprocess --

    def compose(self, *args: str, timeout_s: float | None = None) -> str:
        """Run `docker compose <args>` for this project, bounded; its output, or a translated error."""
        cli = shutil.which("docker")
        if cli is None:
            raise DockerUnavailable("the docker command is not on PATH (compose v2 runs as "
                                    "`docker compose`)")
        values = self.env_values()
        env = {k: v for k, v in os.environ.items() if k not in values}  # the env file wins
        env.update(POSTGRES_PORT=str(self.ports["postgres"][0]),
                   ZITADEL_PORT=str(self.ports["zitadel"][0]),
                   ZITADEL_PAT_DIR=str(self.pat_file.parent), ZITADEL_PAT_FILE=self.pat_file.name,
                   ZITADEL_UID=str(os.getuid()), ZITADEL_GID=str(os.getgid()))
        cmd = [cli, "compose", "-p", self.name]
        for file in self.files:
            cmd += ["-f", str(file)]
        cmd += ["--env-file", str(self.env_file), *args]
        timeout = timeout_s if timeout_s is not None else self.compose_timeout_s
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
        except OSError as exc:
            raise DockerUnavailable(f"cannot run {cli}: {exc}") from exc
        try:
            raw, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its compose plugin child
            proc.communicate(timeout=10)
            raise DockerUnavailable(
                f"`docker compose {' '.join(args)}` did not finish within {timeout:.0f}s",
                remedy="Check the engine and image downloads; raise docker.compose_timeout_s "
                       "for slow networks.") from exc
        output = redact.redact(raw.decode("utf-8", "replace"))
        if proc.returncode != 0:
            self._compose_failed(args, proc.returncode, output)
        return output

    def _compose_failed(self, args: Sequence[str], code: int, output: str) -> None:
        tail = "\n".join(f"  | {line}" for line in output.strip().splitlines()[-15:])
        what = f"`docker compose {' '.join(args)}` failed (exit {code}):\n{tail}"
        low = output.lower()
        if "required variable" in low or "invalid interpolation" in low:
            raise ConfigError(what, remedy=f"Set the variable named in {display_path(self.env_file)} "
                                           "(see docker/.env.example).")
        if "cannot connect to the docker daemon" in low:
            raise DockerUnavailable(what)
        if "unknown command" in low or "is not a docker command" in low:
            raise DockerUnavailable("compose v2 is not installed: `docker compose` is unknown",
                                    remedy="Install the docker compose plugin (or Docker Desktop).")
        services = [s for s in self.ports if s in args] or list(self.ports)
        for info in self.containers():  # a container that died says more than compose
            if info.status in EXITED and info.service in services:
                raise self.exited(info)
        if "address already in use" in low or "port is already allocated" in low:
            self.check_ports(services)
        raise DockerUnavailable(what, remedy="Read compose's message above: the images must be "
                                             "pullable and the compose files valid.")

    def up(self, services: Sequence[str]) -> None:
        self.pat_file.parent.mkdir(parents=True, exist_ok=True)  # else the engine makes it root's
        for info in self.containers():
            if info.status == "dead":  # compose cannot start these again
                with map_docker_errors(f"removing {info.name}"):
                    self.client.containers.get(info.id).remove()
        self.compose("up", "-d", *services)

    def down(self, *, volumes: bool = False) -> None:
        """Remove the project's containers (and with volumes=True its data): `compose down`."""
        self.compose("down", "--timeout", str(int(self.stop_timeout_s)),
                     *(["--volumes"] if volumes else []))

    # -- state, through the SDK --

    def containers(self, service: str | None = None) -> list[ContainerInfo]:
        """Our containers in this project, running or not."""
        labels = [f"{PROJECT_LABEL}={self.name}", f"{MANAGED_LABEL}=true"]
        if service:
            labels.append(f"{SERVICE_LABEL}={service}")
        with map_docker_errors("listing containers"):
            found = self.client.containers.list(all=True, filters={"label": labels})
            return sorted((ContainerInfo.of(c) for c in found), key=lambda i: not i.running)

    def leftovers(self) -> list[ContainerInfo]:
        """Our containers from earlier runs that are not running (`up` starts them again)."""
        return [info for info in self.containers() if not info.running]

    def probe(self, service: str) -> str | None:
        """None when the service's container runs and is healthy (or has no healthcheck),
        else the reason; DependencyExited at once if it exited."""
        found = self.containers(service)
        if not found:
            return f"no {service} container in compose project {self.name}"
        info = found[0]
        if info.status in EXITED:
            raise self.exited(info)
        if not info.running:
            return f"{info.name} is {info.status}"
        if info.health in (None, "healthy"):
            return None
        detail = f": {info.health_output[-200:]}" if info.health_output else ""
        return f"{info.name} is {info.health}{detail}"

    def exited(self, info: ContainerInfo) -> DependencyExited:
        how = "keeps restarting" if info.status == "restarting" else f"exited with code {info.exit_code}"
        if info.oom_killed:
            how += " (out of memory)"
        return DependencyExited(
            f"container {info.name} (service {info.service}) {how}\n{self.log_tail(info)}",
            remedy=f"Read the log lines above; all of them: docker compose -p {self.name} logs "
                   f"{info.service}")

    def log_tail(self, info: ContainerInfo) -> str:
        try:
            raw = self.client.containers.get(info.id).logs(tail=LOG_TAIL_LINES)
        except (docker.errors.DockerException, OSError) as exc:
            return f"(its log could not be read: {reason(exc)})"
        lines = raw.decode("utf-8", "replace").rstrip().splitlines()[-LOG_TAIL_LINES:]
        if not lines:
            return "(its log is empty)"
        return f"last {len(lines)} log lines of {info.name}:\n" + "\n".join(
            f"  | {redact.redact(line)}" for line in lines)

    # -- ports --

    def check_ports(self, services: Sequence[str]) -> None:
        """PortInUse, naming the holder, for a configured port of `services` that is taken
        by anything but our own running container of that service."""
        ours = {info.service for info in self.containers() if info.running}
        for service in services:
            if service in ours or service not in self.ports:
                continue
            port, setting = self.ports[service]
            holder = self.port_holder(port)
            if holder is not None:
                raise PortInUse(HOST, port, holder, setting=setting)

    def port_holder(self, port: int) -> str | None:
        """None when 127.0.0.1:port is free, else who holds it: a container (publishing the
        port, or on the host network) by name, else the process."""
        described = port_holder(HOST, port)
        if described is None:
            return None
        with map_docker_errors("listing containers"):
            running = self.client.containers.list()
        listener = _container_of_listener(port)
        for container in running:
            ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            published = any(str(b.get("HostPort")) == str(port)
                            for bindings in ports.values() for b in bindings or [])
            if published or container.id == listener:
                return ContainerInfo.of(container).describe()
        return described

    def stop(self, services: Sequence[str] | None = None) -> list[str]:
        """Stop our running containers (of `services`, else all), dependents before
        postgres. Containers and volumes stay, for the next start. Their names."""
        stopped = []
        for info in sorted(self.containers(), key=lambda i: i.service == "postgres"):
            if info.running and (services is None or info.service in services):
                with map_docker_errors(f"stopping {info.name}"):
                    try:
                        self.client.containers.get(info.id).stop(timeout=int(self.stop_timeout_s))
                    except docker.errors.NotFound:
                        continue  # removed meanwhile: nothing left to stop
                stopped.append(info.name)
        return stopped


def _epoch(created: Any) -> float | None:
    """The engine's `Created` ("2025-11-07T09:12:40.552117689Z", nanoseconds) in epoch seconds."""
    from datetime import datetime

    if not isinstance(created, str):
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", created.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return None


def _container_of_listener(port: int) -> str | None:
    """The id of the container whose process listens on `port` (host network), if any."""
    for pid in listener_pids(port):
        with contextlib.suppress(OSError):
            found = _CONTAINER_ID.findall(Path(f"/proc/{pid}/cgroup").read_text())
            if found:
                return str(found[-1])
    return None


