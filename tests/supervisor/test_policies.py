"""Restart and exit policies, tasks, and restart(name), on real processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.supervisor.conftest import Run, assert_gone, program, wait_for
from workspace.errors import AppExited, ConfigError, TaskFailed

MakeRun = Callable[..., Run]


def _in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def _state(run: Run, name: str) -> str:
    return next(a.state for a in run.manager.snapshot() if a.name == name)


def test_always_restarts_a_clean_exit_too_up_to_the_limit(make_run: MakeRun) -> None:
    run = make_run({"once": {"command": program("exit_with.py", 0, "did it"),
                             "restart": "always", "backoff_s": 0.05, "max_restarts": 2}})
    with pytest.raises(AppExited) as caught:
        run.run()
    assert caught.value.code == "PRECHECK_APP_EXITED" and caught.value.returncode == 0
    assert caught.value.restarts == 2 and len(run.recorder.made) == 3
    assert "once exited (exit code 0); restart 1/2 in 0.05s" in run.out.getvalue()
    assert_gone(run.recorder.pids)


@pytest.mark.parametrize("policy", ["no", False])  # YAML reads a bare `no` as false
def test_a_service_exiting_0_under_no_and_stop_all_still_stops_everything(
        make_run: MakeRun, policy: object) -> None:
    run = make_run({"other": {"command": program("sleeper.py", "up"), "ready": {"log": "up"}},
                    "done": {"command": program("exit_with.py", 0, "bye"),
                             "restart": policy, "depends_on": ["other"]}})
    with pytest.raises(AppExited) as caught:
        run.run()
    assert caught.value.app == "done" and caught.value.returncode == 0
    assert len(run.recorder.made) == 2
    assert_gone(run.recorder.pids)


def test_keep_running_leaves_the_others_up_and_shows_the_app_exited(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"}},
                    "job": {"command": program("exit_with.py", 3, "failing"),
                            "on_exit": "keep-running", "depends_on": ["api"]}})
    waiter = _in_background(lambda: (wait_for(lambda: _state(run, "job") == "exited", 10,
                                              "job exited"), run.manager.stop()))
    assert run.run() == 0
    waiter.join(5)
    assert "job exited (exit code 3); the other apps keep running" in run.out.getvalue()
    assert "stopping apps" in run.out.getvalue()
    api = run.recorder.made[0]
    assert api.returncode is not None and api.returncode < 0  # stopped by us, not exited
    assert_gone(run.recorder.pids)


def test_a_task_gates_its_dependant_until_it_completed(make_run: MakeRun, tmp_path: Path) -> None:
    run = make_run({"server": {"command": program("sleeper.py", "server up"),
                               "ready": {"log": "server up"},
                               "depends_on": {"seed": "completed", "db": "ready"}},
                    "db": {"command": program("sleeper.py", "db up"), "ready": {"log": "db up"}},
                    "seed": {"kind": "task", "command": program("exit_with.py", 0, "seeded"),
                             "depends_on": ["db"]}},
                   stop_when_ready=("server",))
    assert run.run() == 0
    text = run.out.getvalue()
    assert text.index("db ready") < text.index("seed started")
    assert text.index("seed completed") < text.index("server started")
    assert [a.state for a in run.manager.snapshot()] == ["stopped", "stopped", "stopped"]
    assert_gone(run.recorder.pids)


def test_a_failed_task_stops_the_start_with_its_code_and_last_lines(make_run: MakeRun) -> None:
    run = make_run({"seed": {"kind": "task", "command": program("exit_with.py", 4, "a", "b")},
                    "server": {"command": program("sleeper.py"), "depends_on": {"seed": "completed"}}})
    with pytest.raises(TaskFailed) as caught:
        run.run()
    err = caught.value
    assert err.code == "PRECHECK_TASK_FAILED" and err.exit_code == 36
    assert err.app == "seed" and err.returncode == 4 and err.tail == ["a", "b"]
    assert len(run.recorder.made) == 1  # server never started
    assert_gone(run.recorder.pids)


def test_restart_stops_the_app_and_starts_it_again(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"}},
                    "web": {"command": program("sleeper.py", "web up"), "ready": {"log": "web up"},
                            "depends_on": ["api"]}})

    def drive() -> None:
        wait_for(lambda: run.ready == ["api", "web"], 10, "both ready")
        callers = [threading.Thread(target=run.manager.restart, args=("web",))
                   for _ in range(4)]  # at once, from several threads: one restart
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(5)
        wait_for(lambda: run.ready.count("web") == 2, 10, "web ready again")
        run.manager.stop()

    driver = _in_background(drive)
    assert run.run() == 0
    driver.join(5)
    assert [p.name for p in run.recorder.made] == ["api", "web", "web"]
    assert "web: restart asked" in run.out.getvalue()
    assert next(a.restarts for a in run.manager.snapshot() if a.name == "web") == 1
    assert_gone(run.recorder.pids)


def test_restart_of_an_unknown_app_names_the_choices(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py")}})
    with pytest.raises(ConfigError, match=r"no app named `nope`.*\(apps: api\)"):
        run.manager.restart("nope")


def test_restarts_asked_for_do_not_use_up_the_policys_budget(make_run: MakeRun) -> None:
    """Saves under `watch` restart an app many times: a later crash is still a crash the
    policy restarts (max_restarts counts the policy's own restarts)."""
    import os
    import signal

    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"},
                            "restart": "on-failure", "max_restarts": 1, "backoff_s": 0.05}})

    def drive() -> None:
        for n in (2, 3):
            wait_for(lambda n=n: run.ready.count("api") == n - 1, 10, "api ready")
            run.manager.restart("api")
        wait_for(lambda: run.ready.count("api") == 3, 10, "api ready after two restarts")
        os.kill(run.recorder.made[-1].pid, signal.SIGKILL)  # a crash
        wait_for(lambda: run.ready.count("api") == 4, 10, "api restarted by its policy")
        run.manager.stop()

    driver = _in_background(drive)
    assert run.run() == 0
    driver.join(5)
    assert "restart 1/1" in run.out.getvalue()
    assert_gone(run.recorder.pids)


