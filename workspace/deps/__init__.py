"""Where the database comes from: a URL someone gave us, or the embedded PostgreSQL."""

from __future__ import annotations

from workspace.config import Config
from workspace.deps.embedded import EmbeddedPostgres

__all__ = ["database_url", "embedded_server"]


def embedded_server(config: Config) -> EmbeddedPostgres:
    e = config.embedded
    return EmbeddedPostgres(config.path(e.data_dir), host=e.host, port=e.port,
                            database=e.database, start_timeout_s=e.start_timeout_s)


def database_url(config: Config) -> str:
    """The configured URL (flag, DATABASE_URL, .env, config.yaml), else the embedded
    server's, started on demand and left running for the next command."""
    if config.database.url is not None:
        return config.database.url.get_secret_value()
    return embedded_server(config).start()
