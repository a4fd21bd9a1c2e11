"""A PostgreSQL someone else runs (staging): we only hold its URL, as pytest-postgresql's
NoopExecutor does; start and stop do nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workspace.errors import ConfigError

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["ExternalPostgres"]


class ExternalPostgres:
    name = "external"
    started_by_us = False

    def __init__(self, config: Config) -> None:
        if config.database.url is None:
            raise ConfigError(
                "deps.postgres.backend is external but no database URL is configured",
                remedy="Set DATABASE_URL, database.url in config.yaml, or --database-url.")
        self._url = config.database.url.get_secret_value()

    def start(self) -> str:
        return self._url

    def check_alive(self) -> None:
        return None  # nothing of ours to watch: readiness tells

    def stop(self) -> list[str]:
        return []
