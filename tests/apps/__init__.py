"""Tests of the reference apps (apps/server, apps/admin), each run as a real subprocess.

    app = AppProcess("server", cwd=project, env={"DATABASE_URL": db_url, "PORT": "3002"})
    app.wait_for("API listening on port")
    get_json("http://127.0.0.1:3002/health")     # (200, {"status": "ok", ...})
    app.stop()                                   # SIGTERM, then SIGKILL; returns the exit code

This package's helpers rather than a conftest.py, so that both test modules share them.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.lines import LineProcess

# Never inherited by an app under test: the test sets what it needs.
_CLEARED_ENV = ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR", "PORT", "API_URL",
                "WORKSPACE_PROJECT_DIR")


class AppProcess(LineProcess):
    """One reference app (`apps/<name>/app.py`) running with `cwd` as its project."""

    def __init__(self, name: str, *, cwd: Path, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items()
                    if k not in _CLEARED_ENV and not k.startswith("WORKSPACE_")}
        full_env.update(env, PYTHONUNBUFFERED="1")
        super().__init__(name, [sys.executable, str(REPO / "apps" / name / "app.py")],
                         cwd=cwd, env=full_env)


def request_json(method: str, url: str, body: object = None, *, raw: bytes | None = None,
                 timeout_s: float = 10.0) -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON body) of one request; HTTP errors are returned too."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())


def get_json(url: str) -> tuple[int, Any]:
    status, _, body = request_json("GET", url)
    return status, body
