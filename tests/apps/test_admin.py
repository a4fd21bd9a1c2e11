"""apps/admin: its proxy, and the page as a real headless Chromium renders it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import AppProcess, get_json, request_json
from tests.browser import render
from tests.conftest import free_port

CONFIG = """\
apps:
  server:
    command: python apps/server/app.py
    port: 3002
  admin:
    command: python apps/admin/app.py
    port: 3001
    depends_on: [server]
"""
@pytest.fixture
def apps() -> Iterator[list[AppProcess]]:
    started: list[AppProcess] = []
    yield started
    for app in reversed(started):
        app.stop()


def start_admin(apps: list[AppProcess], cwd: Path, api_url: str) -> str:
    port = free_port()
    admin = AppProcess("admin", cwd=cwd, env={"PORT": str(port), "API_URL": api_url})
    apps.append(admin)
    admin.wait_for(f"Admin listening on http://localhost:{port}")
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def stack(apps: list[AppProcess], shipped_project: Path, db_url: str) -> tuple[str, str]:
    """The server (migrated, real database) and the admin in front of it: their base URLs."""
    (shipped_project / "config.yaml").write_text(CONFIG)
    port = free_port()
    server = AppProcess("server", cwd=shipped_project,
                        env={"DATABASE_URL": db_url, "PORT": str(port)})
    apps.append(server)
    server.wait_for(f"API listening on port {port}")
    api = f"http://127.0.0.1:{port}"
    return api, start_admin(apps, shipped_project, api)


def test_the_proxy_passes_api_calls_on_and_serves_only_the_page(stack: tuple[str, str]) -> None:
    api, admin = stack
    request_json("POST", f"{api}/api/documents", {"title": "t", "content": "a\n\nb"})
    status, listing = get_json(f"{admin}/api/documents?limit=5")
    assert status == 200 and listing["total"] == 1 and listing["limit"] == 5
    assert get_json(f"{admin}/api/nope") == (404, {"error": "not found: GET /api/nope"})
    assert get_json(f"{admin}/app.py")[0] == 404
    assert request_json("POST", f"{admin}/api/documents", {})[0] == 405


def test_the_proxy_answers_502_when_the_api_is_down(apps: list[AppProcess],
                                                    tmp_path: Path) -> None:
    admin = start_admin(apps, tmp_path, f"http://127.0.0.1:{free_port()}")
    status, body = get_json(f"{admin}/api/workspace")
    assert status == 502 and "API server unreachable" in body["error"]


def test_the_page_renders_migrations_documents_and_apps(chromium: str, stack: tuple[str, str],
                                                        tmp_path: Path) -> None:
    api, admin = stack
    for title in ("one", "two"):
        request_json("POST", f"{api}/api/documents", {"title": title, "content": "text"})

    dom = render(chromium, f"{admin}/", tmp_path / "profile")

    assert "hidden" in dom.by_id("error").attrs, dom.by_id("error").text
    migrations = dom.by_id("migrations")
    assert migrations.attrs["data-rows"] == "3"
    for name in ("0001_init.sql", "0002_populate_materialized_views.sql",
                 "0004_auth_introspection_cache.sql"):
        assert name in migrations.text
    assert dom.find(data_version="4")
    count = dom.by_id("documents-count")
    assert (count.attrs["data-count"], count.text) == ("2", "2")
    # No `workspace start` ran: the launcher, its validation and the apps say so.
    launcher = dom.by_id("launcher")
    assert launcher.attrs["data-running"] == "false" and "not running" in launcher.text
    assert dom.by_id("validation").attrs["data-valid"] == "unknown"
    assert [(row.attrs["data-app"], row.attrs["data-state"])
            for row in dom.find(data_state="stopped") if "data-app" in row.attrs] == [
        ("server", "stopped"), ("admin", "stopped")]
    postgres = dom.find(data_dep="postgres")
    assert len(postgres) == 1 and "external" in postgres[0].text  # DATABASE_URL is set


def test_the_page_shows_the_error_when_the_api_is_down(chromium: str, apps: list[AppProcess],
                                                       tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    admin = start_admin(apps, tmp_path, closed)

    dom = render(chromium, f"{admin}/", tmp_path / "profile")

    error = dom.by_id("error")
    assert "hidden" not in error.attrs
    assert "HTTP 502" in error.text and f"API server unreachable at {closed}" in error.text
    assert dom.by_id("launcher").attrs["data-running"] == "unknown"


def test_a_bad_timeout_in_the_environment_exits_2_naming_it(apps: list[AppProcess],
                                                            tmp_path: Path) -> None:
    admin = AppProcess("admin", cwd=tmp_path, env={"PORT": str(free_port()),
                                                   "IDLE_TIMEOUT_S": "-1"})
    apps.append(admin)
    assert admin.wait(30) == 2, admin.output
    assert "IDLE_TIMEOUT_S" in admin.output
