"""The manager on real processes: order, readiness, restarts, failures, shutdown."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from tests.conftest import free_port
from tests.supervisor.conftest import Run, assert_gone, program, wait_for
from tests.supervisor.test_process import unstamped
from workspace.errors import AppExited, AppNotReady, AppStartFailed, ConfigError

MakeRun = Callable[..., Run]


def test_apps_start_in_dependency_order_and_stop_cleanly(make_run: MakeRun) -> None:
    run = make_run({"web": {"command": program("sleeper.py", "web up"), "depends_on": ["api"],
                            "ready": {"log": "web up"}},
                    "api": {"command": program("sleeper.py", "api up", 0.3),
                            "ready": {"log": "api up"}, "port": 3999}},
                   stop_when_ready=("api", "web"))
    assert run.run() == 0
    assert run.ready == ["api", "web"]
    text = run.out.getvalue()
    assert text.index("api ready") < text.index("web started")
    assert "api ready in" in text and ": http://localhost:3999" in text
    assert_gone(run.recorder.pids)


def test_lines_are_prefixed_with_time_and_padded_name(make_run: MakeRun) -> None:
    run = make_run({"a": {"command": program("sleeper.py", "[red]x[/red]"), "ready": {"log": "x"}},
                    "longname": {"command": program("sleeper.py", "y"), "ready": {"log": "y"}}},
                   stop_when_ready=("a", "longname"))
    run.run()
    assert any(line[8:] == " a         | [red]x[/red]" for line in run.lines)
    assert any(line[8:] == " longname  | y" for line in run.lines)


def test_an_exit_stops_everything_naming_app_code_and_last_lines(make_run: MakeRun) -> None:
    run = make_run({"other": {"command": program("sleeper.py")},
                    "bad": {"command": program("exit_with.py", 7, "loading", "boom [x]"),
                            "depends_on": ["other"]}})
    with pytest.raises(AppExited) as caught:
        run.run()
    err = caught.value
    assert err.code == "PRECHECK_APP_EXITED" and err.exit_code == 21
    assert err.app == "bad" and err.returncode == 7 and err.tail == ["loading", "boom [x]"]
    assert "`bad` exited (exit code 7)" in str(err) and "bad | boom [x]" in str(err)
    assert_gone(run.recorder.pids)


def test_a_crash_loop_on_real_processes_keeps_every_runs_lines_in_the_log(
        make_run: MakeRun) -> None:
    """The backoff and the limit are histories (test_histories.py); here the real children
    are each started, logged and gone."""
    run = make_run({"crashy": {"command": program("exit_with.py", 3, "crash"),
                               "restart": "on-failure", "backoff_s": 0.05, "backoff_max_s": 0.1,
                               "max_restarts": 3}})
    with pytest.raises(AppExited) as caught:
        run.run()
    assert caught.value.restarts == 3 and caught.value.returncode == 3
    assert len(run.recorder.made) == 4 and unstamped(run.log("crashy")) == b"crash\n" * 4
    assert_gone(run.recorder.pids)


def test_an_app_that_never_becomes_ready_fails_after_its_bound(make_run: MakeRun) -> None:
    port = free_port()
    run = make_run({"slow": {"command": program("sleeper.py", "starting"),
                             "ready": {"tcp": port}, "ready_timeout_s": 0.5}})
    began = time.monotonic()
    with pytest.raises(AppNotReady) as caught:
        run.run()
    assert time.monotonic() - began < 5
    err = caught.value
    assert err.code == "PRECHECK_APP_NOT_READY" and err.app == "slow"
    assert f"127.0.0.1:{port}" in err.reason and err.tail == ["starting"]
    assert "`slow` not ready after 0.5s" in str(err)
    assert_gone(run.recorder.pids)


def test_an_http_probe_waits_for_2xx(make_run: MakeRun) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    run = make_run({"api": {"command": program("http_app.py", port, 0.3), "ready": {"http": url}}},
                   stop_when_ready=("api",))
    assert run.run() == 0
    assert "api ready in" in run.out.getvalue() and url in run.out.getvalue()


def test_a_command_that_cannot_start_stops_the_others(make_run: MakeRun) -> None:
    run = make_run({"ok": {"command": program("sleeper.py")},
                    "missing": {"command": "no-such-command-xyz --flag", "depends_on": ["ok"]}})
    with pytest.raises(AppStartFailed) as caught:
        run.run()
    assert caught.value.code == "PRECHECK_APP_START_FAILED" and caught.value.app == "missing"
    assert "no-such-command-xyz --flag" in str(caught.value)
    assert_gone(run.recorder.pids)


def test_an_app_ignoring_sigterm_is_killed_after_the_grace(make_run: MakeRun) -> None:
    run = make_run({"stubborn": {"command": program("ignore_term.py"),
                                 "ready": {"log": "ignoring SIGTERM"}}},
                   grace_s=0.5, stop_when_ready=("stubborn",))
    began = time.monotonic()
    assert run.run() == 0
    assert 0.5 <= time.monotonic() - began < 5
    assert "killing what is left (SIGKILL)" in run.out.getvalue()
    assert "stubborn (pid" in run.out.getvalue() and "killed by SIGKILL" in run.out.getvalue()
    assert_gone(run.recorder.pids)


def test_a_flood_is_printed_and_logged_whole(make_run: MakeRun) -> None:
    run = make_run({"noisy": {"command": program("flood.py", 100_000),
                              "ready": {"log": "^flood done$"}, "ready_timeout_s": 30}},
                   stop_when_ready=("noisy",))
    assert run.run() == 0
    printed = [line.split(" | ", 1)[1] for line in run.lines if " noisy     | " in line]
    assert printed == [f"line {i}" for i in range(100_000)] + ["flood done"]
    assert run.log("noisy").count(b"\n") == 100_001
    assert_gone(run.recorder.pids)


def test_grandchildren_are_stopped_with_their_app(make_run: MakeRun) -> None:
    run = make_run({"parent": {"command": program("grandparent.py"),
                               "ready": {"log": r"grandchild \d+"}}},
                   stop_when_ready=("parent",))
    assert run.run() == 0
    grandchild = int(next(line for line in run.lines if "grandchild" in line).split()[-1])
    assert_gone([*run.recorder.pids, grandchild], timeout_s=2)


def test_a_signal_that_came_before_the_run_is_handled_at_once(make_run: MakeRun) -> None:
    """`workspace stop` landing between the prechecks and the supervisor taking over:
    deferred, then handed over; nothing starts and the code is SIGTERM's."""
    run = make_run({"api": {"command": program("sleeper.py")}})
    assert run.manager.run(pending=[signal.SIGTERM]) == 143
    assert not any("api started" in line for line in run.lines)
    assert any("SIGTERM received: stopping" in line for line in run.lines)


