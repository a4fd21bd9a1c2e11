"""`workspace start [APP ...] [--profile NAME ...]`: which apps run."""

from __future__ import annotations

import json

import pytest

from tests.stack import Stack, app, assert_nothing_left
from tests.supervisor.conftest import wait_for
from workspace.config.apps import AppConfig
from workspace.errors import ConfigError
from workspace.run.selection import select_apps

APPS = {"db-seed": AppConfig.model_validate({"command": "s", "kind": "task"}),
        "api": AppConfig.model_validate({"command": "a", "depends_on": {"db-seed": "completed"}}),
        "web": AppConfig.model_validate({"command": "w", "depends_on": ["api"]}),
        "docs": AppConfig.model_validate({"command": "d", "profiles": ["extras"]}),
        "debug": AppConfig.model_validate({"command": "g", "profiles": ["extras", "dbg"],
                                           "depends_on": ["api"]})}


@pytest.mark.parametrize(("names", "profiles", "expected"), [
    ([], [], ["db-seed", "api", "web"]),
    (["api"], [], ["db-seed", "api"]),
    (["web"], [], ["db-seed", "api", "web"]),
    ([], ["dbg"], ["db-seed", "api", "web", "debug"]),
    ([], ["extras", "dbg"], ["db-seed", "api", "web", "docs", "debug"]),
    (["docs"], [], ["docs"]),  # named: started whatever its profiles
])
def test_named_apps_bring_their_dependencies_and_profiles_add_theirs(
        names: list[str], profiles: list[str], expected: list[str]) -> None:
    assert list(select_apps(APPS, names, profiles)) == expected


def test_unknown_names_are_errors_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"no app named `nope`.*\(apps: db-seed, api, web, "
                                          r"docs, debug\)"):
        select_apps(APPS, ["api", "nope"], [])
    with pytest.raises(ConfigError, match=r"no profile named `x` \(profiles: dbg, extras\)"):
        select_apps(APPS, [], ["x"])


def test_an_unknown_app_on_the_command_line_exits_3_before_anything_starts(
        stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", "api up", ready={"log": "api up"})})
    done = stack.cli("start", "apx", "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    error = json.loads(done.stdout.splitlines()[-1])["error"]
    assert error["code"] == "PRECHECK_CONFIG_INVALID" and "`apx`" in error["message"]
    assert "(apps: api)" in error["message"]
    done = stack.cli("start", "--profile", "nope")
    assert done.returncode == 3 and "no profile named `nope` (profiles: none configured)" \
        in done.stderr, done.stderr
    assert not (stack.root / ".workspace" / "postgres").exists()


def test_a_subset_start_runs_the_app_and_what_it_depends_on_only(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", "api up", ready={"log": "api up"},
                                liveness={"command": "true", "interval_s": 0.1}),
                     "seed": app("exit_with.py", 0, "seeded", kind="task"),
                     "web": app("sleeper.py", "web up", ready={"log": "web up"},
                                depends_on={"api": "ready", "seed": "completed"}),
                     "other": app("sleeper.py", "other up", ready={"log": "other up"}),
                     "tools": app("sleeper.py", "tools up", profiles=["tools"])})
    launcher = stack.launch("web")
    launcher.wait_for("all apps ready")
    status = json.loads(stack.cli("status", "--json").stdout)
    states = {a["name"]: a["state"] for a in status["apps"]}
    assert states == {"api": "ready", "seed": "completed", "web": "ready",
                      "other": "stopped", "tools": "stopped"}
    # the liveness verdict is shown once the first probe passed
    wait_for(lambda: json.loads(stack.cli("status", "--json").stdout)["apps"][0]["liveness"]
             == "ok", 20, "liveness ok in status")
    human = stack.cli("status").stdout
    assert any(ln.split()[:2] == ["api", "ready"] and "liveness ok" in ln
               for ln in human.splitlines()), human
    launcher.interrupt()
    assert launcher.wait() == 130
    assert "other started" not in launcher.output and "tools started" not in launcher.output
    assert_nothing_left(stack.root)


def test_a_detached_subset_start_hands_the_selection_to_its_supervisor(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", "api up", ready={"log": "api up"}),
                     "other": app("sleeper.py", "other up", ready={"log": "other up"})})
    done = stack.cli("start", "--detach", "api")
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(stack.cli("status", "--json").stdout)
    assert {a["name"]: a["state"] for a in status["apps"]} == {"api": "ready",
                                                               "other": "stopped"}
    assert stack.cli("stop").returncode == 0
    assert "other started" not in stack.cli("logs", "-n", "all").stdout
    assert_nothing_left(stack.root)
