"""The one small protocol every backend follows (the registry of them, BACKENDS, is in
deps/__init__.py, with the factories importing each backend when used).

    backend = BACKENDS["embedded"](config, "postgres")
    url = backend.start()          # idempotent; the database URL (password inside)
    backend.check_alive()          # raises DependencyExited at once if it died
    backend.stop()                 # what it stopped, by name (nothing: [])

Shaped after pre-commit's `Language` protocol and its explicit `all_languages` dict,
and pytest-postgresql's executor/no-op executor pair (external.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["Backend", "BackendFactory"]


class Backend(Protocol):
    name: str  # "embedded", "docker", "external"
    started_by_us: bool  # whether `stop()` stops anything

    def start(self) -> str: ...

    def check_alive(self) -> None: ...

    def stop(self) -> list[str]: ...


BackendFactory = Callable[["Config", str], Backend]  # (config, service)
