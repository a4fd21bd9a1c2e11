"""The Docker backend the launcher uses: PostgreSQL and Zitadel from
docker/docker-compose.yml (compose.py), on an engine found by docker_engine.py.

    pg = DockerPostgres(config)
    url = pg.start()        # `docker compose up -d postgres`; reuses our container if any
    pg.check_alive()        # DependencyExited at once, with its last log lines, if it died
    pg.probe()              # None when healthy, else the reason
    pg.identity()           # its container's id, recorded; pg.still_runs(id) later
    pg.stop()               # stops the container this run started; the volume stays

    zitadel = DockerZitadel(config)
    issuer = zitadel.start(); zitadel.first_boot   # a new container, or no (or a stale) PAT
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from workspace.config.models import Config
from workspace.deps.compose import EXITED, HOST, ComposeProject, ContainerInfo
from workspace.deps.docker_engine import engine_problem, engine_url
from workspace.errors import DependencyExited
from workspace.output import redact

__all__ = ["ComposeProject", "ContainerInfo", "DockerPostgres", "DockerZitadel",
           "engine_problem", "engine_url", "postgres_url"]


def postgres_url(config: Config, values: Mapping[str, str]) -> str:
    """The compose database's URL, from the env file's values (defaults as in the compose
    file). The password is registered for redaction: print it only through mask_url()."""
    user = values.get("POSTGRES_USER") or "postgres"
    password = values.get("POSTGRES_PASSWORD") or ""
    database = values.get("POSTGRES_DB") or "workspace"
    redact.register(password)
    return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{HOST}:"
            f"{config.docker.postgres_port}/{quote(database, safe='')}")


# -- the backends the launcher uses ----------------------------------------------------

class _DockerService:
    """One service of the compose project; its identity is its container's id (compose
    recreates a container with a new one), so a dead launcher's record stops the
    container it started, not one made since."""

    name = "docker"
    ours = True
    runs_zitadel = True
    service = ""
    needs: tuple[str, ...] = ()  # services compose starts with it (depends_on)

    def __init__(self, config: Config, *, project: ComposeProject | None = None) -> None:
        self.config = config
        self.project = project or ComposeProject(config)
        self.started_by_us = False
        self.reused: list[ContainerInfo] = []  # leftovers of earlier runs that `up` restarted

    def _up(self) -> None:
        before = self.project.containers(self.service)
        running = any(info.running for info in before)
        if not running:
            self.project.check_ports([*self.needs, self.service])
        self.reused = [info for info in before if not info.running]
        self.started_by_us = not running  # before: an `up` cut short leaves containers
        self.project.up([self.service])

    def check_ports(self, with_services: list[str]) -> None:
        """Its configured ports (and those of `with_services`, started in the same run)
        free, or held by our own running containers of those services."""
        self.project.check_ports([self.service, *with_services])

    def identity(self) -> Any:
        found = self.project.containers(self.service)
        return found[0].id if found else None

    def still_runs(self, identity: Any) -> bool:
        return any(info.id == identity for info in self.project.containers(self.service))

    def recorded_url(self, masked: str) -> str | None:
        return None  # Zitadel's issuer holds no password

    def check_alive(self) -> None:
        """DependencyExited at once if the container exited (or was removed)."""
        found = self.project.containers(self.service)
        if not found:
            raise DependencyExited(f"the {self.service} container of compose project "
                                   f"{self.project.name} was removed while being waited on")
        if found[0].status in EXITED:
            raise self.project.exited(found[0])

    def probe(self) -> str | None:
        return self.project.probe(self.service)

    def stop(self) -> list[str]:
        return self.project.stop([self.service])


class DockerPostgres(_DockerService):
    """PostgreSQL from the compose file, as a `deps.base.Backend`."""

    service = "postgres"

    def start(self) -> str:
        self._up()
        return postgres_url(self.config, self.project.env_values())

    def recorded_url(self, masked: str) -> str | None:
        """From the env file, where the compose project keeps its password."""
        return postgres_url(self.config, self.project.env_values())


class DockerZitadel(_DockerService):
    """Zitadel from the compose file (which starts postgres first); `start()` gives the issuer."""

    service = "zitadel"
    needs = ("postgres",)

    created = False  # compose created the container in start(): a new (or recreated) one
    created_at: float | None = None  # when the engine created the running container

    def start(self) -> str:
        known = {info.id for info in self.project.containers(self.service)}
        self._up()
        found = self.project.containers(self.service)
        self.created = bool(found) and found[0].id not in known
        self.created_at = found[0].created_at if found else None
        return f"http://localhost:{self.config.docker.zitadel_port}"

    @property
    def first_boot(self) -> bool:
        """Give Zitadel the first-boot budget (one to three minutes): its container was just
        created (after `docker compose down -v` too), or its PAT is missing or older than
        the container (stale: a first boot writes a new one)."""
        from workspace.deps.zitadel import zitadel_first_boot

        return zitadel_first_boot(self.project.pat_file, container_created=self.created,
                                  container_created_at=self.created_at)
