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
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import REPO

# Never inherited by an app under test: the test sets what it needs.
_CLEARED_ENV = ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR", "PORT", "API_URL",
                "WORKSPACE_PROJECT_DIR")


class AppProcess:
    """One reference app (`apps/<name>/app.py`) running with `cwd` as its project, its
    stdout and stderr merged and collected by a reader thread."""

    def __init__(self, name: str, *, cwd: Path, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items()
                    if k not in _CLEARED_ENV and not k.startswith("WORKSPACE_")}
        full_env.update(env, PYTHONUNBUFFERED="1")
        self.name = name
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "apps" / name / "app.py")], cwd=cwd, env=full_env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for(self, text: str, timeout_s: float = 30.0) -> str:
        """The first output line containing `text`; fails when the app exits first or
        `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                found = next((line for line in self._lines if text in line), None)
            if found is not None:
                return found
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                if text in self.output:
                    return text
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before "
                                     f"printing {text!r}; output:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not print {text!r} within {timeout_s}s; "
                             f"output:\n{self.output}")

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def stop(self, grace_s: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after `grace_s`; the exit code (negative: killed)."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=grace_s)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.proc.pid, signum)  # its own session: the group is its pid
        except ProcessLookupError:
            pass


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
