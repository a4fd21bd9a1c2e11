"""The one small protocol every backend follows (the registry of them, BACKENDS, is in
deps/__init__.py, with the factories importing each backend when used). The run
lifecycle (run/) reaches a backend only through these: it never asks a backend's name
or type.

    backend = BACKENDS["embedded"](config, "postgres")
    backend.check_ports([])        # before the start: PortInUse unless free, or its own
    url = backend.start()          # idempotent; the database URL (password inside)
    identity = backend.identity()  # once up: what to record (JSON), None when nothing
    backend.check_alive()          # raises DependencyExited at once if it died
    backend.stop()                 # what it stopped, by name (nothing: [])

    # later, from the state file a launcher left:
    backend.still_runs(identity)   # whether what runs now is that very instance
    backend.recorded_url(masked)   # the URL behind the masked one recorded, else None

Shaped after pre-commit's `Language` protocol and its explicit `all_languages` dict,
and pytest-postgresql's executor/no-op executor pair (external.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["Backend", "BackendFactory"]


class Backend(Protocol):
    name: str  # "embedded", "docker", "external": for people (output), never compared
    started_by_us: bool  # whether `stop()` stops anything
    ours: bool  # a server workspace runs (watched while the apps run), not someone else's
    runs_zitadel: bool  # with deps.zitadel.backend auto, Zitadel runs on it too (Docker)

    def check_ports(self, with_services: list[str]) -> None:
        """PortInUse for a port it will bind that something else holds (its own running
        server or container reuses it). `with_services`: other services this backend
        starts in the same run (Docker: ["zitadel"]); a backend that runs none ignores it."""

    def start(self) -> str: ...

    def identity(self) -> Any:
        """Once started: what tells this instance from one started later on the same
        data directory or compose project (JSON); None when there is nothing to tell."""

    def check_alive(self) -> None: ...

    def stop(self) -> list[str]: ...

    def still_runs(self, identity: Any) -> bool:
        """Whether what runs now is the instance `identity()` described (so a dead
        launcher's record stops it, and never one started since)."""

    def recorded_url(self, masked: str) -> str | None:
        """The real URL behind `masked` (a URL `start()` gave, as the state file records it,
        password masked), from where this backend keeps its password; None if it keeps none."""


BackendFactory = Callable[["Config", str], Backend]  # (config, service)
