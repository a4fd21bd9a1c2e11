"""The live side of a running workspace, started and stopped by `session.supervise`: the
page (server.py), the database jobs (database.py), the file watch (supervisor/watch.py).

    live = LiveSession(config, result, printer)
    page = live.start(manager)    # {"url", "port", "token"} for the state file, or None
    ...
    live.apps_changed(manager.snapshot())
    live.stop()

A change under an app's `watch:` paths restarts it and the apps depending on it
(`Manager.restart`); one in the migrations directory applies it live. Health is probed
only while someone looks at the page (a stream open or the state read in the last
HEALTH_VIEWED_S), so an unwatched launcher stays idle.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.config.models import Config
from workspace.deps.ref import DOCKER_ZITADEL
from workspace.errors import PortInUse
from workspace.output import redact
from workspace.page.database import LiveDatabase
from workspace.page.server import PageServer
from workspace.page.state import LiveState
from workspace.supervisor.printer import Printer
from workspace.supervisor.snapshot import AppState
from workspace.supervisor.watch import MIGRATIONS, Watcher, watch_rules

if TYPE_CHECKING:
    import httpx

    from workspace.run.launcher import UpResult
    from workspace.supervisor.manager import Manager

__all__ = ["LiveSession"]

HEALTH_EVERY_S = 5.0
_PROBE_TIMEOUT_S = 1.0


class LiveSession:
    def __init__(self, config: Config, result: UpResult, printer: Printer) -> None:
        self._config = config
        self._result = result
        self._printer = printer
        self.live = LiveState(config.app_order)
        self.db = LiveDatabase(config, result.database_url, self.live, say=printer.system)
        self.page: PageServer | None = None
        self.watcher: Watcher | None = None
        self._manager: Manager | None = None
        self._health: dict[str, str] = {}
        self._apps: list[AppState] = []
        printer.listen(self.live.line)

    def start(self, manager: Manager) -> dict[str, Any] | None:
        """Everything up; returns the page's address and token (None: no page)."""
        self._manager = manager
        self.live.update(launcher={"pid": os.getpid(), "started_at": time.time(),
                                   "project": str(self._config.project_dir)},
                         dependencies=self._dependencies())
        self.db.start()
        self.db.submit("migrations")
        if self._result.validated:
            self.live.update(validation={"valid": True, "at": time.time(), "error": None,
                                         "errors": [], "warnings": self._result.validation_warnings,
                                         "recommendations": []})
        rules = watch_rules(self._config)
        if rules:
            self.watcher = Watcher(self._config.project_dir, rules, self._changed,
                                   state_dir=self._config.state_dir)
            self.watcher.start()
            for path in self.watcher.skipped:
                self._printer.system(f"watch: {path} does not exist: not watched")
        if not self._config.page.enabled:
            return None
        port = self._config.page.port
        try:
            self.page = PageServer(self.live, {"restart": self._restart,
                                               "validate": self._job("validate"),
                                               "fix": self._job("fix")}, port=port)
        except OSError as exc:
            from workspace.deps.ports import port_holder

            raise PortInUse("127.0.0.1", port or 0, port_holder("127.0.0.1", port or 0)
                            or "another process", setting="page.port") from exc
        self.page.start()
        threading.Thread(target=self._probe_health, name="page-health", daemon=True).start()
        self.live.update(launcher={**self.live.get("launcher"), "page": self.page.url})
        return {"url": self.page.url, "port": self.page.port, "token": self.page.token}

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.page is not None:
            self.page.stop()
        self.live.close()
        self.db.stop()

    def apps_changed(self, apps: list[AppState]) -> None:
        self._apps = apps
        self._publish()

    def _publish(self) -> None:
        self.live.update(apps=[{**asdict(a), "health": a.health or (  # liveness's verdict first
            self._health.get(a.name, "unknown") if a.state == "ready" else "-")}
            for a in self._apps])

    # -- actions ----------------------------------------------------------------------

    def _restart(self, name: str | None) -> str | None:
        if name is None or name not in self._config.apps or self._manager is None:
            return f"no app named {name!r} (apps: {', '.join(self._config.apps) or 'none'})"
        self._printer.system(f"{name}: restart asked for (page)")
        self._manager.restart(name)
        return None

    def _job(self, job: str) -> Any:
        def submit(argument: str | None) -> str | None:
            self.db.submit(job)
            return None

        return submit

    def _changed(self, name: str, paths: list[Path]) -> None:
        shown = ", ".join(_relative(p, self._config.project_dir) for p in paths[:3])
        more = f" (+{len(paths) - 3})" if len(paths) > 3 else ""
        if name == MIGRATIONS:
            self._printer.system(f"migrations changed: {shown}{more}: applying live")
            self.db.submit("migrate")
        elif self._manager is not None:
            self._printer.system(f"{name}: {shown}{more} changed: restarting")
            self._manager.restart(name)

    def _dependencies(self) -> list[dict[str, Any]]:
        deps = [{"name": "postgres", "backend": self._result.backend, "state": "running",
                 "address": redact.mask_url(self._result.database_url)}]
        if self._result.oidc_issuer:
            backend = "docker" if DOCKER_ZITADEL in self._result.started else "external"
            deps.append({"name": "zitadel", "backend": backend, "state": "running",
                         "address": self._result.oidc_issuer})
        return deps

    def _probe_health(self) -> None:
        import httpx

        client: httpx.Client | None = None  # one, kept: making one costs ~20 ms of CPU
        try:
            while not self.live.closing.wait(HEALTH_EVERY_S):
                if self.page is None or not self.page.viewed_within(HEALTH_EVERY_S * 2):
                    continue
                client = client or httpx.Client(trust_env=False, timeout=_PROBE_TIMEOUT_S)
                health = {a.name: _health(self._config, a.name, client) for a in self._apps
                          if a.state == "ready"}
                if health != self._health:
                    self._health = health
                    self._publish()
        finally:
            if client is not None:
                client.close()


def _relative(path: Path, project: Path) -> str:
    try:
        return path.relative_to(project.resolve()).as_posix()
    except ValueError:
        return str(path)


def _health(config: Config, name: str, client: httpx.Client) -> str:
    """The app's readiness probe now (its port when it has a log probe)."""
    from workspace.deps.readiness import tcp_probe
    from workspace.supervisor.probes import http_probe

    app = config.apps[name]
    ready = app.ready
    if ready is not None and ready.http is not None:
        probe = http_probe(ready.http, timeout_s=_PROBE_TIMEOUT_S, client=client)
    elif ready is not None and ready.tcp is not None:
        probe = tcp_probe(ready.host, ready.tcp, timeout_s=_PROBE_TIMEOUT_S)
    elif app.port is not None:
        probe = tcp_probe("127.0.0.1", app.port, timeout_s=_PROBE_TIMEOUT_S)
    else:
        return "unknown"
    reason = probe()
    return "ok" if reason is None else f"failing: {reason}"
