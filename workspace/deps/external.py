"""A PostgreSQL someone else runs (staging): we only hold its URL, as pytest-postgresql's
NoopExecutor does; start and stop do nothing, it binds no port and has no identity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.errors import ConfigError

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["ExternalPostgres"]


class ExternalPostgres:
    name = "external"
    started_by_us = False
    ours = False  # someone else's: its outages show in the apps' health
    runs_zitadel = False

    def __init__(self, config: Config) -> None:
        if config.database.url is None:
            raise ConfigError(
                "deps.postgres.backend is external but no database URL is configured",
                remedy="Set DATABASE_URL, database.url in config.yaml, or --database-url.")
        self._url = config.database.url.get_secret_value()

    def check_ports(self, with_services: list[str]) -> None:
        return None  # it binds nothing here

    def start(self) -> str:
        return self._url

    def identity(self) -> Any:
        return None  # nothing of ours runs

    def still_runs(self, identity: Any) -> bool:
        return False

    def recorded_url(self, masked: str) -> str | None:
        return self._url  # the URL it was given (it keeps no password of its own)

    def check_alive(self) -> None:
        return None  # nothing of ours to watch: readiness tells

    def stop(self) -> list[str]:
        return []
