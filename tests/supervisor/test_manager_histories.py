"""The manager driven by scripted histories through its seams (honcho's HISTORIES):
no real processes, a fake clock for the backoff."""

from __future__ import annotations

import io
import itertools
import queue
import threading
from pathlib import Path
from typing import Any, cast

import pytest

from workspace.config.apps import AppConfig
from workspace.errors import AppExited
from workspace.supervisor.manager import Manager
from workspace.supervisor.printer import Printer
from workspace.supervisor.process import Event, Process

_pids = itertools.count(9_000_001)  # above Linux's pid_max: a stray killpg finds nothing


class FakeProcess:
    """Replays one scripted history per start: ("line", text) or ("exit", code)."""

    histories: list[list[tuple[str, Any]]] = []

    def __init__(self, name: str, command: list[str], *, events: queue.Queue[Event],
                 **_: Any) -> None:
        self.name, self._events = name, events
        self.matched = threading.Event()
        self.pid = next(_pids)
        self.returncode: int | None = None

    def start(self) -> None:
        for kind, value in self.histories.pop(0):
            if kind == "exit":
                self.returncode = value
            self._events.put(Event("exit" if kind == "exit" else "line", self.name, self.pid,
                                   value if kind == "line" else "",
                                   value if kind == "exit" else None))

    def signal(self, sig: int) -> bool:
        return False


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0  # every look at the clock moves it on: backoffs pass at once
        return self.now


def test_restarts_follow_the_backoff_then_the_limit_stops_everything() -> None:
    FakeProcess.histories = [[("line", f"run {n}"), ("exit", 2)] for n in range(1, 4)]
    out = io.StringIO()
    manager = Manager({"a": AppConfig(command=["x"], restart="on-failure", backoff_s=2,
                                      backoff_max_s=3, max_restarts=2)},
                      project_dir=Path("."),
                      printer=Printer(["a"], out=out, colour=False), clock=FakeClock(),
                      process_ctor=cast(type[Process], FakeProcess), watchdog=False)
    with pytest.raises(AppExited) as caught:
        manager.run()
    assert caught.value.restarts == 2 and caught.value.tail == ["run 1", "run 2", "run 3"]
    said = [line.split(" | ", 1)[1] for line in out.getvalue().splitlines()]
    assert [s for s in said if "restart" in s] == ["a exited (exit code 2); restart 1/2 in 2s",
                                                   "a exited (exit code 2); restart 2/2 in 3s"]
    assert FakeProcess.histories == []


def _manager(apps: dict[str, AppConfig], out: io.StringIO, **kwargs: Any) -> Manager:
    return Manager(apps, project_dir=Path("."), printer=Printer(list(apps), out=out, colour=False),
                   clock=FakeClock(), process_ctor=cast(type[Process], FakeProcess),
                   watchdog=False, **kwargs)


def test_unless_stopped_restarts_clean_exits_then_keep_running_leaves_it_exited() -> None:
    FakeProcess.histories = [[("exit", 0)], [("exit", 0)], [("line", "last"), ("exit", 0)]]
    out = io.StringIO()
    seen: list[str] = []

    def changed(apps: list[Any]) -> None:
        seen.append(apps[0].state)
        if apps[0].state == "exited":
            manager.stop()

    manager = _manager({"a": AppConfig(command=["x"], restart="unless-stopped", backoff_s=1,
                                       max_restarts=2, on_exit="keep-running")}, out,
                       on_change=changed)
    assert manager.run() == 0
    said = [line.split(" | ", 1)[1] for line in out.getvalue().splitlines()]
    assert "a exited (exit code 0); restart 2/2 in 2s" in said
    assert "a exited (exit code 0); the other apps keep running (on_exit: keep-running)" in said
    assert seen == ["ready", "restarting", "ready", "restarting", "ready", "exited"]
    assert FakeProcess.histories == []


def test_a_task_completing_starts_its_dependant_and_a_task_only_run_ends() -> None:
    FakeProcess.histories = [[("line", "seeding"), ("exit", 0)], [("exit", 0)]]
    out = io.StringIO()
    manager = _manager({"seed": AppConfig(command=["s"], kind="task"),
                        "gen": AppConfig(command=["g"], kind="task",
                                         depends_on={"seed": "completed"})}, out)
    assert manager.run() == 0
    said = [line.split(" | ", 1)[1] for line in out.getvalue().splitlines()]
    gen_pid = manager.snapshot()[1].pid
    assert said.index("seed completed in 1.0s") < said.index(f"gen started (pid {gen_pid}): g")
    assert said[-1] == "every app was a task, and each completed"
    assert [a.state for a in manager.snapshot()] == ["completed", "completed"]
