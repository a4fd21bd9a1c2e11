"""The launcher's health probes carry `User-Agent: workspace-probe/<version>`, and the
reference apps leave them out of their access log."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import AppProcess
from tests.conftest import free_port
from workspace import __version__
from workspace.supervisor.probes import PROBE_HEADERS, http_probe


@pytest.fixture
def started() -> Iterator[list[AppProcess]]:
    apps: list[AppProcess] = []
    yield apps
    for app in reversed(apps):
        app.stop()


def test_probe_requests_are_marked_and_left_out_of_the_access_logs(
        started: list[AppProcess], shipped_project: Path, db_url: str) -> None:
    assert PROBE_HEADERS == {"User-Agent": f"workspace-probe/{__version__}"}
    port, admin_port = free_port(), free_port()
    server = AppProcess("server", cwd=shipped_project,
                        env={"DATABASE_URL": db_url, "PORT": str(port)})
    started.append(server)
    server.wait_for(f"API listening on port {port}")
    admin = AppProcess("admin", cwd=shipped_project,
                       env={"PORT": str(admin_port), "API_URL": f"http://127.0.0.1:{port}"})
    started.append(admin)
    admin.wait_for(f"Admin listening on http://localhost:{admin_port}")
    for app, url, line in ((server, f"http://127.0.0.1:{port}/health", "GET /health 200"),
                           (admin, f"http://127.0.0.1:{admin_port}/", "GET / 200")):
        for _ in range(3):
            assert http_probe(url)() is None
        with urllib.request.urlopen(url, timeout=10) as answer:  # a user's request
            assert answer.status == 200
        app.wait_for(line)  # the user's, logged after the probes' would have been
        assert app.output.count(line.rsplit(" ", 1)[0] + " ") == 1, app.output
