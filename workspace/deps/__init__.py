"""Where the database comes from: a URL someone gave us, our container, or the embedded
PostgreSQL. `choose_backend` decides, for `workspace up` and every `db` command alike.

    BACKENDS["docker"](config, "zitadel")      # a deps.base.Backend: ports, start, identity,
                                               # check_alive, stop, still_runs, recorded_url
    backend_for(config, DepRef("postgres", "embedded")).stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workspace.errors import DockerUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from workspace.config.models import Config
    from workspace.deps.base import Backend
    from workspace.deps.embedded import EmbeddedPostgres
    from workspace.deps.ref import DepRef

# Each backend is imported when chosen: a configured URL needs none of them.

__all__ = ["BACKENDS", "backend_for", "choose_backend", "embedded_server"]


def embedded_server(config: Config) -> EmbeddedPostgres:
    """The project's embedded server: it creates precheck.required_extensions and makes
    the extensions the migrations create available (pgcrypto, uuid-ossp: fetched once)."""
    from workspace.deps import pg_extensions
    from workspace.deps.embedded import EmbeddedPostgres

    e = config.embedded
    migrations = config.path(config.migrations.dir)
    return EmbeddedPostgres(config.path(e.data_dir), host=e.host, port=e.port,
                            database=e.database, start_timeout_s=e.start_timeout_s,
                            extensions=config.precheck.required_extensions,
                            available=lambda: sorted(pg_extensions.mentioned_in(migrations)))


def _embedded(config: Config, service: str) -> Backend:
    from workspace.deps.embedded import EmbeddedBackend

    return EmbeddedBackend(embedded_server(config),  # PostgreSQL only
                           port_given=config.embedded.port is not None)


def _docker(config: Config, service: str) -> Backend:
    from workspace.deps.docker import DockerPostgres, DockerZitadel

    return DockerZitadel(config) if service == "zitadel" else DockerPostgres(config)


def _external(config: Config, service: str) -> Backend:
    from workspace.deps.external import ExternalPostgres

    return ExternalPostgres(config)  # an external Zitadel is only an issuer URL


# Each backend, by its key (config's deps.*.backend, DepRef.backend): it makes the
# object that checks the ports of, starts, identifies, watches (check_alive) and stops
# that service, and finds its password again (deps/base.py). Imported when used.
BACKENDS: dict[str, Callable[[Config, str], Backend]] = {
    "embedded": _embedded, "docker": _docker, "external": _external}


def backend_for(config: Config, ref: DepRef) -> Backend:
    return BACKENDS[ref.backend](config, ref.service)


def choose_backend(config: Config) -> tuple[Backend, str]:
    """The configured backend, or for `auto`: Docker when an engine answers, else the
    embedded server. Returns it with the reason for the choice."""
    choice = config.deps.postgres.backend
    if choice == "external" or (choice == "auto" and config.database.url is not None):
        return BACKENDS["external"](config, "postgres"), "a database URL is configured"
    if choice == "docker":
        from workspace.deps.docker import engine_problem

        problem = engine_problem()
        if problem is not None:
            raise DockerUnavailable(f"deps.postgres.backend is docker, but {problem}")
        return BACKENDS["docker"](config, "postgres"), "configured"
    if choice == "embedded":
        return BACKENDS["embedded"](config, "postgres"), "configured"
    if not config.path(config.docker.env_file).is_file():
        # No secrets for the compose file: Docker is not set up here (and the engine
        # need not be asked, which spares importing the docker SDK).
        return BACKENDS["embedded"](config, "postgres"), (
            f"{config.docker.env_file} is missing: copy docker/.env.example to use Docker")
    from workspace.deps.docker import engine_problem

    if engine_problem() is None:
        return BACKENDS["docker"](config, "postgres"), "a Docker engine answers"
    return BACKENDS["embedded"](config, "postgres"), "no Docker engine answers"
