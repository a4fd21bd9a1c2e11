"""Tests of the reference apps (apps/server, apps/admin), each run as a real subprocess.

    app = AppProcess("server", cwd=project, env={"DATABASE_URL": db_url, "PORT": "3002"})
    app.wait_for("API listening on port")
    get_json("http://127.0.0.1:3002/health")     # (200, {"status": "ok", ...})
    app.stop()                                   # SIGTERM, then SIGKILL; returns the exit code

This package's helpers rather than a conftest.py, so that both test modules share them.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.lines import LineProcess

# Never inherited by an app under test: the test sets what it needs.
_CLEARED_ENV = ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR", "PORT", "API_URL",
                "WORKSPACE_PROJECT_DIR", "REQUEST_TIMEOUT_S", "IDLE_TIMEOUT_S",
                "DB_MAX_CONNECTIONS")


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


def address(base: str) -> tuple[str, int]:
    """("127.0.0.1", 3002) of "http://127.0.0.1:3002"."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@dataclass
class Answer:
    """One client's outcome: the status (None when no answer came) and how long it took."""

    status: int | None
    elapsed_s: float
    error: str = ""


def burst(base: str, path: str, clients: int, *, timeout_s: float) -> list[Answer]:
    """`clients` threads, released together, each opening its own connection and sending
    `GET path`; every one's Answer, within about `timeout_s` in all."""
    host, port = address(base)
    barrier = threading.Barrier(clients)
    answers: list[Answer] = [Answer(None, timeout_s, "no answer") for _ in range(clients)]

    def one(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            barrier.wait(timeout_s)
            started = time.monotonic()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                answers[index] = Answer(resp.status, time.monotonic() - started)
            except (OSError, http.client.HTTPException) as exc:
                answers[index] = Answer(None, time.monotonic() - started, repr(exc))
        except threading.BrokenBarrierError:
            answers[index] = Answer(None, 0.0, "the clients were not released together")
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2 * timeout_s + 5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return answers


def summary(answers: list[Answer]) -> str:
    """For an assertion message: the statuses counted, the slowest, the first errors."""
    counts: dict[str, int] = {}
    for answer in answers:
        counts[str(answer.status)] = counts.get(str(answer.status), 0) + 1
    errors = sorted({a.error for a in answers if a.error})[:3]
    slowest = max(a.elapsed_s for a in answers)
    return f"statuses {counts}, slowest {slowest:.1f}s, errors {errors}"


def raw_exchange(base: str, data: bytes, *, shut_write: bool = False,
                 timeout_s: float = 15.0) -> tuple[int, dict[str, str], Any, float]:
    """Send `data` as is on a new connection (shutting our side when `shut_write`), read
    one response: (status, headers, decoded JSON body, seconds it took)."""
    started = time.monotonic()
    with socket.create_connection(address(base), timeout=timeout_s) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        return resp.status, dict(resp.headers), json.loads(body), time.monotonic() - started


def closed_within(sock: socket.socket, bound_s: float) -> float | None:
    """Seconds until the server closes `sock` (whatever it sends first is read and
    dropped), or None when it is still open after `bound_s`."""
    started = time.monotonic()
    sock.settimeout(bound_s)
    try:
        while sock.recv(65536):
            sock.settimeout(max(0.01, bound_s - (time.monotonic() - started)))
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started
