"""A supervisor in its own process: SIGINT/SIGTERM codes, a second Ctrl-C, and the
watchdog when the supervisor itself is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.supervisor.conftest import PROGRAMS, assert_gone, program, running, wait_for

REPO = Path(__file__).resolve().parents[2]


class Driver:
    """programs/driver.py running a Manager over `apps`, its output read line by line."""

    def __init__(self, tmp_path: Path, apps: dict[str, Any], grace_s: float, watchdog: bool) -> None:
        spec = {"apps": apps, "grace": grace_s, "log_dir": str(tmp_path / "logs"),
                "watchdog": watchdog}
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.popen = subprocess.Popen([sys.executable, str(PROGRAMS / "driver.py"), json.dumps(spec)],
                                      cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout_s: float = 15.0) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {timeout_s}s; got: {self.seen}")

    def descendants(self) -> list[int]:
        return [p.pid for p in psutil.Process(self.popen.pid).children(recursive=True)]


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def make(apps: dict[str, Any], grace_s: float = 5.0, watchdog: bool = True) -> Driver:
        made.append(Driver(tmp_path, apps, grace_s, watchdog))
        return made[-1]

    yield make
    for d in made:
        if d.popen.poll() is None:
            d.popen.kill()
        d.popen.wait(5)
        assert d.popen.stdout is not None
        d.popen.stdout.close()


MakeDriver = Callable[..., Driver]
SLEEPERS = {"db": {"command": program("sleeper.py", "db up"), "ready": {"log": "db up"}},
            "web": {"command": program("sleeper.py", "web up"), "ready": {"log": "web up"},
                    "depends_on": ["db"]}}


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_apps_and_sets_the_exit_code(driver: MakeDriver, sig: signal.Signals,
                                                         code: int) -> None:
    d = driver(SLEEPERS)
    d.expect("DRIVER ready web")
    apps = d.descendants()
    d.popen.send_signal(sig)
    assert d.popen.wait(10) == code
    d.expect(f"{sig.name} received: stopping")
    stopped = [d.expect("stopped (killed by SIGTERM)") for _ in range(2)]
    assert " web (pid" in stopped[0] or " web (pid" in stopped[1]
    assert_gone(apps, timeout_s=5)


def test_a_second_ctrl_c_kills_at_once(driver: MakeDriver) -> None:
    d = driver({"stubborn": {"command": program("ignore_term.py"),
                             "ready": {"log": "ignoring SIGTERM"}}}, grace_s=60)
    d.expect("DRIVER ready stubborn")
    apps = d.descendants()
    d.popen.send_signal(signal.SIGINT)
    d.popen.send_signal(signal.SIGINT)  # at once: the same Ctrl-C delivered twice
    d.expect("SIGINT received: stopping")
    time.sleep(0.5)
    assert d.popen.poll() is None, "a duplicate delivery must not count as a second Ctrl-C"
    began = time.monotonic()
    d.popen.send_signal(signal.SIGINT)
    assert d.popen.wait(10) == 130
    assert time.monotonic() - began < 5  # not the 60 s grace
    d.expect("killing every app now")
    assert_gone(apps, timeout_s=5)


def test_an_app_failure_gives_its_documented_exit_code(driver: MakeDriver) -> None:
    d = driver({"bad": {"command": program("exit_with.py", 4)}})
    assert d.popen.wait(15) == 21
    d.expect("DRIVER error PRECHECK_APP_EXITED")


def test_sigkill_of_the_supervisor_leaves_no_process_behind(driver: MakeDriver) -> None:
    d = driver({"parent": {"command": program("grandparent.py"), "ready": {"log": r"grandchild \d+"}},
                "stubborn": {"command": program("ignore_term.py"), "ready": {"log": "ignoring"}}},
               grace_s=0.5)
    ready = {d.expect("DRIVER ready") for _ in range(2)}  # no depends_on: either first
    assert ready == {"DRIVER ready parent", "DRIVER ready stubborn"}
    tree = d.descendants()  # apps, the grandchild and the watchdog
    assert len(tree) >= 4
    d.popen.kill()
    d.popen.wait(5)
    wait_for(lambda: not any(running(p) for p in tree), 5.0,
             f"every descendant of the killed supervisor ({tree}) to be gone")


def test_without_the_watchdog_a_grandchild_would_survive(driver: MakeDriver) -> None:
    """The control for the test above: PDEATHSIG alone ends only the direct child."""
    d = driver({"parent": {"command": program("grandparent.py"),
                           "ready": {"log": r"grandchild \d+"}}}, watchdog=False)
    grandchild = int(d.expect("parent    | grandchild").split()[-1])
    d.expect("DRIVER ready parent")
    child = psutil.Process(grandchild).ppid()
    d.popen.kill()
    d.popen.wait(5)
    try:
        wait_for(lambda: not running(child), 5.0, "the direct child to die with the supervisor")
        time.sleep(0.3)
        assert running(grandchild)
    finally:
        os.kill(grandchild, signal.SIGKILL)
