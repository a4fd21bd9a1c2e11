"""`workspace start --detach`: the whole detached run against real processes, and the
launcher's side of the progress pipe."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.conftest import free_port
from tests.stack import FORBIDDEN, Stack, app, assert_nothing_left
from tests.supervisor.conftest import wait_for
from workspace.errors import AppStartFailed, WorkspaceError
from workspace.output.console import Console
from workspace.run.detach import _follow


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def send(fd: int, *events: dict[str, object], close: bool = False, split: bool = False) -> None:
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    if split:  # a line arriving in two reads
        os.write(fd, data[:7])
        time.sleep(0.05)
        data = data[7:]
    os.write(fd, data)
    if close:
        os.close(fd)


def test_ready_apps_are_printed_until_running(pipe: tuple[int, int]) -> None:
    out = io.StringIO()
    send(pipe[1], {"event": "ready", "app": "server", "url": "http://localhost:3002"},
         {"event": "ready", "app": "worker", "url": None}, {"event": "running"}, split=True)
    _follow(pipe[0], Console(out=out, err=io.StringIO()), 5)
    assert out.getvalue().splitlines() == ["server ready: http://localhost:3002", "worker ready"]


def test_the_supervisors_error_keeps_its_code(pipe: tuple[int, int]) -> None:
    send(pipe[1], {"event": "error", "code": "PRECHECK_APP_EXITED", "exit_code": 21,
                   "message": "app `server` exited (exit code 1)", "remedy": "read it"})
    with pytest.raises(WorkspaceError) as info:
        _follow(pipe[0], Console(out=io.StringIO(), err=io.StringIO()), 5)
    assert (info.value.code, info.value.exit_code) == ("PRECHECK_APP_EXITED", 21)
    assert info.value.message == "app `server` exited (exit code 1)"
    assert info.value.remedy == "read it"


def test_a_supervisor_that_dies_silently(pipe: tuple[int, int]) -> None:
    send(pipe[1], {"event": "ready", "app": "server", "url": None}, close=True)
    with pytest.raises(AppStartFailed, match="exited without a word"):
        _follow(pipe[0], Console(out=io.StringIO(), err=io.StringIO()), 5)


def test_the_wait_is_bounded(pipe: tuple[int, int]) -> None:
    began = time.monotonic()  # the write end stays open and silent
    with pytest.raises(AppStartFailed, match="not all ready within 0.3s"):
        _follow(pipe[0], Console(out=io.StringIO(), err=io.StringIO()), 0.3)
    assert time.monotonic() - began < 2


# -- against real processes ---------------------------------------------------------------

def test_detached_start_status_logs_stop_from_other_processes(stack: Stack) -> None:
    port = free_port()
    stack.configure({"api": app("http_app.py", port, 0.5, port=port,
                                ready={"http": f"http://127.0.0.1:{port}/health"}),
                     "worker": app("grandparent.py", depends_on=["api"],
                                   ready={"log": "grandchild"})})
    out = stack.cli("start", "--detach", timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"api ready: http://localhost:{port}" in out.stdout
    assert "worker ready" in out.stdout

    status = stack.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["running"] and report["mode"] == "detached" and report["phase"] == "running"
    assert report["dependencies"][0] | {"address": ""} == {
        "name": "postgres", "backend": "embedded", "state": "running", "address": "",
        "started_by_workspace": True}
    assert "********" in report["dependencies"][0]["address"]
    apps = {a["name"]: a for a in report["apps"]}
    assert apps["api"]["state"] == "ready" and apps["api"]["health"] == "ok"
    assert apps["worker"]["state"] == "ready" and psutil.pid_exists(apps["worker"]["pid"])
    assert report["validation"] == {"valid": True, "warnings": []}
    assert report["migrations_applied_by_start"] == 3

    human = stack.cli("status")
    assert "Workspace running (detached" in human.stdout and "api" in human.stdout

    logs = stack.cli("logs")
    assert logs.returncode == 0 and "worker    | grandchild" in logs.stdout
    own = stack.cli("logs", "worker")
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d grandchild ", own.stdout)
    unknown = stack.cli("logs", "nope")
    assert unknown.returncode == 3 and "no app named `nope`" in unknown.stderr

    again = stack.cli("start")
    assert again.returncode == 23, again.stdout + again.stderr
    assert "PRECHECK_WORKSPACE_RUNNING" in again.stderr and f"pid {report['pid']}" in again.stderr
    busy = stack.cli("down")
    assert busy.returncode == 23 and "`workspace stop`" in busy.stderr

    with subprocess.Popen([sys.executable, "-m", "workspace", "logs", "-f", "-n", "1"],
                          cwd=stack.root, stdout=subprocess.PIPE, text=True) as follower:
        stopped = stack.cli("stop")
        assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout
        followed, _ = follower.communicate(timeout=10)  # -f ends when the workspace stops
    assert "stopped embedded PostgreSQL" in followed
    assert_nothing_left(stack.root)
    assert stack.cli("status").returncode == 1
    assert "No workspace is running" in stack.cli("stop").stdout


def test_detached_start_reports_an_app_failure_and_leaves_nothing(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", ready={"log": "never printed"},
                                ready_timeout_s=1)})
    out = stack.cli("start", "-d")
    assert out.returncode == 22, out.stdout + out.stderr
    assert "PRECHECK_APP_NOT_READY: app `api` not ready after 1s" in out.stderr
    assert_nothing_left(stack.root)


def test_detached_start_stopped_before_it_is_ready(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", "api up", 30, ready={"log": "api up"})})
    env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
    with subprocess.Popen([sys.executable, "-m", "workspace", "start", "-d"], cwd=stack.root,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as parent:
        wait_for(lambda: b"api started" in _combined_log(stack), 60, "the api to start")
        stopped = stack.cli("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 143, out
    assert "stopped before every app was ready" in out
    assert_nothing_left(stack.root)


def _combined_log(stack: Stack) -> bytes:
    path = stack.root / ".workspace" / "logs" / "workspace.log"
    return path.read_bytes() if path.exists() else b""


def test_sigterm_to_the_supervisor_as_it_starts_stops_the_run_cleanly(stack: Stack) -> None:
    """The detached supervisor enters as `workspace` does (signal handler first, then the
    imports): a SIGTERM at its first instruction is a clean stop (143, reported to the
    launcher, which stops the database), not a silent death by the default action."""
    from tests.test_signals import caught, loads_dependencies

    stack.configure({"api": app("sleeper.py", "api up", 30, ready={"log": "api up"})})
    env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
    with subprocess.Popen([sys.executable, "-m", "workspace", "start", "-d"], cwd=stack.root,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as parent:
        def supervisor() -> psutil.Process | None:
            try:
                return next((p for p in psutil.Process(parent.pid).children()
                             if "workspace.run.detach" in " ".join(p.cmdline())), None)
            except psutil.Error:
                return None

        wait_for(lambda: supervisor() is not None or parent.poll() is not None, 120,
                 "the supervisor to be started")
        child = supervisor()
        assert child is not None, parent.communicate()[0]
        # its own code reached: its handler shows, or (without one) its dependencies load
        wait_for(lambda: signal.SIGTERM in caught(child.pid)
                 or loads_dependencies(child.pid), 30, "the supervisor's first instruction")
        child.send_signal(signal.SIGTERM)
        out, _ = parent.communicate(timeout=60)
    assert parent.returncode == 143, out
    assert "stopped before every app was ready" in out
    assert_nothing_left(stack.root)
