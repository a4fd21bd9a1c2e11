"""`workspace stop`, and cleaning up after a launcher that died.

    stop(config, console)        # from any process: the launcher stops its apps, then
                                 # what it started; or the leftovers of a dead one
    cleanup_stale(config)        # with the run lock held: what a dead launcher left

Nothing recorded is trusted: a pid is signalled only while it is the process that
started at the recorded time, and a dependency only stopped when its backend says it is
the instance the dead launcher started (the embedded server's postmaster, a container),
not one started since, e.g. after a reboot.
"""

from __future__ import annotations

import os
import signal
import time

from workspace.config.models import Config
from workspace.deps import backend_for
from workspace.deps.ref import identity_of
from workspace.errors import AlreadyRunning
from workspace.output.console import Console
from workspace.run.launcher import stop_started
from workspace.run.state import RunLock, RunState, StateStore
from workspace.supervisor.identity import same_process
from workspace.waits import polling

__all__ = ["already_running", "cleanup_stale", "stop"]

_STATE_WAIT_S = 5.0  # a launcher writes its state right after taking the lock
_KILL_WAIT_S = 5.0


def stop(config: Config, console: Console, *, timeout_s: float | None = None) -> int:
    """Stop the running workspace, or clean up after one that died. Idempotent: 0 when
    nothing runs. AlreadyRunning when the launcher cannot be stopped."""
    lock = RunLock(config.state_dir)
    if lock.acquire():  # nobody runs: what is recorded was left by a launcher that died
        try:
            cleaned = cleanup_stale(config)
        finally:
            lock.release()
        _report(console, was_running=False, cleaned=cleaned)
        return 0
    state = _running_state(StateStore(config.state_dir))
    if state is None:
        raise AlreadyRunning("a workspace is starting (it holds the run lock) but records "
                             "no launcher yet", remedy="Run `workspace stop` again in a moment.")
    budget = timeout_s if timeout_s is not None else _stop_budget(config)
    if not console.json_mode:
        console.info(f"Stopping the workspace (pid {state.pid}, {state.mode})...")
    _signal(state, signal.SIGTERM)
    cleaned = ""
    if not lock.wait_released(budget):
        console.warn(f"the launcher (pid {state.pid}) did not stop within {budget:g}s: "
                     "killing it")
        _signal(state, signal.SIGKILL)
        if not lock.acquire(timeout_s=_KILL_WAIT_S):
            raise AlreadyRunning(f"the launcher (pid {state.pid}) is still running after "
                                 "SIGKILL", remedy="Look at that process (ps, /proc).")
        try:  # it died with its apps (PDEATHSIG, watchdog): what else did it leave?
            cleaned = cleanup_stale(config)
        finally:
            lock.release()
    _report(console, was_running=True, cleaned=cleaned)
    return 0


def _report(console: Console, *, was_running: bool, cleaned: str) -> None:
    if console.json_mode:
        console.json({"event": "stopped", "was_running": was_running, "cleaned": cleaned})
        return
    if cleaned:
        console.ok(f"Cleaned up after a workspace that did not stop cleanly: {cleaned}")
    if was_running:
        console.ok("Workspace stopped")
    elif not cleaned:
        console.ok("No workspace is running")


def _signal(state: RunState, sig: int) -> None:
    if same_process(state.pid, state.pid_started):
        try:
            os.kill(state.pid, sig)
        except ProcessLookupError:
            pass


def cleanup_stale(config: Config) -> str:
    """What a launcher that died left (call with the run lock held): its app groups still
    alive with their recorded start time are stopped, then what it started. Returns what
    was done, "" when nothing was recorded. The record is removed only once cleaned up."""
    from workspace.supervisor.groups import terminate_groups

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
    terminate_groups(groups, grace_s=config.supervisor.stop_grace_s)
    if groups:
        done.append(f"stopped {len(groups)} leftover app process group(s)")
    # each as its backend identified it once up (none recorded: it was not up yet);
    # one stopped since, or another one running now, is not the dead launcher's
    started = [ref for ref in state.started
               if (identity := identity_of(state.identities, ref)) is None
               or backend_for(config, ref).still_runs(identity)]
    stopped = stop_started(config, started)
    if stopped:
        done.append(f"stopped {', '.join(stopped)}")
    store.clear()
    return f"launcher pid {state.pid} ({state.mode}): " + ("; ".join(done) or "nothing was left")


def already_running(config: Config) -> AlreadyRunning:
    state = _running_state(StateStore(config.state_dir))
    who = (f"pid {state.pid}, {state.mode}, started "
           f"{time.strftime('%H:%M:%S', time.localtime(state.started_at))}" if state
           else "still starting")
    return AlreadyRunning(f"a workspace is already running for {config.project_dir} ({who})")


def _running_state(store: StateStore, timeout_s: float = _STATE_WAIT_S) -> RunState | None:
    """The record of the live launcher holding the lock, None if none shows up in time."""
    for _ in polling(timeout_s):
        state = store.read()
        if state is not None and state.alive():
            return state
    return None


def _stop_budget(config: Config) -> float:
    """How long a launcher may take to stop: the apps' grace, then the dependencies."""
    return config.supervisor.stop_grace_s + max(config.docker.stop_timeout_s,
                                                config.embedded.start_timeout_s) + 10
