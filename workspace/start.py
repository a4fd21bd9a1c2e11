"""`workspace start` and `workspace stop`: the dependencies up and prechecked (launcher.py),
then the apps supervised (supervisor/manager.py), with the run recorded (runstate.py).

    code = start(config, console)                 # foreground: until Ctrl-C or a failure
    code = start(config, console, detach=True)    # returns once every app is ready
    stop(config, console)                         # from any other process

One launcher per project: the run lock is taken first, a second `start` fails with
PRECHECK_WORKSPACE_RUNNING. State left by a launcher that died (the lock is free, the
state file is not) is cleaned up before anything starts: its leftover app groups are
stopped, then what it had started.

Whatever ends the run (Ctrl-C, SIGTERM, `workspace stop`, an app failing) the apps are
stopped first, then what this run started (the embedded server, our containers:
volumes kept). A dependency that was already running is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from workspace import redact
from workspace.config import Config
from workspace.console import Console
from workspace.errors import AlreadyRunning
from workspace.events import Steps
from workspace.launcher import UpResult, stop_started, up
from workspace.runstate import AppState, RunLock, RunState, StateStore, same_process
from workspace.supervisor.printer import Printer

__all__ = ["app_env", "cleanup_stale", "combined_log", "start", "stop", "supervise",
           "terminate_as_exit"]

OnReady = Callable[[list[AppState]], object]


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
    if config.oidc.client_id:
        env["OIDC_CLIENT_ID"] = config.oidc.client_id
    return env


def start(config: Config, console: Console, *, detach: bool = False) -> int:
    lock = RunLock(config.state_dir)
    if not lock.acquire():
        raise _already_running(config)
    store = StateStore(config.state_dir)
    try:
        with terminate_as_exit():  # the supervisor installs its own handlers on top
            cleaned = cleanup_stale(config)
            if cleaned:
                console.warn(f"A workspace that did not stop cleanly was cleaned up: {cleaned}")
            # recorded now, so that `workspace stop` finds this launcher while it prechecks
            store.write(RunState.mine("detached" if detach else "foreground"))
            steps = Steps(console)
            if not console.json_mode:
                console.line("🔍 Validating configuration..." if console.fancy
                             else "Validating configuration...")
            result = up(config, steps)
            if not console.json_mode:
                console.line("✅ All validations passed" if console.fancy
                             else "All validations passed")
            if detach:
                from workspace.detach import spawn_supervisor

                return spawn_supervisor(config, result, lock, console)
            return _foreground(config, result, console)
    except BaseException:
        store.clear()  # nothing runs any more (a detached supervisor clears its own)
        raise
    finally:
        lock.release()


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

        code = supervise(config, result, mode="foreground", printer=printer,
                         on_all_ready=all_ready)
        if console.json_mode:
            console.json({"event": "stopped", "exit_code": code})
        return code


def supervise(config: Config, result: UpResult, *, mode: str, printer: Printer,
              on_all_ready: OnReady) -> int:
    """Run the apps until stopped, then stop what `result` says this run started. The run
    is recorded in the state file all along. Returns 0, 130 or 143; raises the
    SupervisorError of an app that failed."""
    from workspace.supervisor.manager import Manager

    store = StateStore(config.state_dir)
    state = RunState.mine(mode)
    state.backend, state.database = result.backend, redact.mask_url(result.database_url)
    state.oidc_issuer, state.started = result.oidc_issuer, list(result.started)
    state.migrations_applied = result.migrations_applied
    state.validation = {"valid": True, "warnings": result.validation_warnings}
    announced = False

    def changed(apps: list[AppState]) -> None:
        nonlocal announced
        state.apps = {a.name: a for a in apps}
        if not announced and all(a.state == "ready" for a in apps):
            announced, state.phase = True, "running"
            store.write(state)
            on_all_ready(apps)
        store.write(state)

    manager = Manager(config.apps, project_dir=config.project_dir,
                      env=app_env(config, result), supervisor=config.supervisor,
                      printer=printer, on_change=changed)
    changed(manager.snapshot())  # no app yet: recorded as waiting (or all ready if none)
    try:
        return manager.run()
    finally:
        state.phase = "stopping"
        store.write(state)
        with _signals_ignored():  # a second signal must not cut the teardown short
            stopped = stop_started(config, result.started, during=sys.exc_info()[1])
        if stopped:
            printer.system(f"stopped {', '.join(stopped)}")
        store.clear()


def stop(config: Config, console: Console, *, timeout_s: float | None = None) -> int:
    """Stop the running workspace (its launcher stops the apps, then what it started),
    or clean up after one that died. Returns 0; idempotent."""
    lock = RunLock(config.state_dir)
    store = StateStore(config.state_dir)
    if not lock.held():
        cleaned = cleanup_stale(config)
        console.ok(f"Cleaned up after a workspace that did not stop cleanly: {cleaned}"
                   if cleaned else "No workspace is running")
        return 0
    state = _wait_for_state(store)
    if state is None:
        raise AlreadyRunning("a workspace holds the run lock but records no launcher",
                             remedy="Wait for it to finish starting, then stop it again.")
    budget = timeout_s if timeout_s is not None else _stop_budget(config)
    console.info(f"Stopping the workspace (pid {state.pid}, {state.mode})...")
    os.kill(state.pid, signal.SIGTERM)
    if not lock.wait_released(budget):
        console.warn(f"the launcher (pid {state.pid}) did not stop within {budget:g}s: "
                     "killing it")
        if same_process(state.pid, state.pid_started):
            os.kill(state.pid, signal.SIGKILL)
        lock.wait_released(5.0)
        cleaned = cleanup_stale(config)
        if cleaned:
            console.ok(f"Cleaned up: {cleaned}")
    console.ok("Workspace stopped")
    return 0


def cleanup_stale(config: Config) -> str:
    """State left by a launcher that is gone (the lock must be free): its app groups still
    alive with their recorded start time are stopped, then what it started. Returns
    what was done, "" when there was no such state."""
    from workspace.supervisor.process import kill_group, live_groups

    store = StateStore(config.state_dir)
    state = store.read()
    if state is None:
        if store.path.exists():
            store.clear()  # unreadable: nothing in it can be trusted
            return "an unreadable state file was removed"
        return ""
    done = []
    groups = [a.pid for a in state.apps.values()
              if a.pid is not None and same_process(a.pid, a.pid_started)]
    for pgid in groups:
        kill_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + config.supervisor.stop_grace_s
    while live_groups(groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pgid in live_groups(groups):
        kill_group(pgid, signal.SIGKILL)
    if groups:
        done.append(f"stopped {len(groups)} leftover app process group(s)")
    stopped = stop_started(config, state.started)
    if stopped:
        done.append(f"stopped {', '.join(stopped)}")
    store.clear()
    return f"launcher pid {state.pid} ({state.mode}): " + ("; ".join(done) or "nothing was left")


def _already_running(config: Config) -> AlreadyRunning:
    state = _wait_for_state(StateStore(config.state_dir))
    who = (f"pid {state.pid}, {state.mode}, started "
           f"{time.strftime('%H:%M:%S', time.localtime(state.started_at))}" if state
           else "still starting")
    return AlreadyRunning(f"a workspace is already running for {config.project_dir} ({who})")


def _wait_for_state(store: StateStore, timeout_s: float = 2.0) -> RunState | None:
    """The state of the launcher holding the lock: it writes it once up() is done, so a
    launcher still starting may have none yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = store.read()
        if (state is not None and state.alive()) or time.monotonic() >= deadline:
            return state
        time.sleep(0.05)


def _stop_budget(config: Config) -> float:
    """How long a launcher may take to stop: the apps' grace, then the dependencies."""
    return config.supervisor.stop_grace_s + max(config.docker.stop_timeout_s,
                                                config.embedded.start_timeout_s) + 10


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """SIGTERM (SIGHUP) raises SystemExit(143) (129) in here: the default would end the
    process at once, leaving what it started running; cleanup then runs as for Ctrl-C."""
    if sys.platform == "win32":
        yield
        return
    previous = {s: signal.signal(s, _raise_exit) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
