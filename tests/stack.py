"""A real project for `workspace start` tests, registered for every test by conftest.py:
its own embedded server port, the shipped migrations, scripted apps; a launcher read line
by line; and the process table checked for anything the project left behind.

    def test_x(stack: Stack) -> None:
        stack.configure({"api": app("sleeper.py", ready={"log": "up"})})
        launcher = stack.launch()
        launcher.wait_for("all apps ready")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from tests.conftest import SHIPPED_MIGRATIONS, free_port, run_cli
from tests.lines import LineProcess
from tests.supervisor.conftest import PROGRAMS

__all__ = ["FORBIDDEN", "Stack", "app", "assert_nothing_left", "leftovers",
           "sleeper_apps", "stack"]

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

    def launch(self, *args: str) -> LineProcess:
        """`workspace start` in its own session: a signal reaches only it, as Ctrl-C on a
        terminal reaches its process group."""
        env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
        return LineProcess("workspace start", [sys.executable, "-m", "workspace", "start",
                                               *args], cwd=self.root, env=env)


@pytest.fixture
def stack(outside_tmp: Path) -> Iterator[Stack]:
    root = outside_tmp / "project"  # not under basetemp: see conftest.outside_tmp
    shutil.copytree(SHIPPED_MIGRATIONS, root / "migrations")
    made = Stack(root)
    yield made
    run_cli(root, "stop", timeout=60)
    run_cli(root, "down", timeout=60)
    for proc in psutil.process_iter(["pid", "cwd"]):  # never leak into other tests
        if (proc.info["cwd"] or "").startswith(str(root)) and proc.info["pid"] != os.getpid():
            proc.kill()


def sleeper_apps(delay_s: float = 0) -> dict[str, dict[str, object]]:
    return {"api": app("sleeper.py", "api up", delay_s, ready={"log": "api up"}),
            "worker": app("grandparent.py", depends_on=["api"],
                          ready={"log": "grandchild"})}
