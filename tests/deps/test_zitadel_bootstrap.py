"""Zitadel's first run (deps/zitadel_bootstrap.py) against a fake of its management API
(tests/deps/zitadel_fixture.py: a real HTTP server answering with the documented shapes
of tests/deps/fixtures/zitadel/); Zitadel itself cannot run here."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deps.zitadel_fixture import FakeZitadel, fixture, fixture_text
from workspace import redact
from workspace.config import CLIENT_FILE, Config, ReadinessConfig, load_config
from workspace.deps.readiness import wait_for_zitadel
from workspace.deps.zitadel_bootstrap import check_masterkey, ensure_oidc_client, needs_bootstrap
from workspace.errors import WorkspaceError

PAT = "pat-Xq3L9vT0kWm2ZrY8sN4bE7uJ1cH6fA5dQ0zR"
CONFIG = """\
deps:
  zitadel:
    backend: docker
apps:
  server:
    command: python app.py
    port: 3002
  admin:
    command: python admin.py
    port: 3001
"""


@pytest.fixture
def zitadel() -> Iterator[FakeZitadel]:
    with FakeZitadel(pat=PAT) as fake:
        yield fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG)
    pat = tmp_path / ".workspace" / "zitadel" / "admin.pat"
    pat.parent.mkdir(parents=True)
    pat.write_text(PAT + "\n")
    return tmp_path


def load(project: Path, **env: str) -> Config:
    return load_config(project, environ=env)


def test_a_fresh_zitadel_gets_its_project_and_app_and_config_reads_the_client_id(
        project: Path, zitadel: FakeZitadel) -> None:
    config = load(project)
    assert config.oidc.client_id is None and needs_bootstrap(config)
    client = ensure_oidc_client(config, zitadel.url)
    assert client.created == ("project", "app")
    (made,) = zitadel.apps[client.project_id]
    assert client.client_id == made["oidcConfig"]["clientId"] and client.app_id == made["id"]
    assert zitadel.api_calls() == [
        ("POST", "/management/v1/projects/_search"), ("POST", "/management/v1/projects"),
        ("POST", f"/management/v1/projects/{client.project_id}/apps/_search"),
        ("POST", f"/management/v1/projects/{client.project_id}/apps/oidc")]
    search, add_project, _, add_app = zitadel.seen
    assert search.authorization == f"Bearer {PAT}"
    assert search.body["queries"] == [{"nameQuery": {"name": "workspace",
                                                     "method": "TEXT_QUERY_METHOD_EQUALS"}}]
    assert add_project.body == {"name": "workspace"}
    assert add_app.body["name"] == "workspace-apps"
    assert add_app.body["redirectUris"] == ["http://localhost:3002/auth/callback",
                                            "http://localhost:3001/auth/callback"]
    assert add_app.body["appType"] == "OIDC_APP_TYPE_USER_AGENT" and add_app.body["devMode"]

    recorded = json.loads((project / CLIENT_FILE).read_text())
    assert recorded["client_id"] == client.client_id
    assert recorded["project_id"] == client.project_id
    again = load(project)
    assert (again.oidc.client_id, again.oidc.project_id) == (client.client_id, client.project_id)


def test_a_second_run_finds_them_and_creates_nothing(project: Path, zitadel: FakeZitadel) -> None:
    first = ensure_oidc_client(load(project), zitadel.url)
    calls = len(zitadel.seen)
    config = load(project)
    assert needs_bootstrap(config)  # the recorded ID is checked against Zitadel again
    second = ensure_oidc_client(config, zitadel.url)
    assert second.created == ()
    assert (second.client_id, second.project_id) == (first.client_id, first.project_id)
    assert [s.path.rsplit("/", 1)[-1] for s in zitadel.seen[calls:]] == ["_search", "_search"]
    assert len(zitadel.projects) == 1 and len(zitadel.apps[first.project_id]) == 1


def test_a_recorded_client_of_a_removed_zitadel_is_made_again(project: Path,
                                                               zitadel: FakeZitadel) -> None:
    """After `docker compose down -v` the client file names an app that is gone."""
    (project / CLIENT_FILE).write_text(json.dumps(
        {"project_id": "111", "client_id": "111@workspace", "app_id": "112"}))
    config = load(project)
    assert config.oidc.client_id == "111@workspace" and needs_bootstrap(config)
    client = ensure_oidc_client(config, zitadel.url)
    assert client.created == ("project", "app") and client.client_id != "111@workspace"
    assert load(project).oidc.client_id == client.client_id


def test_the_users_own_client_id_wins(project: Path, zitadel: FakeZitadel) -> None:
    client = ensure_oidc_client(load(project), zitadel.url)
    mine = load(project, OIDC_CLIENT_ID="mine@elsewhere")
    assert mine.oidc.client_id == "mine@elsewhere" and not needs_bootstrap(mine)
    assert mine.oidc.project_id is None  # the recorded project goes with the recorded client
    other = load(project, OIDC_ISSUER="https://id.staging.example",  # another Zitadel
                 WORKSPACE_DEPS__ZITADEL__BACKEND="external")
    assert other.oidc.client_id is None
    assert load(project).oidc.client_id == client.client_id


def test_a_project_id_of_the_users_own_is_used_as_it_is(project: Path,
                                                        zitadel: FakeZitadel) -> None:
    made = ensure_oidc_client(load(project), zitadel.url)
    (project / CLIENT_FILE).unlink()
    calls = len(zitadel.seen)
    client = ensure_oidc_client(load(project, WORKSPACE_OIDC__PROJECT_ID=made.project_id),
                                zitadel.url)
    assert client.client_id == made.client_id
    assert [s.path for s in zitadel.seen[calls:]] == [
        f"/management/v1/projects/{made.project_id}/apps/_search"]
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project, WORKSPACE_OIDC__PROJECT_ID="404"), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED"
    assert "HTTP 404: Project not found" in caught.value.message


# -- what users get wrong -----------------------------------------------------------------

def write_env(project: Path, masterkey: str | None) -> None:
    (project / "docker").mkdir(exist_ok=True)
    lines = ["POSTGRES_PASSWORD=pg-Secret-123", "ZITADEL_DB_PASSWORD=zd-Secret-456"]
    if masterkey is not None:
        lines.append(f"ZITADEL_MASTERKEY={masterkey}")
    (project / "docker" / ".env").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("masterkey", ["ShortKey31CharactersLong0123456", "x" * 33, "é" * 32, ""])
def test_a_masterkey_of_another_length_is_refused_before_anything_starts(
        project: Path, masterkey: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZITADEL_MASTERKEY", raising=False)
    write_env(project, masterkey)
    with pytest.raises(WorkspaceError) as caught:
        check_masterkey(load(project))
    error = caught.value
    assert error.code == "PRECHECK_ZITADEL_MASTERKEY_INVALID" and error.exit_code == 28
    assert "docker/.env line 3: ZITADEL_MASTERKEY is" in error.message
    assert "exactly 32" in error.message and "openssl rand -hex 16" in error.remedy
    if len(masterkey) >= 8:
        assert masterkey not in error.message and masterkey not in error.remedy


def test_a_masterkey_of_32_characters_passes_and_a_missing_one_is_named(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZITADEL_MASTERKEY", raising=False)
    write_env(project, "MasterkeyNeedsToHave32Characters")
    check_masterkey(load(project))
    write_env(project, None)
    with pytest.raises(WorkspaceError) as caught:
        check_masterkey(load(project))
    assert caught.value.code == "PRECHECK_ZITADEL_MASTERKEY_INVALID"
    assert "not set" in caught.value.message


def test_no_token_after_the_boot_is_named_and_nothing_is_asked(project: Path,
                                                               zitadel: FakeZitadel) -> None:
    (project / ".workspace" / "zitadel" / "admin.pat").unlink()
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_PAT_INVALID" and caught.value.exit_code == 29
    assert "admin.pat" in caught.value.message and "first boot" in caught.value.message
    assert zitadel.seen == []


def test_an_empty_token_file_is_named(project: Path, zitadel: FakeZitadel) -> None:
    (project / ".workspace" / "zitadel" / "admin.pat").write_text("\n  \n")
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_PAT_INVALID"
    assert "is empty" in caught.value.message and zitadel.seen == []


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_fifo_or_directory_as_token_file_neither_blocks_nor_crashes(
        project: Path, zitadel: FakeZitadel, kind: str) -> None:
    pat = project / ".workspace" / "zitadel" / "admin.pat"
    pat.unlink()
    os.mkfifo(pat) if kind == "fifo" else pat.mkdir()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            ensure_oidc_client(load(project), zitadel.url)
        except BaseException as exc:  # noqa: BLE001 (handed to the test's thread)
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # let the blocked open() return, then fail
        with open(pat, "w"):
            pass
        pytest.fail("reading the token file blocked")
    (error,) = outcome
    assert isinstance(error, WorkspaceError) and error.code == "PRECHECK_ZITADEL_PAT_INVALID"
    assert ("FIFO" in error.message) if kind == "fifo" else ("directory" in error.message)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_named_and_never_shown(project: Path, zitadel: FakeZitadel,
                                                  status: int) -> None:
    body = fixture("error_unauthenticated.json" if status == 401
                   else "error_permission_denied.json")
    zitadel.answer_all = (status, "application/json", json.dumps(body))
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    error = caught.value
    assert error.code == "PRECHECK_ZITADEL_PAT_INVALID"
    assert f"HTTP {status}: {body['message']}" in error.message and "admin.pat" in error.message
    assert PAT not in error.message + error.remedy
    assert "older than the Zitadel container" not in error.message


def test_a_refused_token_older_than_the_container_is_called_stale(
        project: Path, zitadel: FakeZitadel) -> None:
    zitadel.answer_all = (401, "application/json", json.dumps(fixture("error_unauthenticated.json")))
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url, container_created_at=time.time() + 60)
    assert caught.value.code == "PRECHECK_ZITADEL_PAT_INVALID"
    assert "older than the Zitadel container" in caught.value.message


def test_instance_not_found_names_the_external_domain_and_port(project: Path,
                                                                zitadel: FakeZitadel) -> None:
    zitadel.answer_all = (404, "text/plain; charset=utf-8", fixture_text("instance_not_found.txt"))
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    error = caught.value
    assert error.code == "PRECHECK_ZITADEL_INSTANCE_NOT_FOUND" and error.exit_code == 30
    assert f"127.0.0.1:{zitadel.port}" in error.message and "external domain is localhost" in error.message
    assert "ZITADEL_EXTERNALDOMAIN" in error.remedy and "ZITADEL_EXTERNALPORT" in error.remedy


def test_instance_not_found_ends_the_readiness_wait_at_once(zitadel: FakeZitadel) -> None:
    zitadel.answer_all = (404, "text/plain", fixture_text("instance_not_found.txt"))
    readiness = ReadinessConfig(zitadel_attempts=20, zitadel_interval_s=1.0)
    began = time.monotonic()
    with pytest.raises(WorkspaceError) as caught:
        wait_for_zitadel(zitadel.url, readiness, debug_ready=False)
    assert caught.value.code == "PRECHECK_ZITADEL_INSTANCE_NOT_FOUND"
    assert time.monotonic() - began < 5  # not the 20 s budget


def test_any_other_api_error_is_a_bootstrap_failure(project: Path, zitadel: FakeZitadel) -> None:
    zitadel.answer_all = (500, "application/json", json.dumps(fixture("error_internal.json")))
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED" and caught.value.exit_code == 31
    assert "HTTP 500: Errors.Internal (QUERY-Dgbew)" in caught.value.message
    zitadel.answer_all = (200, "text/html", "<html>a proxy's page</html>")
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED"
    assert not (project / CLIENT_FILE).exists()


def test_no_answer_is_a_bootstrap_failure(project: Path) -> None:
    with FakeZitadel(pat=PAT) as gone:
        url = gone.url
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED"
    assert "ConnectError" in caught.value.message


def test_a_client_file_that_cannot_be_written_is_named(project: Path,
                                                       zitadel: FakeZitadel) -> None:
    (project / CLIENT_FILE).mkdir()
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED"
    assert "client.json" in caught.value.message and "oidc.client_id" in caught.value.remedy


def test_the_token_never_appears_even_when_zitadel_echoes_it(project: Path,
                                                             zitadel: FakeZitadel) -> None:
    echoed = {"code": 13, "message": f"internal error for token {PAT} (Bearer {PAT})",
              "details": []}
    zitadel.answer_all = (500, "application/json", json.dumps(echoed))
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert "internal error for token" in caught.value.message
    assert PAT not in caught.value.message
    assert PAT not in redact.redact(f"a log line holding {PAT}")


@pytest.mark.parametrize("problem", ["an API app", "an inactive app"])
def test_an_app_of_that_name_that_cannot_be_used_is_named(project: Path, zitadel: FakeZitadel,
                                                          problem: str) -> None:
    made = ensure_oidc_client(load(project), zitadel.url)
    (app,) = zitadel.apps[made.project_id]
    if problem == "an API app":
        app["apiConfig"] = {"clientId": app.pop("oidcConfig")["clientId"],
                            "authMethodType": "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"}
    else:
        app["state"] = "APP_STATE_INACTIVE"
    with pytest.raises(WorkspaceError) as caught:
        ensure_oidc_client(load(project), zitadel.url)
    assert caught.value.code == "PRECHECK_ZITADEL_BOOTSTRAP_FAILED"
    assert "workspace-apps" in caught.value.message
    assert ("not an OIDC app" if problem == "an API app" else "APP_STATE_INACTIVE") \
        in caught.value.message
