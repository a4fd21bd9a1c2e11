"""Liveness after ready: a program that stops answering is killed and restarted per its
policy; without a restart, the run stops with PRECHECK_APP_UNHEALTHY."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.supervisor.conftest import Run, assert_gone, program, wait_for
from workspace.errors import AppUnhealthy

MakeRun = Callable[..., Run]


def _hanging(port: int, counter: Path, **extra: object) -> dict[str, object]:
    return {"command": program("hang_after.py", port, 0.3, counter),
            "ready": {"http": f"http://127.0.0.1:{port}/health"},
            "liveness": {"http": f"http://127.0.0.1:{port}/health", "interval_s": 0.1,
                         "timeout_s": 0.3, "failures": 2},
            "stop_grace_s": 0.5, **extra}


def test_a_hung_app_is_killed_and_restarted_per_its_policy(make_run: MakeRun,
                                                           tmp_path: Path) -> None:
    port = free_port()
    run = make_run({"api": _hanging(port, tmp_path / "runs", restart="on-failure",
                                    backoff_s=0.05)})
    seen: list[str | None] = []

    def drive() -> None:
        wait_for(lambda: run.ready.count("api") == 2, 20, "api ready after its restart")
        wait_for(lambda: run.manager.snapshot()[0].health == "ok", 5, "a passing probe")
        seen.append(run.manager.snapshot()[0].health)
        run.manager.stop()

    threading.Thread(target=drive, daemon=True).start()
    assert run.run() == 0
    text = run.out.getvalue()
    assert "api liveness: failing 1/2" in text and "api liveness: failing 2/2" in text
    assert "api is unhealthy: stopping it (SIGTERM)" in text
    assert "restart 1/5" in text and len(run.recorder.made) == 2
    assert seen == ["ok"] and run.manager.snapshot()[0].restarts == 1
    assert_gone(run.recorder.pids)


def test_a_hung_app_without_restart_stops_everything(make_run: MakeRun, tmp_path: Path) -> None:
    port = free_port()
    run = make_run({"api": _hanging(port, tmp_path / "runs")})
    with pytest.raises(AppUnhealthy) as caught:
        run.run()
    err = caught.value
    assert err.code == "PRECHECK_APP_UNHEALTHY" and err.exit_code == 37 and err.app == "api"
    assert "TimeoutError" in err.reason or "timed out" in err.reason, err.reason
    assert_gone(run.recorder.pids)


def test_a_command_probe_runs_in_the_apps_directory(make_run: MakeRun, tmp_path: Path) -> None:
    """`command` passes on exit 0: here until a file appears, then the app is restarted."""
    flag = tmp_path / "broken"
    run = make_run({"worker": {"command": program("sleeper.py", "up"), "ready": {"log": "up"},
                               "restart": "always", "backoff_s": 0.05,
                               "liveness": {"command": ["test", "!", "-e", "broken"],
                                            "interval_s": 0.05, "failures": 1}}})

    def drive() -> None:
        wait_for(lambda: run.manager.snapshot()[0].health == "ok", 10, "probe passing")
        flag.touch()
        wait_for(lambda: run.ready.count("worker") == 2, 10, "worker restarted")
        run.manager.stop()

    threading.Thread(target=drive, daemon=True).start()
    assert run.run() == 0
    assert "worker liveness: failing 1/1: test: exit code 1" in run.out.getvalue()
    assert_gone(run.recorder.pids)
