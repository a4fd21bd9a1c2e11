"""What the supervisor reports of each app: its state, process, port and restarts
(Manager.snapshot()); the run's state file records it and `workspace status` shows it."""

from __future__ import annotations

from dataclasses import dataclass

from workspace.supervisor.identity import Identity

__all__ = ["AppState"]


@dataclass
class AppState:
    name: str
    state: str  # waiting | starting | ready | running | completed | restarting | exited
    #             | failed | stopped
    pid: int | None = None
    pid_started: Identity | None = None
    port: int | None = None
    url: str | None = None
    restarts: int = 0
    since: float = 0.0  # wall-clock time of the last start
    health: str | None = None  # its liveness probe's verdict, when it has one
