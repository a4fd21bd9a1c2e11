"""The live side of `workspace start` on real processes: a saved file restarts its app and
the apps depending on it (only them), `workspace restart APP`, migrations added, broken
or edited under a running workspace, and the page answering throughout."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.lines import LineProcess
from tests.stack import Stack, app, assert_nothing_left

LAUNCH_S = 120


def web(name: str, port: int, *args: object, **extra: object) -> dict[str, object]:
    """tests/supervisor/programs/web.py: answers `<name> <pid>` on its port."""
    return app("web.py", name, *args, port=port, ready={"http": f"http://127.0.0.1:{port}/"},
               **extra)


def answer(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2, trust_env=False).text
    except httpx.HTTPError as exc:
        return f"down: {exc}"


def until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)
    return value


class Page:
    """The launcher's page, found from the line it prints."""

    def __init__(self, launcher: LineProcess) -> None:
        line = launcher.wait_for("Workspace page: ", LAUNCH_S)
        found = re.search(r"(http://127\.0\.0\.1:\d+/)#key=(\S+)", line)
        assert found, line
        self.url, self.token = found.group(1), found.group(2)

    def state(self) -> dict[str, Any]:
        return httpx.get(self.url + "api/state", timeout=5, trust_env=False).json()

    def post(self, path: str, token: str | None = None) -> httpx.Response:
        return httpx.post(self.url + path, timeout=5, trust_env=False,
                          headers={"X-Workspace-Token": token or self.token})

    def migration(self, version: int) -> str | None:
        rows = self.state()["migrations"]["rows"]
        return next((r["state"] for r in rows if r["version"] == version), None)


@pytest.fixture
def three_apps(stack: Stack) -> dict[str, int]:
    """api (watching src/api), web depending on api, other on its own: their ports."""
    (stack.root / "src" / "api").mkdir(parents=True)
    (stack.root / "src" / "api" / "main.py").write_text("v1\n")
    ports = {name: free_port() for name in ("api", "web", "other")}
    stack.configure({"api": web("api", ports["api"], watch=["src/api"]),
                     "web": web("web", ports["web"], depends_on=["api"]),
                     "other": web("other", ports["other"])})
    return ports


def test_a_saved_file_restarts_its_app_and_the_apps_depending_on_it_only(
        stack: Stack, three_apps: dict[str, int]) -> None:
    launcher = stack.launch()
    launcher.wait_for("all apps ready", LAUNCH_S)
    before = {name: answer(port) for name, port in three_apps.items()}
    (stack.root / "src" / "api" / "notes.txt").write_text("not saved by an editor: a new file\n")
    (stack.root / "src" / "api" / "main.py").write_text("v2\n")

    until(lambda: all(answer(three_apps[n]) not in (before[n], "") and
                      not answer(three_apps[n]).startswith("down") for n in ("api", "web")),
          30, "api and web to answer from new processes")
    assert answer(three_apps["other"]) == before["other"]
    launcher.wait_for("api: src/api/main.py, src/api/notes.txt changed: restarting")
    time.sleep(0.5)  # one burst, one restart
    assert sum("api started" in line for line in launcher.lines) == 2
    assert sum("other started" in line for line in launcher.lines) == 1
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output
    assert_nothing_left(stack.root)


