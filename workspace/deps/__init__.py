"""Where the database comes from: a URL someone gave us, our container, or the embedded
PostgreSQL. `choose_backend` decides, for `workspace up` and every `db` command alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workspace.errors import DockerUnavailable

if TYPE_CHECKING:
    from workspace.config import Config
    from workspace.deps.base import Backend
    from workspace.deps.embedded import EmbeddedPostgres

# Each backend is imported when chosen: a configured URL needs none of them.

__all__ = ["choose_backend", "database_url", "embedded_server"]


def embedded_server(config: Config) -> EmbeddedPostgres:
    """The project's embedded server: it creates precheck.required_extensions and makes
    the extensions the migrations create available (pgcrypto, uuid-ossp: fetched once)."""
    from workspace.deps import pg_extensions
    from workspace.deps.embedded import EmbeddedPostgres

    e = config.embedded
    return EmbeddedPostgres(config.path(e.data_dir), host=e.host, port=e.port,
                            database=e.database, start_timeout_s=e.start_timeout_s,
                            extensions=config.precheck.required_extensions,
                            available=sorted(pg_extensions.mentioned_in(
                                config.path(config.migrations.dir))))


def choose_backend(config: Config) -> tuple[Backend, str]:
    """The configured backend, or for `auto`: Docker when an engine answers, else the
    embedded server. Returns it with the reason for the choice."""
    from workspace.deps.embedded import EmbeddedBackend
    from workspace.deps.external import ExternalPostgres

    choice = config.deps.postgres.backend
    if choice == "external" or (choice == "auto" and config.database.url is not None):
        return ExternalPostgres(config), "a database URL is configured"
    if choice == "docker":
        from workspace.deps.docker import DockerPostgres, engine_problem

        problem = engine_problem()
        if problem is not None:
            raise DockerUnavailable(f"deps.postgres.backend is docker, but {problem}")
        return DockerPostgres(config), "configured"
    if choice == "embedded":
        return EmbeddedBackend(embedded_server(config)), "configured"
    if not config.path(config.docker.env_file).is_file():
        # No secrets for the compose file: Docker is not set up here (and the engine
        # need not be asked, which spares importing the docker SDK).
        return EmbeddedBackend(embedded_server(config)), (
            f"{config.docker.env_file} is missing: copy docker/.env.example to use Docker")
    from workspace.deps.docker import DockerPostgres, engine_problem

    if engine_problem() is None:
        return DockerPostgres(config), "a Docker engine answers"
    return EmbeddedBackend(embedded_server(config)), "no Docker engine answers"


def database_url(config: Config) -> str:
    """The configured URL (flag, DATABASE_URL, .env, config.yaml), else the database of
    the workspace running for this project (running_db.py), else the database of the
    backend `workspace up` would use, started on demand and left running."""
    if config.database.url is not None:
        return config.database.url.get_secret_value()
    from workspace.running_db import running_database_url

    running = running_database_url(config)
    if running is not None:
        return running
    backend, _ = choose_backend(config)
    return backend.start()
