"""`workspace status` reads the state file but trusts only what it checks now."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from workspace.apps_config import AppConfig, ReadyProbe
from workspace.config import Config, EmbeddedConfig
from workspace.runstate import AppState, RunLock, RunState, StateStore, process_started
from workspace.status import collect


@pytest.fixture
def config(tmp_path: Path) -> Config:
    closed = free_port()
    return Config(project_dir=tmp_path, embedded=EmbeddedConfig(port=free_port()), apps={
        "api": AppConfig(command=["api"], port=closed,
                         ready=ReadyProbe(http=f"http://127.0.0.1:{closed}/health")),
        "worker": AppConfig(command=["worker"], depends_on=["api"])})


@pytest.fixture
def held(config: Config) -> Iterator[RunLock]:
    """This process plays the launcher: it holds the run lock."""
    lock = RunLock(config.state_dir)
    assert lock.acquire()
    yield lock
    lock.release()


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_nothing_running(config: Config) -> None:
    report = collect(config)
    assert report["running"] is False and report["pid"] is None
    assert report["dependencies"][0] | {"address": ""} == {
        "name": "postgres", "backend": "embedded", "state": "stopped", "address": "",
        "started_by_workspace": False}
    assert report["dependencies"][1]["state"] == "skipped"
    assert [(a["name"], a["state"], a["health"]) for a in report["apps"]] == [
        ("api", "stopped", "unknown"), ("worker", "stopped", "unknown")]


def test_apps_are_checked_not_believed(config: Config, held: RunLock) -> None:
    state = RunState.mine("foreground")
    state.phase = "running"
    me = os.getpid()
    state.apps = {"api": AppState("api", "ready", me, process_started(me), 1, None, 0,
                                  time.time() - 90),
                  "worker": AppState("worker", "ready", dead_pid(), time.time(), None, None, 2)}
    StateStore(config.state_dir).write(state)
    report = collect(config)
    assert report["running"] and report["phase"] == "running" and report["pid"] == me
    api, worker = report["apps"]
    assert api["state"] == "ready" and api["health"].startswith("failing: http://127.0.0.1:")
    assert 89 <= api["uptime_s"] < 120
    assert (worker["state"], worker["health"], worker["uptime_s"], worker["restarts"]) == (
        "gone", "unknown", None, 2)


def test_a_state_without_the_lock_is_a_crashed_run(config: Config) -> None:
    state = RunState.mine("detached")  # a live pid, but nobody holds the lock
    StateStore(config.state_dir).write(state)
    assert collect(config)["running"] is False


def test_a_recorded_pid_that_was_reused_is_not_the_launcher(config: Config,
                                                            held: RunLock) -> None:
    state = RunState.mine("foreground")
    state.pid_started -= 3600  # our pid, but another process's start time
    StateStore(config.state_dir).write(state)
    assert collect(config)["running"] is False
