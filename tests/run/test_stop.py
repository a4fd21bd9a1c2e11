"""`workspace stop` from another process, and what a launcher that died leaves: found,
cleaned up, never trusted blindly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.stack import Stack, assert_nothing_left, sleeper_apps
from tests.supervisor.conftest import wait_for


def test_stop_from_another_terminal_during_the_prechecks(stack: Stack) -> None:
    (stack.root / "migrations" / "0005_slow.sql").write_text("SELECT pg_sleep(3);\n")
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("Database ready")
    status = json.loads(stack.cli("status", "--json").stdout)
    assert status["running"] and status["phase"] == "starting"
    assert status["pid"] == launcher.proc.pid
    stopped = stack.cli("stop")
    assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout
    assert launcher.wait() == 143, launcher.output
    assert "api started" not in launcher.output
    assert_nothing_left(stack.root)
    assert not (stack.root / ".workspace" / "run" / "state.json").exists()


def test_a_killed_launcher_is_detected_and_cleaned_up(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
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
    launcher.wait_for("Database ready")
    os.kill(launcher.proc.pid, signal.SIGKILL)
    launcher.wait()
    cleaned = stack.cli("stop")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "stopped embedded PostgreSQL" in cleaned.stdout
    assert_nothing_left(stack.root)


def test_a_server_started_again_after_a_launcher_died_in_the_prechecks_is_left_alone(
        stack: Stack) -> None:
    """The launcher records its server's identity as soon as the server is up: killed
    during the migrations, it leaves a record that names that postmaster, not whatever
    runs on the data directory later."""
    (stack.root / "migrations" / "0005_slow.sql").write_text("SELECT pg_sleep(3);\n")
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("Database ready")
    state = json.loads((stack.root / ".workspace" / "run" / "state.json").read_text())
    os.kill(launcher.proc.pid, signal.SIGKILL)
    launcher.wait()
    assert state["identities"], state  # recorded before the migrations
    assert stack.cli("db", "server", "stop").returncode == 0
    restarted = stack.cli("db", "server", "start")  # someone else's server now
    assert restarted.returncode == 0, restarted.stderr
    try:
        cleaned = stack.cli("stop")
        assert cleaned.returncode == 0, cleaned.stderr
        assert "did not stop cleanly" in cleaned.stdout
        assert "stopped embedded PostgreSQL" not in cleaned.stdout
        assert json.loads(stack.cli("db", "server", "status", "--json").stdout)["running"]
    finally:
        stack.cli("db", "server", "stop")
    assert_nothing_left(stack.root)


def test_stop_works_when_the_config_was_broken_since_the_start(stack: Stack) -> None:
    stack.configure(sleeper_apps())
    launcher = stack.launch()
    launcher.wait_for("all apps ready")
    (stack.root / "config.yaml").write_text("apps: [unclosed\n")
    stopped = stack.cli("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "PRECHECK_CONFIG_INVALID" in stopped.stdout + stopped.stderr  # said, not fatal
    assert "Workspace stopped" in stopped.stdout
    assert launcher.wait() == 143, launcher.output
    assert_nothing_left(stack.root)


def test_stop_never_signals_a_process_it_cannot_vouch_for(stack: Stack) -> None:
    """The lock is held (a launcher still starting) and the record names a pid that is
    now another process: stop refuses rather than signal it."""
    from workspace.run.state import RunLock

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


def _dead_launchers_record(config_dir: Path, identity: str) -> None:
    """What a launcher killed after its database came up leaves: the database (run by
    the backend registered as "docker") and the identity its backend gave once it was up."""
    (config_dir / "run").mkdir(parents=True)
    ref = {"service": "postgres", "backend": "docker"}
    (config_dir / "run" / "state.json").write_text(json.dumps({
        "pid": 1, "pid_started": 2.0, "mode": "foreground", "started_at": 3.0,
        "backend": "docker", "started": [ref],
        "identities": [{"ref": ref, "identity": identity}]}))


@pytest.mark.parametrize(("recorded", "stopped"), [("instance-1", True), ("instance-0", False)])
def test_a_dead_launchers_dependency_is_stopped_by_its_backend_while_it_is_the_recorded_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str, stopped: bool) -> None:
    """cleanup_stale asks the backend the registry makes whether what runs now is the
    instance recorded, and has that backend stop it: no backend's name is compared."""
    from tests.deps.fake_backend import FakeBackend, register
    from workspace.config.models import Config
    from workspace.run.stop import cleanup_stale

    fake = FakeBackend(running="instance-1")
    register(monkeypatch, "docker", fake)
    config = Config(project_dir=tmp_path)
    _dead_launchers_record(config.state_dir, recorded)
    cleaned = cleanup_stale(config)
    assert ("stop" in fake.calls) is stopped, (cleaned, fake.calls)
    assert cleaned == "launcher pid 1 (foreground): " + (
        "stopped fake server" if stopped else "nothing was left")
    assert not (config.state_dir / "run" / "state.json").exists()
