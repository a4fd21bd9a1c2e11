"""`workspace start`, `stop`, `status`, `logs` as a user runs them: real launcher
processes, a real embedded PostgreSQL per test, scripted apps; after each test the
process table is checked for anything the project left behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from tests.browser import render
from tests.conftest import REPO, SHIPPED_MIGRATIONS, free_port, run_cli
from tests.supervisor.conftest import PROGRAMS, wait_for
from workspace.config import Config

FORBIDDEN = {"DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR"}


def leftovers(project: Path) -> list[str]:
    """Processes of this project: its cwd inside it, or its path on the command line
    (the embedded postmaster: `postgres -D <project>/.workspace/postgres`)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if str(project) in cmdline or (info["cwd"] or "").startswith(str(project)):
            found.append(f"{info['pid']}: {cmdline[:150]}")
    return found


def assert_nothing_left(project: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (left := leftovers(project)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left behind: {left}"


def app(script: str, *args: object, **extra: object) -> dict[str, object]:
    return {"command": [sys.executable, str(PROGRAMS / script), *map(str, args)], **extra}


class Stack:
    """A project: the shipped migrations, its own embedded server port, given apps."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg_port = free_port()

    def configure(self, apps: dict[str, dict[str, object]], **sections: object) -> None:
        config = {"embedded": {"port": self.pg_port}, "apps": apps,
                  "supervisor": {"stop_grace_s": 2}, **sections}
        (self.root / "config.yaml").write_text(yaml.safe_dump(config))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(self.root, *args, timeout=timeout)

    def launch(self, *args: str) -> Launcher:
        return Launcher(self.root, args)


class Launcher:
    """`workspace start` in its own session (so signals reach only it, as Ctrl-C on a
    terminal reaches its process group), its output read line by line."""

    def __init__(self, root: Path, args: tuple[str, ...]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workspace", "start", *args], cwd=root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, text: str, timeout_s: float = 60) -> None:
        wait_for(lambda: any(text in ln for ln in self.lines) or self.proc.poll() is not None,
                 timeout_s, f"{text!r} in the output")
        assert any(text in ln for ln in self.lines), f"{text!r} never came:\n{self.output}"

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout_s: float = 60) -> int:
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code


@pytest.fixture
def stack() -> Iterator[Stack]:
    # Not under pytest's basetemp, as the session's server in conftest.py: another pytest
    # session resets its permissions, and the server's system user would lose its way in.
    root = Path(tempfile.mkdtemp(prefix="workspace-tests-start-")) / "project"
    shutil.copytree(SHIPPED_MIGRATIONS, root / "migrations")
    made = Stack(root)
    yield made
    run_cli(root, "stop", timeout=60)
    run_cli(root, "down", timeout=60)
    for proc in psutil.process_iter(["pid", "cwd"]):  # never leak into other tests
        if (proc.info["cwd"] or "").startswith(str(root)) and proc.info["pid"] != os.getpid():
            proc.kill()
    shutil.rmtree(root.parent, ignore_errors=True)


def sleeper_apps(delay_s: float = 0) -> dict[str, dict[str, object]]:
    return {"api": app("sleeper.py", "api up", delay_s, ready={"log": "api up"}),
            "worker": app("grandparent.py", depends_on=["api"],
                          ready={"log": "grandchild"})}


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
    launcher.wait_line(after)
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
    launcher.wait_line("all apps ready")
    launcher.interrupt(sig)
    assert launcher.wait() == code, launcher.output
    assert "stopped embedded PostgreSQL" in launcher.output
    assert_nothing_left(stack.root)


def test_json_events_for_scripts(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch("--json")
    launcher.wait_line('"event": "running"')
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


def test_stop_from_another_terminal_during_the_prechecks(stack: Stack) -> None:
    (stack.root / "migrations" / "0005_slow.sql").write_text("SELECT pg_sleep(3);\n")
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_line("Database ready")
    status = json.loads(stack.cli("status", "--json").stdout)
    assert status["running"] and status["phase"] == "starting"
    assert status["pid"] == launcher.proc.pid
    stopped = stack.cli("stop")
    assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout
    assert launcher.wait() == 143, launcher.output
    assert "api started" not in launcher.output
    assert_nothing_left(stack.root)
    assert not (stack.root / ".workspace" / "run" / "state.json").exists()


def test_apps_get_the_database_and_issuer_but_no_log_shows_the_password(stack: Stack) -> None:
    probe = ('echo "db=$DATABASE_URL client=$OIDC_CLIENT_ID project=$WORKSPACE_PROJECT_DIR '
             'python=$(command -v python) unbuffered=$PYTHONUNBUFFERED port=$PORT"; sleep 60')
    stack.configure({"env": {"command": ["sh", "-c", probe], "port": 4567,
                             "ready": {"log": "db="}}},
                    oidc={"client_id": "client-123"}, deps={"zitadel": {"backend": "skip"}})
    launcher = stack.launch()
    launcher.wait_line("all apps ready")
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
    launcher.wait_line("all apps ready")
    launcher.interrupt()
    assert launcher.wait() == 130
    assert "stopped embedded PostgreSQL" not in launcher.output
    left = leftovers(stack.root)
    assert left and all("postgres" in p for p in left), left  # only the server
    assert stack.cli("down").returncode == 0
    assert_nothing_left(stack.root)


# -- detached ----------------------------------------------------------------------------

def test_detached_start_status_logs_stop_from_other_processes(stack: Stack) -> None:
    port = free_port()
    stack.configure({"api": app("http_app.py", port, 0.5, port=port,
                                ready={"http": f"http://127.0.0.1:{port}/health"}),
                     "worker": app("grandparent.py", depends_on=["api"],
                                   ready={"log": "grandchild"})})
    out = stack.cli("start", "--detach", timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"api ready: http://localhost:{port}" in out.stdout
    assert "worker ready" in out.stdout

    status = stack.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["running"] and report["mode"] == "detached" and report["phase"] == "running"
    assert report["dependencies"][0] | {"address": ""} == {
        "name": "postgres", "backend": "embedded", "state": "running", "address": "",
        "started_by_workspace": True}
    assert "********" in report["dependencies"][0]["address"]
    apps = {a["name"]: a for a in report["apps"]}
    assert apps["api"]["state"] == "ready" and apps["api"]["health"] == "ok"
    assert apps["worker"]["state"] == "ready" and psutil.pid_exists(apps["worker"]["pid"])
    assert report["validation"] == {"valid": True, "warnings": []}
    assert report["migrations_applied_by_start"] == 3

    human = stack.cli("status")
    assert "Workspace running (detached" in human.stdout and "api" in human.stdout

    logs = stack.cli("logs")
    assert logs.returncode == 0 and "worker    | grandchild" in logs.stdout
    own = stack.cli("logs", "worker")
    assert own.stdout.startswith("grandchild ")
    unknown = stack.cli("logs", "nope")
    assert unknown.returncode == 3 and "no app named `nope`" in unknown.stderr

    again = stack.cli("start")
    assert again.returncode == 23, again.stdout + again.stderr
    assert "PRECHECK_WORKSPACE_RUNNING" in again.stderr and f"pid {report['pid']}" in again.stderr
    busy = stack.cli("down")
    assert busy.returncode == 23 and "`workspace stop`" in busy.stderr

    with subprocess.Popen([sys.executable, "-m", "workspace", "logs", "-f", "-n", "1"],
                          cwd=stack.root, stdout=subprocess.PIPE, text=True) as follower:
        stopped = stack.cli("stop")
        assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout
        followed, _ = follower.communicate(timeout=10)  # -f ends when the workspace stops
    assert "stopped embedded PostgreSQL" in followed
    assert_nothing_left(stack.root)
    assert stack.cli("status").returncode == 1
    assert "No workspace is running" in stack.cli("stop").stdout


def test_detached_start_reports_an_app_failure_and_leaves_nothing(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", ready={"log": "never printed"},
                                ready_timeout_s=1)})
    out = stack.cli("start", "-d")
    assert out.returncode == 22, out.stdout + out.stderr
    assert "PRECHECK_APP_NOT_READY: app `api` not ready after 1s" in out.stderr
    assert_nothing_left(stack.root)


def test_a_killed_launcher_is_detected_and_cleaned_up(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_line("all apps ready")
    state = json.loads((stack.root / ".workspace" / "run" / "state.json").read_text())
    app_pids = [a["pid"] for a in state["apps"].values()]
    os.kill(launcher.proc.pid, signal.SIGKILL)
    launcher.wait()
    # the apps die with it (PDEATHSIG and the watchdog); the server is not its child
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                             for p in app_pids), 10, "the apps to die with the launcher")
    status = stack.cli("status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False
    cleaned = stack.cli("stop")
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"did not stop cleanly: launcher pid {launcher.proc.pid}" in cleaned.stdout
    assert "stopped embedded PostgreSQL" in cleaned.stdout
    assert_nothing_left(stack.root)
    assert not (stack.root / ".workspace" / "run" / "state.json").exists()


def test_a_launcher_killed_during_the_prechecks_left_a_record_of_its_server(
        stack: Stack) -> None:
    (stack.root / "migrations" / "0005_slow.sql").write_text("SELECT pg_sleep(3);\n")
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_line("Database ready")
    os.kill(launcher.proc.pid, signal.SIGKILL)
    launcher.wait()
    cleaned = stack.cli("stop")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "stopped embedded PostgreSQL" in cleaned.stdout
    assert_nothing_left(stack.root)


def test_detached_start_stopped_before_it_is_ready(stack: Stack) -> None:
    stack.configure({"api": app("sleeper.py", "api up", 30, ready={"log": "api up"})})
    env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
    with subprocess.Popen([sys.executable, "-m", "workspace", "start", "-d"], cwd=stack.root,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as parent:
        wait_for(lambda: b"api started" in _combined_log(stack), 60, "the api to start")
        stopped = stack.cli("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 143, out
    assert "stopped before every app was ready" in out
    assert_nothing_left(stack.root)


def _combined_log(stack: Stack) -> bytes:
    path = stack.root / ".workspace" / "logs" / "workspace.log"
    return path.read_bytes() if path.exists() else b""


def test_stop_never_signals_a_process_it_cannot_vouch_for(stack: Stack) -> None:
    """The lock is held (a launcher still starting) and the record names a pid that is
    now another process: stop refuses rather than signal it."""
    from workspace.runstate import RunLock

    stack.configure({})
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    lock = RunLock(stack.root / ".workspace")
    try:
        assert lock.acquire()
        (stack.root / ".workspace" / "run" / "state.json").write_text(json.dumps({
            "pid": stranger.pid, "pid_started": 1.0, "mode": "foreground", "started_at": 1.0}))
        out = stack.cli("stop")
        assert out.returncode == 23 and "records no launcher yet" in out.stderr
        assert stranger.poll() is None
    finally:
        lock.release()
        stranger.kill()
        stranger.wait()


def test_a_stale_state_file_is_never_trusted(stack: Stack) -> None:
    """After a reboot the recorded pids may belong to anything: none is signalled."""
    stack.configure(sleeper_apps())
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run = stack.root / ".workspace" / "run"
        run.mkdir(parents=True)
        (run / "state.json").write_text(json.dumps({
            "pid": stranger.pid, "pid_started": 1.0, "mode": "foreground", "started_at": 1.0,
            "apps": {"api": {"name": "api", "state": "ready", "pid": stranger.pid,
                             "pid_started": 1.0}}}))
        out = stack.cli("start", "-d")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "did not stop cleanly" in out.stderr and stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


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
    launcher.wait_line("all apps ready")
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
