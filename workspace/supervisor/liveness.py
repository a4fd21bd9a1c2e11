"""Liveness: an app that was ready is probed every interval_s; `failures` failures in a
row are reported, and the manager kills the app (its restart policy decides the rest).

    watcher = Liveness("server", pid, probe_config, launch, events)
    threading.Thread(target=watcher.run, daemon=True).start()
    ...
    watcher.stop()   # the app exited or everything stops

Each verdict that changes something (the first success, each failure, a recovery) is a
"liveness" Event: text "" for a success, else the reason; returncode holds the failures
in a row. The thread ends after the last allowed failure, or when stopped.
"""

from __future__ import annotations

import http.client
import queue
import subprocess
import threading
from urllib.parse import urlsplit

from workspace.apps_config import LivenessProbe
from workspace.deps.readiness import Probe, tcp_probe
from workspace.supervisor.environment import Launch
from workspace.supervisor.probes import PROBE_HEADERS
from workspace.supervisor.process import Event

__all__ = ["Liveness", "command_probe", "http_status_probe"]


def http_status_probe(url: str, timeout_s: float) -> Probe:
    """Passes on a 2xx answer. The stdlib's http.client rather than httpx: a probe every
    few seconds for as long as the app runs, at under half httpx's CPU per request
    (benchmarks/bench_supervisor_idle.py). No proxy, as for every local probe."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"

    def probe() -> str | None:
        conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
        try:
            conn.request("GET", target, headers=PROBE_HEADERS)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return f"{url}: {type(exc).__name__}: {exc}"
        finally:
            conn.close()
        return None if 200 <= status < 300 else f"{url}: HTTP {status}"

    return probe


def command_probe(argv: list[str], launch: Launch, timeout_s: float) -> Probe:
    """Passes when `argv` exits 0 within timeout_s, run where and as the app runs."""

    def probe() -> str | None:
        try:
            done = subprocess.run(argv, cwd=launch.cwd, env=launch.env, timeout=timeout_s,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True,
                                  check=False)
        except subprocess.TimeoutExpired:
            return f"{argv[0]}: no answer within {timeout_s:g}s"
        except OSError as exc:
            return f"{argv[0]}: {exc.strerror or exc}"
        return None if done.returncode == 0 else f"{argv[0]}: exit code {done.returncode}"

    return probe


class Liveness:
    def __init__(self, name: str, pid: int, config: LivenessProbe, launch: Launch,
                 events: queue.Queue[Event]) -> None:
        self._name, self._pid, self._config = name, pid, config
        self._launch, self._events = launch, events
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        cfg = self._config
        if cfg.http is not None:
            probe = http_status_probe(cfg.http, cfg.timeout_s)
        elif cfg.tcp is not None:
            probe = tcp_probe(cfg.host, cfg.tcp, timeout_s=cfg.timeout_s)
        else:
            assert cfg.command is not None
            probe = command_probe(cfg.command, self._launch, cfg.timeout_s)
        failures, reported = 0, None
        while not self._stopped.wait(cfg.interval_s):
            reason = probe()
            if self._stopped.is_set():
                return
            failures = 0 if reason is None else failures + 1
            if reason is not None or reported != "":
                self._events.put(Event("liveness", self._name, self._pid, reason or "",
                                       failures))
                reported = reason or ""
            if failures >= cfg.failures:
                return
