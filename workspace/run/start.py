"""`workspace start`: the dependencies up and prechecked (launcher.py), then the apps
supervised (supervisor/manager.py), the run recorded all along (state.py).

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

import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from workspace.config.models import Config
from workspace.output.console import Console
from workspace.output.events import Steps
from workspace.run.launcher import UpResult, stop_started, up
from workspace.run.session import combined_log, describe_run, supervise
from workspace.run.state import RunLock, RunState, StateStore
from workspace.run.stop import already_running, cleanup_stale
from workspace.signals import deferred, interruptible
from workspace.supervisor.printer import Printer
from workspace.supervisor.snapshot import AppState

__all__ = ["start"]

def start(config: Config, console: Console, *, detach: bool = False,
          apps: Sequence[str] = (), profiles: Sequence[str] = ()) -> int:
    """`apps`, `profiles`: `workspace start [APP ...] [--profile NAME ...]`
    (selection.py); ConfigError for an unknown name, before anything starts."""
    from workspace.run.selection import select_apps

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
                describe_run(run, progress)
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
        from workspace.run.detach import spawn_supervisor

        code = spawn_supervisor(config, result, lock, console)  # interruptible inside
        if code != 0:  # stopped before it was ready: whatever it did not stop
            stop_started(config, result.started)
            store.clear()
        return code
    except BaseException as exc:
        if result is not None:  # what the apps' supervisor did not stop (or never ran)
            stop_started(config, result.started, during=exc)
            if state is not None:
                describe_run(state, result)
        if state is not None and state.started:  # could not be stopped: keep the record
            store.write(state)
        elif state is not None:  # ours, and nothing of this run is left
            store.clear()
        raise


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