def test_a_dependant_in_backoff_waits_for_its_restarted_dependency(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"}},
                    "web": {"command": program("exit_with.py", 3, "web fails"),
                            "depends_on": ["api"], "restart": "on-failure", "backoff_s": 30,
                            "max_restarts": 3, "on_exit": "keep-running"}})

    def drive() -> None:
        wait_for(lambda: _state(run, "web") == "restarting", 10, "web in its backoff")
        run.manager.restart("api")
        wait_for(lambda: len(run.recorder.made) == 4, 10, "api and web started again")
        run.manager.stop()

    driver = _in_background(drive)
    assert run.run() == 0
    driver.join(5)
    assert [p.name for p in run.recorder.made] == ["api", "web", "api", "web"]
    out = run.out.getvalue()
    assert out.index("api ready", out.index("api stopped")) < out.rindex("web started")
    assert_gone(run.recorder.pids)


def test_a_restart_of_a_dependency_restarts_a_dependant_still_starting(make_run: MakeRun) -> None:
    run = make_run({"api": {"command": program("sleeper.py", "api up"), "ready": {"log": "api up"}},
                    "web": {"command": program("sleeper.py", "web up", 1.0),
                            "ready": {"log": "web up"}, "depends_on": ["api"]}})

    def drive() -> None:
        wait_for(lambda: run.ready == ["api", "web"], 10, "both ready")
        run.manager.restart("web")
        wait_for(lambda: _state(run, "web") == "starting", 10, "web starting again")
        run.manager.restart("api")  # web runs against the old api: it restarts too
        wait_for(lambda: run.ready.count("web") == 2 and run.ready.count("api") == 2, 15,
                 "both ready again")
        run.manager.stop()

    driver = _in_background(drive)
    assert run.run() == 0
    driver.join(5)
    assert [p.name for p in run.recorder.made] == ["api", "web", "web", "api", "web"]
    assert_gone(run.recorder.pids)
