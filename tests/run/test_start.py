"""`workspace start` in the foreground as a user runs it: real launcher processes, a real
embedded PostgreSQL per test, scripted apps and the reference apps; after each test the
process table is checked for anything left behind (tests/stack.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.browser import render
from tests.conftest import REPO, free_port
from tests.stack import Stack, app, assert_nothing_left, leftovers, sleeper_apps
from workspace.config.models import Config

# -- Ctrl-C at each phase -----------------------------------------------------------------

PHASES = [
    # (line after which Ctrl-C comes, whether the cluster exists already, what is then
    # under way)
    ("Ports free", False, "initdb"),
    ("Ports free", True, "pg_ctl start"),
    ("Database ready", True, "a migration (pg_sleep)"),
    ("api started", True, "waiting for the first app's readiness"),
    ("all apps ready", True, "the apps running, one with a grandchild"),
]


@pytest.mark.parametrize(("after", "initialised", "phase"), PHASES, ids=[p[2] for p in PHASES])
def test_ctrl_c_at_each_phase_leaves_no_process(stack: Stack, after: str, initialised: bool,
                                                phase: str) -> None:
    (stack.root / "migrations" / "0005_slow.sql").write_text("SELECT pg_sleep(1.5);\n")
    stack.configure(sleeper_apps(delay_s=3))
    if initialised:
        assert stack.cli("db", "server", "start").returncode == 0
        assert stack.cli("db", "server", "stop").returncode == 0
    launcher = stack.launch()
    launcher.wait_for(after)
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output
    assert_nothing_left(stack.root)
    status = stack.cli("status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False
    cluster = stack.root / ".workspace" / "postgres"
    assert (cluster / "PG_VERSION").exists() or not cluster.exists()  # never half of one


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGHUP (terminal closed)"])
def test_a_signal_while_running_stops_everything(stack: Stack, sig: int, code: int) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    launcher.interrupt(sig)
    assert launcher.wait() == code, launcher.output
    assert "stopped embedded PostgreSQL" in launcher.output
    assert_nothing_left(stack.root)


def test_json_events_for_scripts(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch("--json")
    launcher.wait_for('"event": "running"')
    launcher.interrupt()
    assert launcher.wait() == 130
    events = [json.loads(ln) for ln in launcher.lines if ln.startswith("{")]
    assert [e["name"] for e in events if e["event"] == "step"] == [
        "config", "backend", "ports", "postgres", "database", "migrations", "validation"]
    running = next(e for e in events if e["event"] == "running")
    assert [(a["name"], a["state"]) for a in running["apps"]] == [("api", "ready"),
                                                                  ("worker", "ready")]
    assert events[-1] == {"event": "stopped", "exit_code": 130}
    # every other line is an app's or the supervisor's, prefixed (they go to stderr)
    prefixed = re.compile(r"\d\d:\d\d:\d\d (api|worker|workspace) +\| ")
    assert all(ln.startswith("{") or prefixed.match(ln) for ln in launcher.lines), \
        launcher.output
    assert any("api       | api up" in ln for ln in launcher.lines)


def test_apps_get_the_database_and_issuer_but_no_log_shows_the_password(stack: Stack) -> None:
    probe = ('echo "db=$DATABASE_URL client=$OIDC_CLIENT_ID project=$WORKSPACE_PROJECT_DIR '
             'python=$(command -v python) unbuffered=$PYTHONUNBUFFERED port=$PORT"; sleep 60')
    stack.configure({"env": {"command": ["sh", "-c", probe], "port": 4567,
                             "ready": {"log": "db="}}},
                    oidc={"client_id": "client-123"}, deps={"zitadel": {"backend": "skip"}})
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    password = (stack.root / ".workspace" / "postgres.password").read_text().strip()
    line = next(ln for ln in launcher.lines if "env       | db=" in ln)
    assert (f"db=postgresql://postgres:********@127.0.0.1:{stack.pg_port}/workspace "
            f"client=client-123 project={stack.root} python={Path(sys.executable).parent}/python"
            " unbuffered=1 port=4567") in line
    launcher.interrupt()
    assert launcher.wait() == 130
    logs = stack.root / ".workspace" / "logs"
    for log in (logs / "env.log", logs / "workspace.log"):
        text = log.read_text()
        assert "db=postgresql://postgres:********@" in text and password not in text
    assert password not in launcher.output


def test_a_database_that_dies_under_the_apps_stops_everything(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    pid_file = stack.root / ".workspace" / "postgres" / "postmaster.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)  # immediate shutdown
    assert launcher.wait(30) == 18, launcher.output
    assert "PRECHECK_DEPENDENCY_EXITED: the embedded PostgreSQL exited" in launcher.output
    assert "last lines of" in launcher.output  # the server's log, to say why
    assert_nothing_left(stack.root)


def test_an_app_that_exits_stops_everything_with_its_code(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", ready={"log": "up"}),
                     "broken": app("exit_with.py", 3, "cannot bind", depends_on=["api"])})
    out = stack.cli("start")
    assert out.returncode == 21, out.stdout + out.stderr
    assert "PRECHECK_APP_EXITED: app `broken` exited (exit code 3)" in out.stderr
    assert "broken | cannot bind" in out.stderr
    assert_nothing_left(stack.root)


def test_a_failed_precheck_starts_no_app(stack: Stack) -> None:
    (stack.root / "migrations" / "0005_bad.sql").write_text("CREATE TABLE oops (;\n")
    marker = stack.root / "started"
    stack.configure({"api": {"command": ["touch", str(marker)]}})
    out = stack.cli("start")
    assert out.returncode == 6, out.stdout + out.stderr
    assert "PRECHECK_MIGRATION_FILE_INVALID" in out.stderr
    assert not marker.exists()
    assert_nothing_left(stack.root)


def test_a_running_server_is_reused_and_left_running(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    assert stack.cli("db", "server", "start").returncode == 0
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    launcher.interrupt()
    assert launcher.wait() == 130
    assert "stopped embedded PostgreSQL" not in launcher.output
    left = leftovers(stack.root)
    assert left and all("postgres" in p for p in left), left  # only the server
    assert stack.cli("down").returncode == 0
    assert_nothing_left(stack.root)






# -- the shipped stack -------------------------------------------------------------------

def test_the_shipped_stack_end_to_end(stack: Stack, chromium: str, tmp_path: Path) -> None:
    """The repository's config.yaml and reference apps, on free ports: `workspace start`
    until both apps are ready and answer, the admin page (in Chromium) shows the running
    workspace, Ctrl-C leaves nothing."""
    shutil.copytree(REPO / "apps", stack.root / "apps",
                    ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    server, admin = free_port(), free_port()
    config["embedded"]["port"] = stack.pg_port
    config["apps"]["server"].update(port=server,
                                    ready={"http": f"http://127.0.0.1:{server}/health"})
    config["apps"]["admin"].update(port=admin, ready={"http": f"http://127.0.0.1:{admin}/"},
                                   env={"API_URL": f"http://127.0.0.1:{server}"})
    (stack.root / "config.yaml").write_text(yaml.safe_dump(config))
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    assert "server ready in" in launcher.output and f"http://localhost:{admin}" in launcher.output
    assert f"API listening on port {server}" in launcher.output  # the app's own line, prefixed
    # the server ran its own startup migration: nothing was left for it to apply
    assert not any("server    | Applied:" in line for line in launcher.lines)

    health = httpx.get(f"http://127.0.0.1:{server}/health", trust_env=False, timeout=5)
    assert health.json() == {"status": "ok", "database": "ok"}
    made = httpx.post(f"http://127.0.0.1:{server}/api/documents", trust_env=False, timeout=5,
                      json={"title": "notes", "content": "one\n\ntwo"})
    assert made.status_code == 201 and len(made.json()["chunks"]) == 2

    dom = render(chromium, f"http://127.0.0.1:{admin}/", tmp_path / "profile")
    assert dom.by_id("launcher").attrs["data-running"] == "true"
    assert dom.by_id("validation").attrs["data-valid"] == "true"
    assert dom.by_id("migrations").attrs["data-rows"] == "3"
    assert dom.by_id("documents-count").attrs["data-count"] == "1"
    assert sorted((r.attrs["data-app"], r.attrs["data-state"], r.attrs["data-health"])
                  for r in dom.find(data_state="ready") if "data-app" in r.attrs) == [
        ("admin", "ready", "ok"), ("server", "ready", "ok")]

    launcher.interrupt()
    assert launcher.wait() == 130
    assert_nothing_left(stack.root)


# -- Docker ------------------------------------------------------------------------------

@pytest.mark.docker
def test_docker_backend_start_and_stop_keeps_the_volume(
        stack: Stack, docker_config: Callable[..., Config], docker_client: Any) -> None:
    from workspace.deps.compose import PROJECT_LABEL

    made = docker_config()
    docker = {k: (str(v) if isinstance(v, Path) else v)
              for k, v in made.docker.model_dump().items()}
    stack.configure(sleeper_apps(), docker=docker,
                    deps={"postgres": {"backend": "docker"}, "zitadel": {"backend": "skip"}})
    started = stack.cli("start", "--detach", timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Migrations applied (3 applied)" in started.stdout
    report = json.loads(stack.cli("status", "--json").stdout)
    assert report["dependencies"][0]["backend"] == "docker"
    assert report["dependencies"][0]["state"] == "running"
    assert report["dependencies"][0]["started_by_workspace"] is True

    assert stack.cli("stop", timeout=120).returncode == 0
    labels = {"label": f"{PROJECT_LABEL}={made.docker.project_name}"}
    containers = docker_client.containers.list(all=True, filters=labels)
    assert containers and all(c.status == "exited" for c in containers)
    assert docker_client.volumes.list(filters=labels)  # the data is kept
    assert_nothing_left(stack.root)

    again = stack.cli("start", "--detach", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Migrations applied (all up to date)" in again.stdout  # the same volume
    assert stack.cli("stop", timeout=120).returncode == 0


# -- the dependency watch (no Docker: a fake backend) -----------------------------------

class _HiccupPostgres:
    """DockerPostgres whose status call fails once (a Docker API timeout), then answers;
    `exit_after` calls later the container has exited."""

    ours = True  # a server of ours: watched
    calls = 0
    exit_after: int | None = None

    def __init__(self, config: Config) -> None:
        pass

    def check_alive(self) -> None:
        from workspace.errors import DependencyExited, DockerUnavailable

        type(self).calls += 1
        if self.calls == 1:
            raise DockerUnavailable("no Docker engine answers: Read timed out. (read timeout=5)")
        if self.exit_after is not None and self.calls > self.exit_after:
            raise DependencyExited("container workspace-postgres-1 exited with code 137")


@pytest.mark.parametrize("exit_after", [None, 3], ids=["hiccup only", "hiccup, then exited"])
def test_a_docker_hiccup_in_the_dependency_watch_does_not_end_the_run(
        project: Path, monkeypatch: pytest.MonkeyPatch, exit_after: int | None) -> None:
    import time

    from workspace.config.models import load_config
    from workspace.deps import docker as docker_deps
    from workspace.errors import DependencyExited
    from workspace.run import session as start_module
    from workspace.run.launcher import UpResult

    fake = type("FakePostgres", (_HiccupPostgres,), {"calls": 0, "exit_after": exit_after})
    monkeypatch.setattr(docker_deps, "DockerPostgres", fake)
    notes: list[str] = []
    watch = start_module._dependency_watch(load_config(project), UpResult(backend="docker"),
                                           warn=notes.append, every_s=0.005)
    with watch:
        deadline = time.monotonic() + 10
        try:
            while fake.calls < 6 and time.monotonic() < deadline:  # the loop's reads
                watch()
                time.sleep(0.005)
        except DependencyExited as exc:
            assert exit_after is not None and "exited with code 137" in exc.message
            return
    assert exit_after is None and fake.calls >= 6 and notes == []
