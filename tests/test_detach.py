"""The launcher's side of `start --detach`: following the supervisor's progress pipe.
(The whole detached run, against real processes, is in test_start.py.)"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator

import pytest

from workspace.console import Console
from workspace.detach import _follow
from workspace.errors import AppStartFailed, WorkspaceError


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
