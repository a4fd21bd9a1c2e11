"""The dependency watch: a failed poll (a Docker API hiccup, a call that hangs) is
retried and at most warned about; only a dependency that really exited ends the run.
Fake checks, no Docker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.supervisor.conftest import program, wait_for
from workspace.config.apps import AppConfig, SupervisorConfig
from workspace.errors import DependencyExited, DockerUnavailable
from workspace.supervisor.depwatch import DependencyWatch
from workspace.supervisor.manager import Manager
from workspace.supervisor.printer import Printer


class Scripted:
    """A check answering from a script: "ok", "hiccup" (the Docker API fails), "hang"
    (a call that never returns until released), "exited"; the last entry repeats."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.calls = 0
        self.release = threading.Event()

    def __call__(self) -> None:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step == "hiccup":
            raise DockerUnavailable("no Docker engine answers at unix:///var/run/docker.sock: "
                                    "Read timed out. (read timeout=5)")
        if step == "hang":
            self.release.wait(10)
        if step == "exited":
            raise DependencyExited("container workspace-postgres-1 exited with code 137")


def _poll_until(watch: DependencyWatch, done: Callable[[], bool]) -> None:
    """Call the watch as the supervisor's loop does, until `done`."""
    def polled() -> bool:
        watch()
        return done()

    wait_for(polled, 10.0, "the watch to poll")


def test_one_failed_poll_is_retried_without_a_word() -> None:
    check, notes = Scripted("hiccup", "ok"), []
    with DependencyWatch({"the postgres container": check}, warn=notes.append,
                         every_s=0.005) as watch:
        _poll_until(watch, lambda: check.calls >= 5)
    assert notes == []


def test_failures_in_a_row_are_a_warning_not_an_exit() -> None:
    check, notes = Scripted("hiccup", "hiccup", "hiccup", "hiccup", "ok"), []
    with DependencyWatch({"the postgres container": check}, warn=notes.append,
                         every_s=0.005, warn_after=3) as watch:
        _poll_until(watch, lambda: check.calls >= 6 and len(notes) == 2)
    assert notes[0].startswith("warning: could not check the postgres container (3 times in "
                               "a row: PRECHECK_DOCKER_UNAVAILABLE")
    assert notes[1] == "the postgres container answers again"


def test_a_call_that_hangs_is_bounded_and_counted_as_failed() -> None:
    check, notes = Scripted("hang", "ok"), []
    try:
        with DependencyWatch({"the postgres container": check}, warn=notes.append,
                             every_s=0.005, call_timeout_s=0.02, warn_after=2) as watch:
            _poll_until(watch, lambda: bool(notes))
            assert check.calls == 1  # no second call while the first hangs
            check.release.set()
            _poll_until(watch, lambda: check.calls >= 3)
    finally:
        check.release.set()
    assert "no answer within 0.02s" in notes[0]
    assert notes[-1] == "the postgres container answers again"


def test_a_dependency_that_exited_ends_the_run() -> None:
    check = Scripted("ok", "hiccup", "exited")
    with DependencyWatch({"the postgres container": check}, warn=print, every_s=0.005) as watch:
        with pytest.raises(DependencyExited, match="exited with code 137"):
            _poll_until(watch, lambda: False)


def test_a_docker_hiccup_under_running_apps_stops_nothing(tmp_path: Path) -> None:
    """The supervisor's loop with the watch: a poll that fails once, then the engine
    answers again; the apps run on until stopped (exit 0, not 14)."""
    check = Scripted("hiccup", "ok")
    app = AppConfig.model_validate({"command": program("sleeper.py", "up"),
                                    "ready": {"log": "up"}})
    with DependencyWatch({"the postgres container": check}, warn=print,
                         every_s=0.005) as watch:
        manager = Manager({"api": app}, project_dir=tmp_path,
                          supervisor=SupervisorConfig(log_dir=tmp_path / "logs"),
                          printer=Printer(["api"], colour=False), watch=watch,
                          watch_every_s=0.01, watchdog=False,
                          on_ready=lambda name, url: threading.Thread(
                              target=lambda: (wait_for(lambda: check.calls >= 4, 10.0,
                                                       "polls"), manager.stop())).start())
        assert manager.run() == 0


def test_closing_does_not_wait_for_a_call_that_hangs() -> None:
    import time

    check = Scripted("hang")
    watch = DependencyWatch({"the postgres container": check}, warn=print, every_s=0.005,
                            call_timeout_s=30.0)
    try:
        watch.start()
        wait_for(lambda: check.calls == 1, 5.0, "the first call")
        began = time.monotonic()
        watch.close()
        assert time.monotonic() - began < 1.0
    finally:
        check.release.set()
