"""`workspace start`: the dependencies up and prechecked (launcher.py), then the apps
supervised (supervisor/manager.py), the run recorded all along (runstate.py).

    code = start(config, console)                 # foreground: until Ctrl-C or a failure
    code = start(config, console, detach=True)    # returns once every app is ready

One launcher per project: the run lock is taken first, a second `start` fails with
PRECHECK_WORKSPACE_RUNNING. State left by a launcher that died is cleaned up before
anything starts (stop.py). The run is recorded from the moment the lock is held, and
each dependency as soon as it was started, so `workspace stop` finds this launcher and a
crash at any point leaves a record of what to stop.

Whatever ends the run (Ctrl-C, SIGTERM, `workspace stop`, an app failing) the apps are
stopped first, then what this run started (the embedded server, our containers:
volumes kept). A dependency that was already running is left running.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workspace import redact
from workspace.config import Config
from workspace.console import Console
from workspace.deps import backend_for
from workspace.deps.ref import DOCKER_ZITADEL, EMBEDDED_POSTGRES, DepRef
from workspace.events import Steps
from workspace.launcher import UpResult, stop_started, up
from workspace.runstate import AppState, RunLock, RunState, StateStore, process_started
from workspace.signals import deferred, interruptible, signals_deferred
from workspace.stop import already_running, cleanup_stale
from workspace.supervisor.depwatch import DependencyWatch
from workspace.supervisor.printer import Printer

__all__ = ["app_env", "combined_log", "start", "supervise"]

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


def start(config: Config, console: Console, *, detach: bool = False,
          apps: Sequence[str] = (), profiles: Sequence[str] = ()) -> int:
    """`apps`, `profiles`: `workspace start [APP ...] [--profile NAME ...]`
    (app_selection.py); ConfigError for an unknown name, before anything starts."""
    from workspace.app_selection import select_apps

    config = config.model_copy(update={"apps": select_apps(config.apps, apps, profiles)})
    # Signals wait all along (signals.py), but where up() and the handoff to a detached
    # supervisor let them cut in: the lock and the record go together, and the teardown
    # is never cut short. One that waited is raised there, or handed to the supervisor;
    # one that comes once the run is over changes nothing.
    lock = RunLock(config.state_dir)
    with deferred(raise_at_end=False):
        if not lock.acquire():
            with interruptible():
                raise already_running(config)
        try:
            return _run(config, console, lock, detach=detach)
        finally:
            lock.release()


def _run(config: Config, console: Console, lock: RunLock, *, detach: bool) -> int:
    store = StateStore(config.state_dir)
    state: RunState | None = None  # ours, once written
    result: UpResult | None = None
    try:
        cleaned = cleanup_stale(config)  # what a dead launcher left: not cut half-way
        if cleaned:
            console.warn(f"A workspace that did not stop cleanly was cleaned up: {cleaned}")
        state = RunState.mine("detached" if detach else "foreground")
        store.write(state)
        run = state

        def started(progress: UpResult) -> None:
            with deferred():  # called where a signal raises: the record is written whole
                describe_run(run, progress, config)
                store.write(run)

        steps = Steps(console)
        if not console.json_mode:
            console.line("🔍 Validating configuration..." if console.fancy
                         else "Validating configuration...")
        result = up(config, steps, on_started=started, with_apps=True)  # interruptible inside
        if not console.json_mode:
            console.line("✅ All validations passed" if console.fancy
                         else "All validations passed")
        if not detach:
            return _foreground(config, result, console)
        from workspace.detach import spawn_supervisor

        code = spawn_supervisor(config, result, lock, console)  # interruptible inside
        if code != 0:  # stopped before it was ready: whatever it did not stop
            stop_started(config, result.started)
            store.clear()
        return code
    except BaseException as exc:
        if result is not None:  # what the apps' supervisor did not stop (or never ran)
            stop_started(config, result.started, during=exc)
            if state is not None:
                describe_run(state, result, config)
        if state is not None and state.started:  # could not be stopped: keep the record
            store.write(state)
        elif state is not None:  # ours, and nothing of this run is left
            store.clear()
        raise


def describe_run(state: RunState, result: UpResult, config: Config) -> None:
    """Copy what `up` found and started into the run's record."""
    state.backend, state.database = result.backend, redact.mask_url(result.database_url)
    state.oidc_issuer, state.started = result.oidc_issuer, list(result.started)
    state.migrations_applied = result.migrations_applied
    state.validation = ({"valid": True, "warnings": result.validation_warnings}
                        if result.validated else None)
    if EMBEDDED_POSTGRES in result.started:
        from workspace.deps import embedded_server

        pid = embedded_server(config).status().pid
        started_at = process_started(pid) if pid else None
        state.postmaster = [pid, started_at] if pid and started_at else None


def _foreground(config: Config, result: UpResult, console: Console) -> int:
    log_path = combined_log(config)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        printer = Printer(config.app_order, log=log,
                          out=sys.stderr if console.json_mode else sys.stdout)

        def all_ready(apps: list[AppState]) -> None:
            if console.json_mode:
                console.json({"event": "running", "apps": [asdict(a) for a in apps]})
                return
            for app in apps:
                if app.url:
                    console.ok(f"{app.name}: {app.url}")
            printer.system("all apps ready" if apps else "no apps configured: the "
                           "dependencies are up")
            printer.system("press Ctrl-C to stop")

        def announce(page: dict[str, Any]) -> None:
            if console.json_mode:
                console.json({"event": "page", "url": page["url"]})
            else:  # `key`, not `token`: redact would mask it, and it is here to be used
                console.ok(f"Workspace page: {page['url']}#key={page['token']}")

        code = supervise(config, result, mode="foreground", printer=printer,
                         on_all_ready=all_ready, announce=announce)
        if console.json_mode:
            console.json({"event": "stopped", "exit_code": code})
        return code


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
    describe_run(state, result, config)
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
    refs = [DepRef("postgres", result.backend)] if result.backend in ("embedded", "docker") \
        else []
    if DOCKER_ZITADEL in result.started:
        refs.append(DOCKER_ZITADEL)
    checks = {str(ref): backend_for(config, ref).check_alive for ref in refs}
    return DependencyWatch(checks, warn=warn, every_s=every_s,
                           call_timeout_s=config.docker.engine_timeout_s + 5.0)
