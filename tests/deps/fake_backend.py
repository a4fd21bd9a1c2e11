"""A backend that is none of the three, for tests that show run/ reaches a backend only
through the `deps.BACKENDS` registry and the `deps.base.Backend` protocol (no name
compared, no isinstance): registered under a key for one test with `register`."""

from __future__ import annotations

from typing import Any

import pytest

from workspace.config.models import Config
from workspace.deps import BACKENDS
from workspace.output import redact

__all__ = ["FakeBackend", "register"]


class FakeBackend:
    name = "fake"  # no kind run/ could compare (until `register` names it by its key)
    ours = True
    runs_zitadel = False

    def __init__(self, *, url: str = "postgresql://u:secret@127.0.0.1:1/d",
                 running: str = "instance-1") -> None:
        self.url = url
        self.running = running  # the identity of what runs now
        self.started_by_us = False
        self.calls: list[Any] = []

    def start(self) -> str:
        self.started_by_us = True
        self.calls.append("start")
        return self.url

    def check_alive(self) -> None:
        return None

    def stop(self) -> list[str]:
        self.calls.append("stop")
        return ["fake server"]

    def identity(self) -> Any:
        return self.running

    def still_runs(self, identity: Any) -> bool:
        return bool(identity == self.running)

    def check_ports(self, with_services: list[str]) -> None:
        self.calls.append(("ports", list(with_services)))

    def recorded_url(self, masked: str) -> str | None:
        return self.url if redact.mask_url(self.url) == masked else None


def register(monkeypatch: pytest.MonkeyPatch, kind: str, backend: FakeBackend) -> None:
    """`backend` is what BACKENDS[kind] makes, for this test (named by that key, as the
    launcher records what a backend started: DepRef(service, backend.name))."""
    backend.name = kind
    def make(config: Config, service: str) -> FakeBackend:
        return backend

    monkeypatch.setitem(BACKENDS, kind, make)
