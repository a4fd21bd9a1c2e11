"""Helpers for supervisor tests: scripted child programs, a recording process
constructor, and a guard that no test leaves a process behind."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from workspace.config.apps import AppConfig, SupervisorConfig
from workspace.supervisor.manager import Manager
from workspace.supervisor.printer import Printer
from workspace.supervisor.process import Process, live_groups

PROGRAMS = Path(__file__).resolve().parent / "programs"


def program(name: str, *args: object) -> list[str]:
    return [sys.executable, str(PROGRAMS / name), *map(str, args)]


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def assert_gone(pids: list[int], timeout_s: float = 0.0) -> None:
    """Every pid gone and every group (pgid == pid: each app leads its own) empty."""
    wait_for(lambda: not any(running(p) for p in pids) and not live_groups(pids),
             timeout_s, f"processes {pids} to be gone")


class Recorder:
    """A process constructor that keeps every Process it makes."""

    def __init__(self) -> None:
        self.made: list[Process] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Process:
        proc = Process(*args, **kwargs)
        self.made.append(proc)
        return proc

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.made if _started(p)]


def _started(proc: Process) -> bool:
    try:
        return proc.pid > 0
    except AssertionError:
        return False


class Run:
    """A Manager over `apps` with its output in `out`, recording its processes."""

    def __init__(self, tmp_path: Path, apps: dict[str, dict[str, Any]], *, grace_s: float = 2.0,
                 stop_when_ready: tuple[str, ...] = ()) -> None:
        self.out = io.StringIO()
        self.recorder = Recorder()
        self.ready: list[str] = []
        self.log_dir = tmp_path / "logs"
        configs = {name: AppConfig.model_validate(app) for name, app in apps.items()}
        self.manager = Manager(
            configs, project_dir=tmp_path,
            supervisor=SupervisorConfig(stop_grace_s=grace_s, log_dir=self.log_dir),
            printer=Printer(list(configs), out=self.out, colour=False),
            on_ready=self._on_ready, process_ctor=self.recorder)
        self._stop_when = set(stop_when_ready)

    def _on_ready(self, name: str, url: str | None) -> None:
        self.ready.append(name)
        if self._stop_when and self._stop_when <= set(self.ready):
            self.manager.stop()

    def run(self) -> int:
        return self.manager.run()

    @property
    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    def log(self, name: str) -> bytes:
        return (self.log_dir / f"{name}.log").read_bytes()


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Run]:
    def make(apps: dict[str, dict[str, Any]], **kwargs: Any) -> Run:
        return Run(tmp_path, apps, **kwargs)

    return make


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails a test that leaves a descendant of this process running (and kills it)."""
    me = psutil.Process(os.getpid())
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 2.0
    left: list[psutil.Process] = []
    while time.monotonic() < deadline:
        left = [p for p in me.children(recursive=True)
                if p.pid not in before and running(p.pid)]
        if not left:
            return
        time.sleep(0.05)
    described = []
    for proc in left:
        try:
            described.append((proc.pid, proc.cmdline()))
            proc.kill()
        except psutil.Error:
            pass
    if described:
        pytest.fail(f"processes left behind: {described}")
