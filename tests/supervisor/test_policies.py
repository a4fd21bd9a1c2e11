"""restart(name) on real processes, called from several threads at once. The restart and
exit policies, tasks and restarts of dependencies are scripted histories
(test_histories.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tests.supervisor.conftest import Run, assert_gone, program, wait_for
from workspace.errors import ConfigError

MakeRun = Callable[..., Run]


def _in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


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
