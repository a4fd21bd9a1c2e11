"""The `db` commands, `status`, `start` and `stop` on the workspace that runs for this
project, from a subdirectory and from another shell with another environment."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port, query, run_cli
from tests.stack import Stack, app, assert_nothing_left


def test_a_running_workspace_is_used_from_a_subdirectory_and_another_shell(
        stack: Stack) -> None:
    port = free_port()
    stack.configure({"api": app("http_app.py", port, 0, port=port,
                                ready={"http": f"http://127.0.0.1:{port}/health"})})
    out = stack.cli("start", "--detach", timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    sub = stack.root / "apps" / "api"
    sub.mkdir(parents=True)

    status = run_cli(sub, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["running"] and report["project_dir"] == str(stack.root.resolve())
    launcher = report["pid"]

    # Another shell: another environment (a port the config does not use, a Docker host
    # that does not answer), in a subdirectory. It reads the running workspace's database.
    other = {"WORKSPACE_EMBEDDED__PORT": str(free_port()), "DOCKER_HOST": "tcp://127.0.0.1:9"}
    db = run_cli(sub, "db", "status", "--json", env=other)
    assert db.returncode == 0, db.stdout + db.stderr
    found = json.loads(db.stdout)
    assert f"127.0.0.1:{stack.pg_port}/" in found["database"] and "********" in found["database"]
    assert found["counts"]["applied"] == 3
    assert not (sub / ".workspace").exists()  # no second cluster, no state of its own

    again = run_cli(sub, "start")
    assert again.returncode == 23 and f"pid {launcher}" in again.stderr
    refused = run_cli(sub, "db", "server", "stop")
    assert refused.returncode == 23, refused.stdout + refused.stderr
    assert "PRECHECK_WORKSPACE_RUNNING" in refused.stderr and "`workspace stop`" in refused.stderr
    postmaster = int((stack.root / ".workspace" / "postgres" / "postmaster.pid")
                     .read_text().split()[0])
    assert psutil.pid_exists(postmaster)
    assert json.loads(run_cli(sub, "status", "--json").stdout)["apps"][0]["health"] == "ok"

    stopped = run_cli(sub, "stop")
    assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout, stopped.stderr
    assert_nothing_left(stack.root)
    assert not (sub / ".workspace").exists()


def test_db_commands_reach_an_external_database_the_launcher_was_given(
        stack: Stack, app_db_url: str) -> None:
    port = free_port()
    stack.configure({"api": app("http_app.py", port, 0, port=port,
                                ready={"http": f"http://127.0.0.1:{port}/health"})})
    out = run_cli(stack.root, "start", "--detach", env={"DATABASE_URL": app_db_url}, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        query(app_db_url, "CREATE TABLE public.only_here (id int)")
        db = run_cli(stack.root, "db", "status", "--json")  # this shell: no DATABASE_URL
        assert db.returncode == 0, db.stdout + db.stderr
        assert json.loads(db.stdout)["counts"]["applied"] == 3
        assert app_db_url.rsplit("/", 1)[1] in json.loads(db.stdout)["database"]
        assert "only_here" in run_cli(stack.root, "db", "validate").stdout  # extra: that one
        assert not (stack.root / ".workspace" / "postgres").exists()  # nothing embedded
    finally:
        assert run_cli(stack.root, "stop").returncode == 0
    assert_nothing_left(stack.root)


def test_no_running_workspace_means_the_configured_backend(tmp_path: Path) -> None:
    from workspace.config.models import load_config
    from workspace.run.running_db import running_database_url

    assert running_database_url(load_config(tmp_path, environ={})) is None


def _running(tmp_path: Path, backend: str, database: str):  # type: ignore[no-untyped-def]
    """This process plays a launcher of `backend` that recorded `database` (masked)."""
    from workspace.output.redact import mask_url
    from workspace.run.state import RunLock, RunState, StateStore

    lock = RunLock(tmp_path / ".workspace")
    assert lock.acquire()
    state = RunState.mine("detached")
    state.backend, state.database = backend, mask_url(database)
    StateStore(tmp_path / ".workspace").write(state)
    return lock


def test_the_docker_backends_password_comes_from_its_env_file(tmp_path: Path) -> None:
    from workspace.config.models import load_config
    from workspace.run.running_db import running_database_url

    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / ".env").write_text("POSTGRES_PASSWORD=s3cret-from-env-file\n")
    lock = _running(tmp_path, "docker",
                    "postgresql://postgres:s3cret-from-env-file@127.0.0.1:5432/workspace")
    try:
        state_text = (tmp_path / ".workspace" / "run" / "state.json").read_text()
        assert "s3cret-from-env-file" not in state_text
        assert running_database_url(load_config(tmp_path, environ={})) == \
            "postgresql://postgres:s3cret-from-env-file@127.0.0.1:5432/workspace"
    finally:
        lock.release()


def test_a_password_found_nowhere_is_said_with_the_remedy(tmp_path: Path) -> None:
    import pytest

    from workspace.config.models import load_config
    from workspace.errors import DatabaseUnreachable
    from workspace.run.running_db import running_database_url

    lock = _running(tmp_path, "external", "postgresql://app:elsewhere-only@db.example:5432/app")
    try:
        with pytest.raises(DatabaseUnreachable) as info:
            running_database_url(load_config(tmp_path, environ={}))
    finally:
        lock.release()
    assert "postgresql://app:********@db.example:5432/app" in info.value.message
    assert "elsewhere-only" not in info.value.message
    assert "--database-url" in (info.value.remedy or "")


def test_the_running_databases_password_is_found_again_by_its_backend(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The state file holds the URL masked; the backend the registry makes for the
    recorded backend gives the real one back (here a fake registered as "docker": no
    engine, no env file, no backend name compared)."""
    from tests.deps.fake_backend import FakeBackend, register
    from workspace.config.models import Config
    from workspace.output import redact
    from workspace.run.running_db import running_database_url
    from workspace.run.state import RunLock, RunState, StateStore

    fake = FakeBackend(url="postgresql://u:f4ke-pw@127.0.0.1:1/d")
    register(monkeypatch, "docker", fake)
    config = Config(project_dir=tmp_path)
    lock = RunLock(config.state_dir)
    assert lock.acquire()
    try:
        state = RunState.mine("foreground")
        state.backend, state.database = "docker", redact.mask_url(fake.url)
        StateStore(config.state_dir).write(state)
        assert running_database_url(config) == fake.url
    finally:
        lock.release()
