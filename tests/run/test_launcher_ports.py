"""Every app's port is checked with the database's before anything starts."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tests.conftest import free_port
from tests.stack import Stack, app


def test_an_app_port_held_by_another_process_is_refused_before_the_database_starts(
        stack: Stack) -> None:
    port = free_port()
    stack.configure({"api": app("sleeper.py", "api up", ready={"log": "api up"}),
                     "web": app("sleeper.py", "web up", port=port, depends_on=["api"])})
    with socket.socket() as holder:  # this test's own process holds it
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = stack.cli("start", "--json")
    assert done.returncode == 11, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    error = events[-1]["error"]
    assert error["code"] == "PRECHECK_PORT_IN_USE"
    # how the holder is named (pid, name, command line): tests/deps/test_ports.py
    assert f"127.0.0.1:{port} is already in use by pid {os.getpid()} " in error["message"]
    assert "apps.web.port" in error["remedy"]
    assert "postgres" not in [e.get("name") for e in events if e["event"] == "step"]
    assert not (stack.root / ".workspace" / "postgres").exists()


def test_two_apps_on_one_port_are_a_config_error(stack: Stack) -> None:
    port = free_port()
    stack.configure({"api": app("sleeper.py", port=port), "web": app("sleeper.py", port=port)})
    done = stack.cli("start")
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"apps.web.port: {port} is apps.api.port too" in done.stderr
    assert not (stack.root / ".workspace" / "postgres").exists()


def test_the_chosen_backend_checks_its_own_ports(tmp_path: Path) -> None:
    """The ports step asks the backend (with Zitadel's when Docker runs it too): the
    launcher names no backend and checks no type."""
    from tests.deps.fake_backend import FakeBackend
    from workspace.config.models import Config
    from workspace.run.launcher import _check_ports

    fake = FakeBackend()
    _check_ports(Config(project_dir=tmp_path), fake, "docker")
    _check_ports(Config(project_dir=tmp_path), fake, "skip")
    assert fake.calls == [("ports", ["zitadel"]), ("ports", [])]