def test_workspace_restart_asks_the_running_launcher(stack: Stack,
                                                     three_apps: dict[str, int]) -> None:
    assert stack.cli("restart", "api").returncode == 1  # nothing runs yet
    launcher = stack.launch()
    page = Page(launcher)
    launcher.wait_for("all apps ready", LAUNCH_S)
    before = {name: answer(port) for name, port in three_apps.items()}

    done = stack.cli("restart", "api", timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "api restarted" in done.stdout and "web restarted" in done.stdout
    after = {name: answer(port) for name, port in three_apps.items()}
    assert after["api"] != before["api"] and after["web"] != before["web"]
    assert after["other"] == before["other"]
    assert stack.cli("restart", "nope").returncode == 3
    assert page.post("api/restart/api", token="wrong").status_code == 403
    assert "key=" not in (stack.root / ".workspace" / "logs" / "workspace.log").read_text()
    state_file = stack.root / ".workspace" / "run" / "state.json"
    assert state_file.stat().st_mode & 0o777 == 0o600
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output


@pytest.fixture
def running(stack: Stack) -> tuple[LineProcess, Page, int]:
    port = free_port()
    stack.configure({"api": web("api", port)})
    launcher = stack.launch()
    page = Page(launcher)
    launcher.wait_for("all apps ready", LAUNCH_S)
    until(lambda: page.migration(4) == "applied", 10, "the page to list the migrations")
    return launcher, page, port


def test_a_migration_added_under_a_running_workspace_is_applied_validated_and_shown(
        stack: Stack, running: tuple[LineProcess, Page, int]) -> None:
    launcher, page, port = running
    (stack.root / "migrations" / "0100_notes.sql").write_text(
        "CREATE TABLE IF NOT EXISTS kb.live_notes (id int PRIMARY KEY, body text);\n")

    launcher.wait_for("migrations applied live: 0100_notes.sql", 30)
    until(lambda: page.migration(100) == "applied", 30, "0100 shown applied")
    until(lambda: launcher.lines[-1:] and any("schema valid" in line for line in
                                              launcher.lines[-5:]), 30, "the validation")
    state = page.state()
    assert state["live_migration"]["ok"] is True
    assert state["validation"]["valid"] is True
    status = stack.cli("db", "status", "--json")
    assert json.loads(status.stdout)["counts"]["pending"] == 0
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output


def test_a_broken_migration_leaves_the_apps_running_with_the_error_shown(
        stack: Stack, running: tuple[LineProcess, Page, int]) -> None:
    launcher, page, port = running
    before = answer(port)
    broken = stack.root / "migrations" / "0100_broken.sql"
    broken.write_text("CREATE TABLE IF NOT EXISTS kb.broken (id int REFERENCES kb.nowhere(id));\n")

    launcher.wait_for("not applied; the apps keep running on the last good schema", 30)
    state = until(lambda: (s := page.state())["live_migration"] and s, 10, "the page's report")
    assert state["live_migration"]["ok"] is False
    assert state["live_migration"]["code"] == "PRECHECK_MIGRATIONS_FAILED"
    assert "kb.nowhere" in state["live_migration"]["error"]
    until(lambda: page.migration(100) == "pending", 10, "0100 shown pending")
    assert answer(port) == before and launcher.proc.poll() is None
    assert next(a for a in page.state()["apps"] if a["name"] == "api")["state"] == "ready"

    broken.write_text("CREATE TABLE IF NOT EXISTS kb.fixed (id int);\n")  # the fix, saved
    launcher.wait_for("migrations applied live: 0100_broken.sql", 30)
    until(lambda: page.migration(100) == "applied", 10, "0100 applied once fixed")
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output


def test_an_edited_applied_migration_is_reported_and_nothing_is_applied(
        stack: Stack, running: tuple[LineProcess, Page, int]) -> None:
    launcher, page, port = running
    applied = stack.root / "migrations" / "0004_auth_introspection_cache.sql"
    applied.write_text(applied.read_text() + "\n-- edited after it ran\n")
    (stack.root / "migrations" / "0100_new.sql").write_text(
        "CREATE TABLE IF NOT EXISTS kb.newer (id int);\n")

    launcher.wait_for("PRECHECK_MIGRATION_CHECKSUM_MISMATCH", 30)
    until(lambda: page.migration(4) == "modified", 10, "0004 shown modified")
    assert page.migration(100) == "pending"
    assert page.state()["live_migration"]["code"] == "PRECHECK_MIGRATION_CHECKSUM_MISMATCH"
    assert launcher.proc.poll() is None and answer(port).startswith("api ")
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output


def test_the_page_answers_with_no_app_configured(stack: Stack) -> None:
    stack.configure({}, page={"port": free_port()})
    launcher = stack.launch()
    page = Page(launcher)
    launcher.wait_for("no apps configured", LAUNCH_S)
    until(lambda: page.migration(1) == "applied", 10, "the migrations listed")
    state = page.state()
    assert state["dependencies"][0]["name"] == "postgres" and state["apps"] == []
    assert page.post("api/validate").status_code == 202
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output




def test_a_held_page_port_stops_the_start_naming_the_setting(stack: Stack) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack.configure({"api": web("api", free_port())}, page={"port": port})
        launcher = stack.launch()
        assert launcher.wait() == 11, launcher.output
    assert "PRECHECK_PORT_IN_USE" in launcher.output and "page.port" in launcher.output
    assert "Traceback" not in launcher.output
    assert_nothing_left(stack.root)


def test_a_detached_workspace_serves_the_page_and_restarts_an_app(
        stack: Stack, three_apps: dict[str, int]) -> None:
    started = stack.cli("start", "--detach", timeout=LAUNCH_S)
    assert started.returncode == 0, started.stdout + started.stderr
    status = stack.cli("status", "--json")
    page = json.loads(status.stdout)["page"]
    assert page.startswith("http://127.0.0.1:") and "key" not in status.stdout
    assert httpx.get(page + "api/state", timeout=5, trust_env=False).status_code == 200
    before = answer(three_apps["api"])
    done = stack.cli("restart", "api", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert answer(three_apps["api"]) != before
    assert stack.cli("stop").returncode == 0
    assert_nothing_left(stack.root)
