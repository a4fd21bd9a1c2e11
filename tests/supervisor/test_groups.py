"""Stopping process groups: the signal, the grace, SIGKILL, bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.supervisor.conftest import assert_gone, program
from workspace.supervisor.groups import kill_after, live_groups, terminate_groups


def _group(tmp_path: Path, *command: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(list(command), cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    proc.stdout.readline()  # it is up (and, for ignore_term.py, ignoring SIGTERM)
    return proc


def test_a_group_that_obeys_sigterm_is_not_killed(tmp_path: Path) -> None:
    proc = _group(tmp_path, *program("sleeper.py", "up"))
    try:
        assert terminate_groups([proc.pid], grace_s=10.0) == set()
        assert proc.wait(5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert_gone([proc.pid])


def test_a_group_ignoring_sigterm_gets_sigkill_after_the_grace(tmp_path: Path) -> None:
    proc = _group(tmp_path, *program("ignore_term.py"))
    began = time.monotonic()
    try:
        assert terminate_groups([proc.pid], grace_s=0.3) == {proc.pid}
        took = time.monotonic() - began
        assert proc.wait(5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert 0.3 <= took < 5.0
    assert not live_groups([proc.pid])


def test_kill_after_stops_at_once_when_abandoned(tmp_path: Path) -> None:
    proc = _group(tmp_path, *program("ignore_term.py"))
    try:
        assert kill_after({proc.pid: time.monotonic() + 60}, abandon=lambda: True) == set()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
