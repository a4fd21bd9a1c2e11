"""What `workspace status` shows (and the admin app): the launcher, the dependencies, the
apps, each checked now rather than read on trust from the state file.

    report = collect(config)   # a JSON-able dict
    report["apps"][0]          # {"name": "server", "state": "ready", "health": "ok", ...}

A recorded app whose process is no longer the one recorded (its pid gone or reused) is
shown as `gone`; health is one probe per app (HTTP or TCP, one second at most), else
`unknown`.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.deps.ref import DOCKER_ZITADEL
from workspace.runstate import AppState, RunLock, RunState, StateStore, same_process

if TYPE_CHECKING:
    from workspace.config import Config

__all__ = ["collect"]

_PROBE_TIMEOUT_S = 1.0


def collect(config: Config) -> dict[str, Any]:
    state = StateStore(config.state_dir).read()
    running = state is not None and RunLock(config.state_dir).held() and state.alive()
    now = time.time()
    run = state if running else None
    return {
        "running": running,
        "project_dir": str(config.project_dir),
        "mode": run.mode if run else None,
        "pid": run.pid if run else None,
        "phase": run.phase if run else None,
        "uptime_s": round(now - run.started_at, 1) if run else None,
        "dependencies": _dependencies(config, run),
        "migrations_applied_by_start": run.migrations_applied if run else 0,
        "validation": run.validation if run else None,
        "apps": [_app(config, name, run.apps.get(name) if run else None, now)
                 for name in config.app_order],
        "page": run.page["url"] if run and run.page else None,  # its token: the state file
    }


def _dependencies(config: Config, run: RunState | None) -> list[dict[str, Any]]:
    if run is not None:
        postgres = {"name": "postgres", "backend": run.backend,
                    "state": _server_state(run.database), "address": run.database,
                    "started_by_workspace": any(r.service == "postgres" for r in run.started)}
        zitadel = "docker" if DOCKER_ZITADEL in run.started else (
            "external" if run.oidc_issuer else "skip")
        issuer = run.oidc_issuer
    else:
        postgres = _postgres_at_rest(config)
        issuer = config.oidc.issuer
        zitadel = "external" if issuer else "skip"
    return [postgres, {"name": "zitadel", "backend": zitadel,
                       "state": _issuer_state(issuer) if issuer else "skipped",
                       "address": issuer or ""}]


def _postgres_at_rest(config: Config) -> dict[str, Any]:
    """No workspace runs: a configured URL is probed, else the embedded server (which
    may outlive the apps, as after `workspace up`) is asked. Containers are `docker
    compose ps`'s to report."""
    from workspace import redact

    if config.database.url is not None:
        url = config.database.url.get_secret_value()
        return {"name": "postgres", "backend": "external", "state": _server_state(url),
                "address": redact.mask_url(url), "started_by_workspace": False}
    from workspace.deps import embedded_server

    status = embedded_server(config).status()
    return {"name": "postgres", "backend": "embedded",
            "state": "running" if status.running else "stopped",
            "address": status.url or "", "started_by_workspace": status.running}


def _server_state(url: str) -> str:
    """Whether any of the database URL's hosts accepts a connection: a TCP host on its
    port, a socket directory (`?host=/path`) on its `.s.PGSQL.<port>` socket."""
    from workspace.deps.readiness import tcp_probe

    for host, port in _addresses(url):
        if host.startswith("/"):
            reason = _socket_probe(Path(host) / f".s.PGSQL.{port}")
        else:
            reason = tcp_probe(host, port, timeout_s=_PROBE_TIMEOUT_S)()
        if reason is None:
            return "running"
    return "unreachable"


def _addresses(url: str) -> list[tuple[str, int]]:
    """Every (host, port) of a URL or key/value string, masked or not, as libpq reads
    it (hosts and ports comma-separated, one port for all or one each; no host: the
    local socket directory); none when libpq cannot read it."""
    import psycopg  # only when a database is to be probed: the import is slow
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return []
    hosts = str(params.get("hostaddr") or params.get("host") or "/var/run/postgresql")
    ports = str(params.get("port") or "").split(",")
    found = []
    for i, host in enumerate(hosts.split(",")):
        port = ports[i] if len(ports) > 1 and i < len(ports) else ports[0]
        number = int(port) if port.isascii() and port.isdigit() else 5432 if not port else 0
        if 1 <= number <= 65535:  # else libpq refuses it too: nothing to probe there
            found.append((host or "/var/run/postgresql", number))
    return found


def _socket_probe(path: Path) -> str | None:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(_PROBE_TIMEOUT_S)
            sock.connect(str(path))
            return None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"


def _issuer_state(issuer: str) -> str:
    from workspace.supervisor.probes import http_probe

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return "ready" if http_probe(url, timeout_s=_PROBE_TIMEOUT_S)() is None else "unreachable"


def _app(config: Config, name: str, recorded: AppState | None, now: float) -> dict[str, Any]:
    app = config.apps[name]
    shown: dict[str, Any] = {"name": name, "state": "stopped", "pid": None, "port": app.port,
                             "url": None, "health": "unknown", "uptime_s": None, "restarts": 0,
                             "liveness": None, "kind": app.kind}
    if recorded is None:
        return shown
    alive = same_process(recorded.pid, recorded.pid_started)
    shown.update(state=recorded.state, pid=recorded.pid, url=recorded.url,
                 restarts=recorded.restarts, liveness=recorded.health)
    if recorded.pid is not None and not alive and recorded.state in ("starting", "ready", "running",
                                                                    "stopping"):
        shown["state"] = "gone"
    if alive:
        shown["uptime_s"] = round(now - recorded.since, 1)
        shown["health"] = _health(config, name)
    return shown


def _health(config: Config, name: str) -> str:
    from workspace.deps.readiness import tcp_probe
    from workspace.supervisor.probes import http_probe

    app = config.apps[name]
    ready = app.ready
    if ready is not None and ready.http is not None:
        probe = http_probe(ready.http, timeout_s=_PROBE_TIMEOUT_S)
    elif ready is not None and ready.tcp is not None:
        probe = tcp_probe(ready.host, ready.tcp, timeout_s=_PROBE_TIMEOUT_S)
    elif app.port is not None:  # a log probe: whether its port answers
        probe = tcp_probe("127.0.0.1", app.port, timeout_s=_PROBE_TIMEOUT_S)
    else:
        return "unknown"
    reason = probe()
    return "ok" if reason is None else f"failing: {reason}"
