"""One real child: its output as events and in the log file, its exit, its group."""

from __future__ import annotations

import errno
import queue
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.supervisor.conftest import assert_gone, program, running, wait_for
from workspace.supervisor import deathsig
from workspace.supervisor.process import LINE_LIMIT, Event, Process, kill_group


def start(tmp_path: Path, command: list[str],
          pattern: str | None = None) -> tuple[Process, queue.Queue[Event]]:
    events: queue.Queue[Event] = queue.Queue()
    proc = Process("app", command, cwd=tmp_path, env={}, log_path=tmp_path / "logs" / "app.log",
                   events=events, ready_pattern=re.compile(pattern) if pattern else None)
    proc.start()
    return proc, events


def collect(events: queue.Queue[Event], timeout_s: float = 10.0) -> list[Event]:
    """Every event up to and including the exit."""
    got: list[Event] = []
    while not got or got[-1].type != "exit":
        got.append(events.get(timeout=timeout_s))
    return got


STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ", re.MULTILINE)


def unstamped(log: bytes) -> bytes:
    """The log without its time stamps, each line having one (a long line's rest: not)."""
    starts = [m.start() for m in re.finditer(rb"^", log, re.MULTILINE) if m.start() < len(log)]
    assert len(STAMP.findall(log)) == len(starts), log[:300]
    return STAMP.sub(b"", log)


def test_lines_then_exit_with_the_childs_code(tmp_path: Path) -> None:
    proc, events = start(tmp_path, program("exit_with.py", 7, "one", "two"))
    got = collect(events)
    assert [e.text for e in got if e.type == "line"] == ["one", "two"]
    assert got[-1].returncode == 7 and got[-1].pid == proc.pid
    assert unstamped((tmp_path / "logs" / "app.log").read_bytes()) == b"one\ntwo\n"
    assert not proc.signal(signal.SIGTERM)  # gone: ESRCH is not an error
    assert not kill_group(proc.pid, signal.SIGKILL)


def test_invalid_utf8_crlf_long_and_partial_lines(tmp_path: Path) -> None:
    _, events = start(tmp_path, program("odd_output.py"))
    lines = [e.text for e in collect(events) if e.type == "line"]
    assert lines[0] == "bad \ufffd\ufffd bytes"
    assert lines[1] == "windows line"
    assert lines[2] == "[bold]not markup[/bold]"
    assert lines[3].startswith("x" * 1000) and lines[3].endswith("whole in the log file]")
    assert len(lines[3]) < LINE_LIMIT + 100  # cut, not held whole in memory
    assert lines[4:] == ["after the long line", "no newline at the end"]
    log = unstamped((tmp_path / "logs" / "app.log").read_bytes())
    assert b"x" * 200_000 + b"\n" in log and log.startswith(b"bad \xff\xfe bytes\n")
    assert log.endswith(b"no newline at the end")


def test_a_flood_of_lines_loses_nothing(tmp_path: Path) -> None:
    proc, events = start(tmp_path, program("flood.py", 100_000), pattern="^flood done$")
    assert proc.matched.wait(20)
    proc.signal(signal.SIGTERM)
    lines = [e.text for e in collect(events) if e.type == "line"]
    assert lines[:3] == ["line 0", "line 1", "line 2"] and len(lines) == 100_001
    assert lines == [f"line {i}" for i in range(100_000)] + ["flood done"]
    log = unstamped((tmp_path / "logs" / "app.log").read_bytes()).decode().splitlines()
    assert len(log) == 100_001 and log[-2] == "line 99999"


def test_the_group_signal_reaches_grandchildren(tmp_path: Path) -> None:
    proc, events = start(tmp_path, program("grandparent.py"), pattern=r"grandchild \d+")
    first = events.get(timeout=10)
    grandchild = int(first.text.split()[1])
    assert proc.signal(signal.SIGTERM)
    assert collect(events)[-1].returncode == -signal.SIGTERM
    assert_gone([proc.pid, grandchild], timeout_s=5)


def test_stdin_is_empty_and_the_env_unbuffered(tmp_path: Path) -> None:
    code = "import os, sys; print(repr(sys.stdin.read()), os.environ['PYTHONUNBUFFERED'], os.environ['X'])"
    events: queue.Queue[Event] = queue.Queue()
    Process("app", ["python3", "-c", code], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "X": "y"},
            log_path=tmp_path / "app.log", events=events).start()
    assert [e.text for e in collect(events) if e.type == "line"] == ["'' 1 y"]


def test_a_missing_command_raises_oserror(tmp_path: Path) -> None:
    proc = Process("app", ["no-such-command-xyz"], cwd=tmp_path, env={},
                   log_path=tmp_path / "app.log", events=queue.Queue())
    with pytest.raises(OSError):
        proc.start()


@pytest.fixture(params=["setpriv", "python shim"])
def death_signal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way PR_SET_PDEATHSIG is set: setpriv where installed, else the Python shim."""
    if request.param == "python shim":
        monkeypatch.setattr(deathsig, "SETPRIV", None)
    elif deathsig.SETPRIV is None:
        pytest.fail("setpriv (util-linux) is not installed here")
    return str(request.param)


def test_no_preexec_fn_while_threads_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         death_signal: str) -> None:
    """PR_SET_PDEATHSIG is set by an exec chain, not by preexec_fn (unsafe in threaded
    programs); the app still runs with its own pid, group, cwd and environment."""
    seen: list[dict[str, object]] = []
    real = subprocess.Popen

    def recording(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        seen.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "Popen", recording)
    events: queue.Queue[Event] = queue.Queue()
    proc = Process("app", [sys.executable, "-c", "import os; print(os.getpid(), os.getpgid(0),"
                                                 " os.getcwd(), os.environ['X'])"],
                   cwd=tmp_path, env={"X": "y"}, log_path=tmp_path / "app.log", events=events)
    proc.start()
    assert seen and all(kw.get("preexec_fn") is None for kw in seen)
    assert seen[0].get("start_new_session") is True
    lines = [e.text for e in collect(events) if e.type == "line"]
    assert lines == [f"{proc.pid} {proc.pid} {tmp_path} y"]


@pytest.mark.parametrize("command", [["no-such-command-xyz"], ["./not-executable"]])
def test_a_command_that_cannot_be_executed_raises_oserror_naming_it(
        tmp_path: Path, command: list[str], death_signal: str) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    proc = Process("app", command, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                   log_path=tmp_path / "app.log", events=queue.Queue())
    with pytest.raises(OSError) as info:
        proc.start()
    assert info.value.errno in (errno.ENOENT, errno.EACCES)
    assert info.value.filename == command[0]


LAUNCHER = """
import queue, sys, time
from pathlib import Path
from workspace.supervisor import deathsig
from workspace.supervisor.process import Process
if sys.argv[1] == "python shim":
    deathsig.SETPRIV = None
proc = Process("app", [sys.executable, "-c", "import time; time.sleep(60)"], cwd=Path("."),
               env={}, log_path=Path("app.log"), events=queue.Queue())
proc.start()
print(proc.pid, flush=True)
time.sleep(60)
"""


def test_the_app_dies_with_the_launcher_killed(tmp_path: Path, death_signal: str) -> None:
    """SIGKILL the process that started the app (no watchdog here): PDEATHSIG ends it."""
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, death_signal], cwd=tmp_path,
                                stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    with launcher.stdout:
        app = int(launcher.stdout.readline())
    assert running(app)
    launcher.kill()
    launcher.wait(5)
    wait_for(lambda: not running(app), 5.0, "the app to die with its launcher")
