"""One real child: its output as events and in the log file, its exit, its group."""

from __future__ import annotations

import queue
import re
import signal
from pathlib import Path

import pytest

from tests.supervisor.conftest import assert_gone, program
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
