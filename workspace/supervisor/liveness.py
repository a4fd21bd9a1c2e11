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

import queue
import subprocess
import threading

import httpx

from workspace.apps_config import LivenessProbe
from workspace.readiness import Probe, tcp_probe
from workspace.supervisor.environment import Launch
from workspace.supervisor.probes import http_probe
from workspace.supervisor.process import Event

__all__ = ["Liveness", "command_probe"]


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
        with httpx.Client(trust_env=False) as client:
            if cfg.http is not None:
                probe = http_probe(cfg.http, timeout_s=cfg.timeout_s, client=client)
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
