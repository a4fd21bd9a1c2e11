"""The one small protocol every database backend follows, and the registry of them.

    backend = BACKENDS["embedded"](config)
    url = backend.start()          # idempotent; the database URL (password inside)
    backend.check_alive()          # raises DependencyExited at once if it died
    backend.stop()

Shaped after pre-commit's `Language` protocol and its explicit `all_languages` dict,
and pytest-postgresql's executor/no-op executor pair (external.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from workspace.config import Config

__all__ = ["Backend", "BackendFactory"]


class Backend(Protocol):
    name: str  # "embedded", "docker", "external"
    started_by_us: bool  # whether `stop()` stops anything

    def start(self) -> str: ...

    def check_alive(self) -> None: ...

    def stop(self) -> None: ...


BackendFactory = Callable[["Config"], Backend]