def test_each_app_stops_with_its_own_signal_and_grace(make_run: MakeRun) -> None:
    """stop_signal: an app that ignores SIGTERM but stops on SIGINT stops cleanly;
    stop_grace_s: a stubborn one is killed after its own short grace, not the global 60 s."""
    run = make_run({"polite": {"command": program("ignore_term.py"), "stop_signal": "SIGINT",
                               "ready": {"log": "ignoring SIGTERM"}},
                    "stubborn": {"command": program("ignore_term.py"), "stop_grace_s": 0.3,
                                 "ready": {"log": "ignoring SIGTERM"}}},
                   grace_s=60, stop_when_ready=("polite", "stubborn"))
    began = time.monotonic()
    assert run.run() == 0
    assert time.monotonic() - began < 10
    out = run.out.getvalue()
    assert "SIGINT, SIGKILL after 60s; SIGTERM, SIGKILL after 0.3s" in out
    assert "killing what is left (SIGKILL): stubborn" in out
    assert "polite (pid" in out and "stubborn (pid" in out and "killed by SIGKILL" in out
    assert_gone(run.recorder.pids)


def test_restart_restarts_the_app_and_its_dependents_and_only_them(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"}},
                    "web": {"command": program("sleeper.py", "web up"), "depends_on": ["api"],
                            "ready": {"log": "web up"}},
                    "other": {"command": program("sleeper.py", "other up"),
                              "ready": {"log": "other up"}}})

    def drive() -> None:  # from another thread, as the page and the file watch do
        wait_for(lambda: len(run.ready) == 3, 20, "every app ready")
        run.manager.restart("api")
        wait_for(lambda: len(run.ready) == 5, 20, "api and web ready again")
        run.manager.stop()

    driver = threading.Thread(target=drive)
    driver.start()
    assert run.run() == 0
    driver.join()
    assert sorted(run.ready[3:]) == ["api", "web"]
    started = [p.name for p in run.recorder.made]
    assert sorted(started) == ["api", "api", "other", "web", "web"]
    text = run.out.getvalue()
    assert text.index("api: restart asked") < text.index("web ready",
                                                         text.index("api: restart asked"))
    with pytest.raises(ConfigError):
        run.manager.restart("nope")
    assert_gone(run.recorder.pids)
