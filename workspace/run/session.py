"""The apps supervised for a run whose dependencies are up: the foreground `workspace
start` (start.py) and the detached supervisor (detach.py) both call `supervise`, so
neither imports the other for it.

    code = supervise(config, result, mode="foreground", printer=printer,
                     on_all_ready=all_ready, announce=announce)

It records the run in the state file all along, runs the live page and the file watch
alongside (page/session.py), watches the dependencies from a thread (depwatch.py), and
stops what `up` started once the apps are stopped. `app_env` is what every app is told;
`combined_log` where every app's lines go.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workspace.config.models import Config
from workspace.deps import backend_for
from workspace.deps.ref import DOCKER_ZITADEL, DepRef
from workspace.output import redact
from workspace.run.launcher import UpResult, stop_started
from workspace.run.state import RunState, StateStore
from workspace.signals import signals_deferred
from workspace.supervisor.depwatch import DependencyWatch
from workspace.supervisor.printer import Printer
from workspace.supervisor.snapshot import AppState

__all__ = ["app_env", "combined_log", "describe_run", "supervise"]

OnReady = Callable[[list[AppState]], object]
_WATCH_READ_S = 0.2  # how often the loop reads the dependency watch's verdict (cheap)


def combined_log(config: Config) -> Path:
    """Every app's lines, prefixed, and the launcher's own: what `workspace logs` shows."""
    return config.path(config.supervisor.log_dir) / "workspace.log"


def app_env(config: Config, result: UpResult) -> dict[str, str]:
    """What the launcher tells every app: where the database and the OIDC issuer are.
    The launcher's interpreter comes first on PATH, so `python` in a command is the one
    workspace runs with (as `uv run` does)."""
    env = {"DATABASE_URL": result.database_url,
           "WORKSPACE_PROJECT_DIR": str(config.project_dir),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                    os.environ.get("PATH", os.defpath)])}
    if result.oidc_issuer:
        env["OIDC_ISSUER"] = result.oidc_issuer
    client_id = result.oidc_client_id or config.oidc.client_id
    if client_id:
        env["OIDC_CLIENT_ID"] = client_id
    return env


def describe_run(state: RunState, result: UpResult) -> None:
    """Copy what `up` found and started into the run's record."""
    state.backend, state.database = result.backend, redact.mask_url(result.database_url)
    state.oidc_issuer, state.started = result.oidc_issuer, list(result.started)
    state.identities = [i for i in result.identities if i.ref in result.started]
    state.migrations_applied = result.migrations_applied
    state.validation = ({"valid": True, "warnings": result.validation_warnings}
                        if result.validated else None)


def supervise(config: Config, result: UpResult, *, mode: str, printer: Printer,
              on_all_ready: OnReady,
              announce: Callable[[dict[str, Any]], object] | None = None) -> int:
    """Run the apps until stopped, then stop what `result` says this run started. The run
    is recorded in the state file all along. Returns 0, 129, 130 or 143; raises the
    SupervisorError of an app that failed. The live page and the file watch run
    alongside (page/session.py); `announce(page)` shows the page's address and token."""
    from workspace.page.session import LiveSession
    from workspace.supervisor.manager import Manager

    store = StateStore(config.state_dir)
    state = RunState.mine(mode)
    describe_run(state, result)
    announced = False

    live = LiveSession(config, result, printer)

    def changed(apps: list[AppState]) -> None:
        nonlocal announced
        live.apps_changed(apps)
        state.apps = {a.name: a for a in apps}
        # settled: ready, a task completed, or an exit that leaves the others running
        if not announced and all(a.state in ("ready", "completed", "exited") for a in apps):
            announced, state.phase = True, "running"
            store.write(state)
            on_all_ready(apps)
        store.write(state)

    watch = _dependency_watch(config, result, warn=printer.system)
    manager = Manager(config.apps, project_dir=config.project_dir,
                      env=app_env(config, result), supervisor=config.supervisor,
                      printer=printer, on_change=changed, watch=watch,
                      watch_every_s=_WATCH_READ_S)
    # Deferred around the run: one that comes before the manager handles signals is
    # handed to it; one that comes after (the manager restores this) cannot cut the
    # teardown short.
    with signals_deferred() as pending, watch:
        try:
            state.page = live.start(manager)
            if state.page is not None and announce is not None:
                announce(state.page)
            elif state.page is not None:  # detached: the log is no place for the token
                printer.system(f"workspace page: {state.page['url']} (token in "
                               ".workspace/run/state.json)")
            changed(manager.snapshot())  # no app yet: waiting (or all ready if none)
            return manager.run(pending=pending)
        finally:
            live.stop()
            state.phase = "stopping"
            store.write(state)
            stopped = stop_started(config, result.started, during=sys.exc_info()[1])
            if stopped:
                printer.system(f"stopped {', '.join(stopped)}")
            if result.started:  # could not be stopped: recorded for `workspace stop`
                state.started, state.phase = list(result.started), "stopped"
                store.write(state)
            else:
                store.clear()


def _dependency_watch(config: Config, result: UpResult, *, warn: Callable[[str], object],
                      every_s: float = 2.0) -> DependencyWatch:
    """What the apps must not run without: the database and Zitadel, when they are ours
    (an external server's outage shows in the apps' health instead), watched from a
    thread: a failed poll (a Docker API hiccup) is retried, only an exit ends the run."""
    refs = [DepRef("postgres", result.backend)] if result.backend else []
    if DOCKER_ZITADEL in result.started:
        refs.append(DOCKER_ZITADEL)
    backends = {ref: backend_for(config, ref) for ref in refs}
    checks = {str(ref): backend.check_alive for ref, backend in backends.items() if backend.ours}
    return DependencyWatch(checks, warn=warn, every_s=every_s,
                           call_timeout_s=config.docker.engine_timeout_s + 5.0)
