"""`workspace status` reads the state file but trusts only what it checks now."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import free_port, run_cli
from workspace.config.apps import AppConfig, ReadyProbe
from workspace.config.models import Config, DatabaseConfig, EmbeddedConfig
from workspace.run.state import RunLock, RunState, StateStore
from workspace.run.status import collect
from workspace.supervisor.identity import process_started
from workspace.supervisor.snapshot import AppState


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
    boot, ticks = str(state.pid_started).rsplit(":", 1)
    state.pid_started = f"{boot}:{int(ticks) - 360000}"  # our pid, another process's start
    StateStore(config.state_dir).write(state)
    assert collect(config)["running"] is False


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port that accepts connections."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield int(server.getsockname()[1])


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A directory with a listening PostgreSQL-style Unix socket (port 5439)."""
    directory = Path(tempfile.mkdtemp(prefix="ws-sock-"))
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(directory / ".s.PGSQL.5439"))
        server.listen()
        yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _with_url(config: Config, url: str) -> Config:
    return config.model_copy(update={"database": DatabaseConfig(url=SecretStr(url))})


@pytest.mark.parametrize("form", ["url", "key/value"])
def test_a_multi_host_url_is_running_when_any_of_its_hosts_answers(
        config: Config, listener: int, form: str) -> None:
    closed = free_port()
    url = (f"postgresql://app:S3cret-pw@127.0.0.1:{closed},127.0.0.1:{listener}/db"
           if form == "url" else
           f"host=127.0.0.1,127.0.0.1 port={closed},{listener} dbname=db user=app")
    postgres = collect(_with_url(config, url))["dependencies"][0]
    assert postgres["state"] == "running" and postgres["backend"] == "external"
    assert "S3cret-pw" not in postgres["address"]


def test_a_socket_host_is_probed_on_its_socket(config: Config, socket_dir: Path) -> None:
    url = f"postgresql://app@/db?host={socket_dir}&port=5439"
    assert collect(_with_url(config, url))["dependencies"][0]["state"] == "running"
    gone = f"postgresql://app@/db?host={socket_dir}&port=5438"  # no socket for that port
    assert collect(_with_url(config, gone))["dependencies"][0]["state"] == "unreachable"


def test_status_of_a_socket_url_through_the_cli(project: Path, socket_dir: Path) -> None:
    url = f"postgresql://app@/db?host={socket_dir}&port=5439"
    done = run_cli(project, "status", "--json", env={"DATABASE_URL": url}, timeout=60)
    assert done.returncode == 1, done.stderr  # no workspace runs; not 70
    assert json.loads(done.stdout)["dependencies"][0]["state"] == "running"
