"""Reaching the Docker engine through the docker SDK, and translating its errors once.

    client = connect(timeout_s=5)     # a client whose engine answered, or DockerUnavailable
    engine_problem()                  # None, or why no engine answers (for `auto`)
    with map_docker_errors("listing containers"):
        client.containers.list()

The engine is looked for where the docker CLI looks: DOCKER_HOST, else the current docker
context, else the default socket, so the SDK and `docker compose` talk to the same one.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from workspace.errors import DockerUnavailable
from workspace.output import redact

__all__ = ["DEFAULT_ENGINE", "connect", "docker", "engine_problem", "engine_url",
           "map_docker_errors", "reason"]

# The SDK ships no type information, and mypy would otherwise take the project's docker/
# folder (compose files, no __init__.py) for it, as a namespace package: bind it as Any.
docker: Any = importlib.import_module("docker")

DEFAULT_ENGINE = "unix:///var/run/docker.sock"


def engine_url() -> str:
    """DOCKER_HOST, else the current docker context's endpoint (Docker Desktop, colima,
    rootless), else the default socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    try:
        contexts = importlib.import_module("docker.context").ContextAPI
        context = contexts.get_context(os.environ.get("DOCKER_CONTEXT") or None)
        host = context.Host if context is not None else None
    except (docker.errors.DockerException, OSError, ValueError):
        host = None
    return str(host) if host else DEFAULT_ENGINE


def connect(timeout_s: float = 5.0) -> Any:
    """A docker SDK client whose engine has answered a ping, or DockerUnavailable saying
    where we looked and why nothing answered there."""
    url = engine_url()
    try:
        # Dial first: the SDK's constructor asks the engine its API version and, when
        # that fails, leaves its connection unclosed (a ResourceWarning).
        _dial(url, timeout_s)
        if os.environ.get("DOCKER_HOST"):  # from_env also honours DOCKER_TLS_VERIFY/CERT_PATH
            client = docker.from_env(timeout=timeout_s)
        else:
            client = docker.DockerClient(base_url=url, timeout=timeout_s)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise DockerUnavailable(f"no Docker engine answers at {url}: {reason(exc)}") from exc
    return client


def engine_problem(timeout_s: float = 3.0) -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        connect(timeout_s).close()
    except DockerUnavailable as exc:
        return exc.message
    return None


def _dial(url: str, timeout_s: float) -> None:
    """OSError when nothing accepts connections at a unix:// or tcp:// engine URL."""
    scheme, _, rest = url.partition("://")
    if scheme in ("unix", "http+unix"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout_s)
            sock.connect(rest)
    elif scheme in ("tcp", "http", "https"):
        parts = urlsplit(f"tcp://{rest}")
        with socket.create_connection((parts.hostname or "localhost", parts.port or 2375),
                                      timeout=timeout_s):
            pass


def reason(exc: BaseException) -> str:
    """What a user can act on, from an OSError or an SDK error (which wraps requests and
    urllib3 ones, keeping the OSError only in its text)."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or "FileNotFoundError" in text:
        return "no such socket (is Docker running?)"
    if isinstance(exc, PermissionError) or "PermissionError" in text:
        return "permission denied on the socket (is your user in the docker group?)"
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused (is Docker running?)"
    if isinstance(exc, TimeoutError) or "timed out" in text.lower():
        return "no answer in time"
    return redact.redact(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)


@contextlib.contextmanager
def map_docker_errors(action: str) -> Iterator[None]:
    """DockerUnavailable for any SDK error (or the OSError under it) inside the block."""
    try:
        yield
    except (docker.errors.DockerException, OSError) as exc:
        raise DockerUnavailable(f"{action} failed: {reason(exc)}") from exc
