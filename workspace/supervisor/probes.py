"""Readiness probes for apps, in deps/readiness.py's shape: None when ready, else the reason."""

from __future__ import annotations

import threading

import httpx

from workspace import __version__
from workspace.apps_config import AppConfig, ReadyProbe
from workspace.deps.readiness import Probe, tcp_probe

__all__ = ["PROBE_HEADERS", "app_probe", "app_url", "http_probe"]

# Marks the launcher's own requests, so apps can leave them out of their access logs.
PROBE_HEADERS = {"User-Agent": f"workspace-probe/{__version__}"}


def http_probe(url: str, *, timeout_s: float = 1.0, client: httpx.Client | None = None) -> Probe:
    """Ready when `url` answers 2xx. Proxy variables are ignored: the app is local. Pass
    a `client` to poll with: making one costs ~20 ms (its TLS context)."""

    def probe() -> str | None:
        try:
            if client is not None:
                status = client.get(url, timeout=timeout_s, headers=PROBE_HEADERS).status_code
            else:
                with httpx.Client(trust_env=False, timeout=timeout_s) as own:
                    status = own.get(url, headers=PROBE_HEADERS).status_code
        except httpx.HTTPError as exc:
            return f"{url}: {type(exc).__name__}: {exc}"
        return None if 200 <= status < 300 else f"{url}: HTTP {status}"

    return probe


def app_probe(ready: ReadyProbe, matched: threading.Event,
              client: httpx.Client | None = None) -> Probe:
    """The probe `ready` describes; a log probe reads `matched`, which the process's
    reader sets when a line matches; an HTTP probe polls with `client` if given."""
    if ready.http is not None:
        return http_probe(ready.http, client=client)
    if ready.tcp is not None:
        return tcp_probe(ready.host, ready.tcp)
    pattern = ready.log

    def probe() -> str | None:
        return None if matched.is_set() else f"no output line matched /{pattern}/"

    return probe


def app_url(app: AppConfig) -> str | None:
    """Where to open the app: its port on localhost, else its HTTP probe's URL."""
    if app.port is not None:
        return f"http://localhost:{app.port}"
    return app.ready.http if app.ready is not None else None
