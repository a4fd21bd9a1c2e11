"""The OAuth app check through Zitadel's management API (ListApps), against answers shaped
like the documented ones (tests/deps/fixtures/zitadel_*.json), over httpx.MockTransport."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from workspace.config.models import Config, OidcConfig
from workspace.deps.zitadel import PAGE_SIZE, check_oauth_app
from workspace.errors import WorkspaceError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE = "http://localhost:8080"
PROJECT = "294856700000000042"
CLIENT_ID = "294856712345678901@workspace"
PAT = "pat-Xq3L9vT0kWm2ZrY8sN4bE7uJ1cH6fA5d"
SEARCH_PATH = f"/management/v1/projects/{PROJECT}/apps/_search"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_config(tmp_path: Path, *, client_id: str | None = CLIENT_ID,
                pat: str | None = PAT) -> Config:
    if pat is not None:
        (tmp_path / "admin.pat").write_text(pat + "\n")
    return Config(project_dir=tmp_path, oidc=OidcConfig(
        issuer=BASE, client_id=client_id, project_id=PROJECT, pat_file=Path("admin.pat")))


def answering(*bodies: tuple[int, Any], seen: list[httpx.Request] | None = None) -> httpx.Client:
    """A client whose management API answers `bodies` in turn (status, JSON)."""
    answers = list(bodies)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        status, body = answers.pop(0)
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_the_app_is_found_by_its_oidc_client_id(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    with answering((200, fixture("zitadel_list_apps.json")), seen=seen) as client:
        assert check_oauth_app(make_config(tmp_path), BASE, client=client) is None
    (request,) = seen
    assert request.method == "POST" and request.url.path == SEARCH_PATH
    assert request.headers["Authorization"] == f"Bearer {PAT}"
    assert json.loads(request.content)["query"]["limit"] == PAGE_SIZE


def test_a_missing_app_is_a_warning_naming_the_client_id(tmp_path: Path) -> None:
    config = make_config(tmp_path, client_id="000000000000000000@workspace")
    with answering((200, fixture("zitadel_list_apps.json"))) as client:
        warning = check_oauth_app(config, BASE, client=client)
    assert warning is not None and "000000000000000000@workspace" in warning
    with answering((200, fixture("zitadel_list_apps_empty.json"))) as client:
        assert check_oauth_app(make_config(tmp_path), BASE, client=client) is not None


def test_an_api_app_or_an_inactive_app_is_a_warning(tmp_path: Path) -> None:
    config = make_config(tmp_path, client_id="294856798765432109@workspace")
    with answering((200, fixture("zitadel_list_apps.json"))) as client:
        assert check_oauth_app(config, BASE, client=client) is not None  # an API app
    inactive = copy.deepcopy(fixture("zitadel_list_apps.json"))
    inactive["result"][0]["state"] = "APP_STATE_INACTIVE"
    with answering((200, inactive)) as client:
        warning = check_oauth_app(make_config(tmp_path), BASE, client=client)
    assert warning is not None and "APP_STATE_INACTIVE" in warning


def test_a_refused_token_is_a_warning_that_never_shows_the_token(tmp_path: Path) -> None:
    with answering((401, fixture("zitadel_error_unauthenticated.json"))) as client:
        warning = check_oauth_app(make_config(tmp_path), BASE, client=client)
    assert warning is not None
    assert "HTTP 401" in warning and "admin.pat" in warning and PAT not in warning
    with answering((404, fixture("zitadel_error_not_found.json"))) as client:
        warning = check_oauth_app(make_config(tmp_path), BASE, client=client)
    assert warning is not None and "HTTP 404" in warning


def test_a_missing_client_id_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as caught:
        check_oauth_app(make_config(tmp_path, client_id=None), BASE,
                        client=answering())  # no request is made
    assert caught.value.code == "PRECHECK_OAUTH_CLIENT_MISSING"


def test_no_token_file_or_no_answer_is_a_warning(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    with answering(seen=seen) as client:
        assert check_oauth_app(make_config(tmp_path, pat=None), BASE, client=client) is not None
    assert seen == []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        warning = check_oauth_app(make_config(tmp_path), BASE, client=client)
    assert warning is not None and "ConnectError" in warning and PAT not in warning


def test_apps_are_read_page_by_page(tmp_path: Path) -> None:
    listed = fixture("zitadel_list_apps.json")
    other = listed["result"][1]
    first = {"details": {**listed["details"], "totalResult": str(PAGE_SIZE + 1)},
             "result": [{**other, "id": str(n)} for n in range(PAGE_SIZE)]}
    second = {"details": first["details"], "result": [listed["result"][0]]}
    seen: list[httpx.Request] = []
    with answering((200, first), (200, second), seen=seen) as client:
        assert check_oauth_app(make_config(tmp_path), BASE, client=client) is None
    assert [json.loads(r.content)["query"]["offset"] for r in seen] == ["0", str(PAGE_SIZE)]


def test_a_fifo_as_token_file_is_a_warning_and_never_waited_on(tmp_path: Path) -> None:
    import os
    import threading

    config = make_config(tmp_path, pat=None)
    os.mkfifo(tmp_path / "admin.pat")
    warnings: list[str | None] = []
    worker = threading.Thread(daemon=True, target=lambda: warnings.append(
        check_oauth_app(config, BASE, client=answering())))
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # let the blocked open() return, then fail
        with open(tmp_path / "admin.pat", "w"):
            pass
        pytest.fail("reading the token file blocked")
    (warning,) = warnings
    assert warning is not None and "is a FIFO" in warning
