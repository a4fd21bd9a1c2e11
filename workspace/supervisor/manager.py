"""Start the apps, watch them, stop them all (honcho's manager.py).

    manager = Manager(config.apps, project_dir=config.project_dir,
                      env={"DATABASE_URL": url}, supervisor=config.supervisor)
    return manager.run()   # 130 on SIGINT, 143 on SIGTERM, 0 after manager.stop()

Policy: apps start in dependency order, each once the apps in its `depends_on` are
ready (or, for `completed`, a task among them exited 0). An app that exits is restarted
when its policy says so (policy.py; after a doubling backoff); an exit it does not
restart stops every app (`on_exit: stop-all`, the default: `run()` raises AppExited,
naming the app, its exit code and its last lines) or only shows it as exited
(`keep-running`). A task that exits 0 is `completed`; one that fails for good raises
TaskFailed. A readiness probe that does not pass within ready_timeout_s, or a command
that cannot start stops every app too (AppNotReady / AppStartFailed). A ready app with
a `liveness` probe that fails `failures` times in a row is killed (its stop_signal, then
SIGKILL after its grace), and its exit follows its policy (AppUnhealthy when final).

`restart(name)` may be called from any thread: the loop stops that app (if it runs) and
starts it again once its dependencies are ready. When every app is a task and each
completed (`workspace start seed`), `run()` returns 0.

A `watch` callable, called every watch_every_s, raising a WorkspaceError (the database
died) stops everything the same way, and `run()` raises that error.

Stopping: SIGTERM to every app group in reverse start order, SIGKILL to whatever is
left after stop_grace_s; a second signal kills at once. A watchdog process does the
same if this process dies without stopping them (watchdog.py).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal

import httpx

from workspace.apps_config import AppConfig, SupervisorConfig, check_apps, dependents
from workspace.deps.readiness import ReadinessTimeout, wait_until_ready
from workspace.errors import (
    AppExited,
    AppNotReady,
    AppStartFailed,
    AppUnhealthy,
    ConfigError,
    SupervisorError,
    TaskFailed,
    WorkspaceError,
    describe_returncode,
)
from workspace.runstate import AppState, Identity, process_started
from workspace.signals import signals_handled
from workspace.supervisor.environment import Launch, app_launch, base_variables
from workspace.supervisor.groups import kill_after
from workspace.supervisor.liveness import Liveness
from workspace.supervisor.policy import should_restart
from workspace.supervisor.printer import Printer
from workspace.supervisor.probes import app_probe, app_url
from workspace.supervisor.process import Event, Process, kill_group, live_groups
from workspace.supervisor.watchdog import Watchdog
from workspace.waits import polling

__all__ = ["SIGNALS", "Manager"]

# SIGHUP: the terminal was closed; stop as cleanly as for Ctrl-C.
SIGNALS = {signal.SIGINT: ("SIGINT", 130), signal.SIGTERM: ("SIGTERM", 143),
           signal.SIGHUP: ("SIGHUP", 129)}
_TICK_S = 0.1
_SAME_SIGNAL_S = 0.25  # a second signal sooner than this is the first one again
_POLL_S = 0.05  # readiness probes: an app's dependants start this soon after it is ready
_REAP_WAIT_S = 5.0  # after SIGKILL: the kernel needs a moment, never more than this


class _Abandoned(Exception):
    """The probe is moot: the app exited or everything is stopping."""


@dataclass
class _App:
    name: str
    config: AppConfig
    tail: deque[str]
    proc: Process | None = None
    # running: a task under way; completed: a task that exited 0; exited: an exit the
    # policy did not restart under on_exit: keep-running; failed: one that stops all
    state: Literal["waiting", "starting", "ready", "running", "completed", "restarting",
                   "stopping", "exited", "failed", "stopped"] = "waiting"
    restarts: int = 0  # shown: every restart, asked for or by the policy
    policy_restarts: int = 0  # what the policy counts (max_restarts, backoff)
    health: str | None = None  # the liveness verdict: ok, or failing n/m: reason
    launch: Launch | None = None
    liveness: Liveness | None = None
    restart_asked: bool = False  # restart(name): its exit is not judged by the policy
    restart_open: bool = False  # restart(name) until ready again: more requests join it
    unhealthy: str | None = None  # killed by its liveness probe, for this reason
    due: float = 0.0  # when to start again, in "restarting"
    started_at: float = 0.0
    since: float = 0.0  # wall clock, for uptimes shown by `workspace status`
    pid_started: Identity | None = None


class Manager:
    def __init__(self, apps: Mapping[str, AppConfig], *, project_dir: Path,
                 env: Mapping[str, str] | None = None,
                 supervisor: SupervisorConfig | None = None, printer: Printer | None = None,
                 on_ready: Callable[[str, str | None], object] | None = None,
                 on_change: Callable[[list[AppState]], object] | None = None,
                 watch: Callable[[], object] | None = None, watch_every_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 process_ctor: Callable[..., Process] = Process, watchdog: bool = True) -> None:
        self._order = check_apps(apps)
        self._settings = supervisor or SupervisorConfig()
        self._apps = {n: _App(n, apps[n], deque(maxlen=self._settings.tail_lines))
                      for n in self._order}
        self._project_dir = project_dir
        self._injected = dict(env or {})
        self._variables = base_variables(project_dir, os.environ)
        self._printer = printer or Printer(self._order)
        self._on_ready = on_ready
        self._on_change = on_change
        self._watch, self._watch_every_s, self._watch_due = watch, watch_every_s, 0.0
        self._clock = clock
        self._process_ctor = process_ctor
        self._use_watchdog = watchdog
        self._watchdog: Watchdog | None = None
        self._events: queue.Queue[Event] = queue.Queue()
        self._groups: list[int] = []  # every group started, in start order
        self._exit_seen: set[int] = set()  # children whose exit event was handled
        self._stopping = False
        self._kill_now = False
        self._signalled_at = 0.0
        self._notes: list[str] = []  # written by the signal handler, printed by the loop
        self._failure: WorkspaceError | None = None
        self.returncode: int | None = None

    def stop(self) -> None:
        """Ask `run()` to stop every app and return (0 unless a signal came first)."""
        self._stopping = True

    def restart(self, name: str) -> None:
        """Restart app `name` and the apps depending on it: stop each (if it runs), then
        start it again once its dependencies are ready. Thread-safe; returns at once, the
        loop does it. ConfigError for an unknown name."""
        if name not in self._apps:
            raise ConfigError(f"no app named `{name}` runs in this workspace (apps: "
                              f"{', '.join(self._apps) or 'none'})")
        self._events.put(Event("restart", name, 0))

    def run(self, pending: list[int] | None = None) -> int:
        """Supervise until stopped; see the module docstring. Call from the main thread
        to handle SIGINT/SIGTERM, and from a thread living as long as the apps (PDEATHSIG).
        `pending`: signals that came before, handled as if they came now."""
        with signals_handled(self._on_signal, SIGNALS):
            for signum in pending or ():
                self._on_signal(signum, None)
            if self._use_watchdog:
                self._watchdog = Watchdog.start(grace_s=self._settings.stop_grace_s)
            try:
                while not self._stopping:
                    self._start_due()
                    self._pump(_TICK_S)
                    self._check_dependencies()
            finally:
                for app in self._apps.values():  # their probes are moot now
                    if app.liveness is not None:
                        app.liveness.stop()
                try:
                    self._shutdown()
                except BaseException:  # a second Ctrl-C as KeyboardInterrupt, a bug: no survivors
                    for pgid in self._groups:
                        kill_group(pgid, signal.SIGKILL)
                    raise
                if self._watchdog is not None:
                    self._watchdog.close()
        if self._failure is not None:
            raise self._failure
        return self.returncode or 0

    # -- signals ----------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only record and ask to stop: the loop does the work, between two events.
        name, code = SIGNALS[signal.Signals(signum)]
        now = time.monotonic()
        if self.returncode is not None and now - self._signalled_at < _SAME_SIGNAL_S:
            return  # the same Ctrl-C delivered twice (a wrapper such as `timeout` forwards it)
        if self.returncode is not None:
            self._kill_now = True
            self._notes.append(f"{name} received again: killing every app now")
            return
        self.returncode, self._signalled_at = code, now
        self._stopping = True
        self._notes.append(f"{name} received: stopping")

    # -- the loop ---------------------------------------------------------------------

    def _pump(self, timeout_s: float) -> None:
        """Handle the next event (waiting at most timeout_s), then whatever else is queued."""
        batch: list[Event] = []
        try:
            batch.append(self._events.get(timeout=timeout_s))
            while len(batch) < 1000:  # then timers and signals get a turn
                batch.append(self._events.get_nowait())
        except queue.Empty:
            pass
        for event in batch:
            self._handle(event)
        while self._notes:
            self._printer.system(self._notes.pop(0))

    def _start_due(self) -> None:
        now = self._clock()
        for app in self._apps.values():
            due = app.state == "waiting" or (app.state == "restarting" and now >= app.due)
            if due and not self._stopping and all(
                    self._apps[d].state == "completed" if how == "completed"
                    else self._apps[d].state in ("ready", "completed")
                    for d, how in app.config.depends_on.items()):
                self._start(app)

    def _start(self, app: _App) -> None:
        cfg = app.config
        try:
            launch = app.launch = app_launch(app.name, cfg, self._variables, self._injected,
                                             self._project_dir)
        except ConfigError as exc:
            self._fail(exc)
            return
        cwd = launch.cwd
        log_dir = self._settings.log_dir
        log_dir = log_dir if log_dir.is_absolute() else self._project_dir / log_dir
        pattern = re.compile(cfg.ready.log) if cfg.ready and cfg.ready.log else None
        proc = self._process_ctor(app.name, launch.argv, cwd=cwd, env=launch.env,
                                  log_path=log_dir / f"{app.name}.log", events=self._events,
                                  ready_pattern=pattern)
        try:
            proc.start()
        except OSError as exc:
            self._fail(AppStartFailed(app.name, f"{shlex.join(launch.argv)} in {cwd}: "
                                                f"{exc.strerror or exc}"))
            return
        app.proc, app.state, app.started_at = proc, "starting", self._clock()
        app.unhealthy, app.health = None, None
        app.since, app.pid_started = time.time(), process_started(proc.pid)
        self._groups.append(proc.pid)  # the child leads its group: pgid == pid
        if self._watchdog is not None:
            self._watchdog.add(proc.pid)
        self._printer.system(f"{app.name} started (pid {proc.pid}): {shlex.join(launch.argv)}")
        if cfg.kind == "task":  # it runs to completion: its exit is what counts
            app.state, app.restart_open = "running", False
            self._changed()
        elif cfg.ready is None:
            self._ready(app)
        else:
            self._changed()
            threading.Thread(target=self._probe, args=(app, proc), daemon=True,
                             name=f"probe-{app.name}").start()

    def _probe(self, app: _App, proc: Process) -> None:
        """In a thread: wait for readiness, report it as an event."""
        cfg = app.config
        assert cfg.ready is not None

        def alive() -> None:
            if self._stopping or proc.returncode is not None:
                raise _Abandoned

        try:
            http = httpx.Client(trust_env=False) if cfg.ready.http else contextlib.nullcontext()
            with http as client:
                wait_until_ready(app.name, app_probe(cfg.ready, proc.matched, client),
                                 attempts=1, interval_s=cfg.ready_timeout_s, poll_s=_POLL_S,
                                 error=ReadinessTimeout, alive=alive)
        except _Abandoned:
            return
        except ReadinessTimeout as exc:
            self._events.put(Event("unready", app.name, proc.pid, exc.last_reason))
            return
        self._events.put(Event("ready", app.name, proc.pid))

    def _handle(self, event: Event) -> None:
        app = self._apps[event.name]
        current = app.proc is not None and app.proc.pid == event.pid
        if event.type == "restart":  # the app and what depends on it (watch, the page)
            configs = {n: a.config for n, a in self._apps.items()}
            for name in (n for n in self._order if n in dependents(configs, app.name)):
                self._restart(self._apps[name], asked=name == app.name)
        elif event.type == "liveness" and current and app.state == "ready":
            self._liveness(app, event)
        elif event.type == "line":
            app.tail.append(event.text)
            self._printer.line(event.name, event.text, event.time)
        elif event.type == "ready" and current and app.state == "starting" \
                and not self._stopping:
            self._ready(app)
        elif event.type == "unready" and current and not self._stopping:
            self._fail(AppNotReady(app.name, app.config.ready_timeout_s, event.text, app.tail))
        elif event.type == "exit":
            self._exited(app, event, current)

    def _ready(self, app: _App) -> None:
        app.state, app.restart_open = "ready", False
        url = app_url(app.config)
        took = self._clock() - app.started_at
        self._printer.system(f"{app.name} ready in {took:.1f}s" + (f": {url}" if url else ""))
        probe = app.config.liveness
        if probe is not None and app.proc is not None and app.launch is not None:
            app.liveness = Liveness(app.name, app.proc.pid, probe, app.launch, self._events)
            threading.Thread(target=app.liveness.run, daemon=True,
                             name=f"liveness-{app.name}").start()
        if self._on_ready is not None:
            self._on_ready(app.name, url)
        self._changed()

    def _liveness(self, app: _App, event: Event) -> None:
        probe = app.config.liveness
        assert probe is not None and app.proc is not None
        failures = event.returncode or 0
        if not event.text:
            app.health = "ok"
        else:
            app.health = f"failing {failures}/{probe.failures}: {event.text}"
            self._printer.system(f"{app.name} liveness: {app.health}")
        if failures >= probe.failures:
            app.unhealthy = event.text
            self._printer.system(f"{app.name} is unhealthy: stopping it "
                                 f"({app.config.stop_signal})")
            self._terminate(app)
        self._changed()

    def _restart(self, app: _App, *, asked: bool) -> None:
        """restart(name): stop the app if it runs; it starts again once its dependencies
        are ready (_start_due). Asked again before it is ready, it is the same restart;
        restarted because a dependency is (`asked` false), it joins only a restart that
        has not started the new process yet: one started runs against the old dependency."""
        if self._stopping or (app.restart_open
                              and (asked or app.state in ("stopping", "waiting"))):
            return
        app.restart_open = True
        self._printer.system(f"{app.name}: restart asked")
        if app.state in ("starting", "ready", "running") and app.proc is not None:
            app.restart_asked = True
            app.state = "stopping"  # not ready: what depends on it waits for the new one
            self._terminate(app)
            self._changed()
            return
        app.state, app.due = "waiting", 0.0  # starts once what it depends on is ready
        self._changed()

    def _terminate(self, app: _App) -> None:
        """The app's stop_signal to its group; SIGKILL after its grace if it is still
        there (a hung app may ignore the signal)."""
        proc = app.proc
        assert proc is not None
        if app.liveness is not None:
            app.liveness.stop()
        kill_group(proc.pid, signal.Signals[app.config.stop_signal])
        grace = app.config.stop_grace_s
        timer = threading.Timer(self._settings.stop_grace_s if grace is None else grace,
                                lambda: proc.returncode is None and kill_group(
                                    proc.pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def snapshot(self) -> list[AppState]:
        """Every app as `workspace status` shows it, in start order."""
        return [AppState(a.name, a.state, a.proc.pid if a.proc else None, a.pid_started,
                         a.config.port, app_url(a.config), a.restarts, a.since,
                         health=a.health)
                for a in self._apps.values()]

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.snapshot())

    def _exited(self, app: _App, event: Event, current: bool) -> None:
        self._exit_seen.add(event.pid)
        how = describe_returncode(event.returncode)
        if not current or self._stopping:
            self._printer.system(f"{app.name} (pid {event.pid}) stopped ({how})")
            return
        if app.liveness is not None:
            app.liveness.stop()
        cfg = app.config
        app.restart_open = app.restart_asked  # else it ended before it was ready again
        if app.restart_asked:
            app.restart_asked = False
            self._forget(event.pid)
            app.restarts += 1
            app.state = "waiting"
            self._printer.system(f"{app.name} stopped ({how}); starting it again")
        elif cfg.kind == "task" and event.returncode == 0:
            self._forget(event.pid)
            app.state = "completed"
            took = self._clock() - app.started_at
            self._printer.system(f"{app.name} completed in {took:.1f}s")
            if all(a.state == "completed" for a in self._apps.values()):
                self._printer.system("every app was a task, and each completed")
                self._stopping = True  # nothing left to supervise: run() returns 0
        elif should_restart(cfg, returncode=event.returncode, restarts=app.policy_restarts):
            self._forget(event.pid)  # leftovers would hold the port it needs
            app.restarts += 1
            app.policy_restarts += 1
            delay = cfg.backoff(app.policy_restarts)
            app.state, app.due = "restarting", self._clock() + delay
            why = f"unhealthy: {app.unhealthy}" if app.unhealthy else how
            self._printer.system(f"{app.name} exited ({why}); restart {app.policy_restarts}/"
                                 f"{cfg.max_restarts} in {delay:g}s")
        elif cfg.kind == "service" and cfg.on_exit == "keep-running":
            self._forget(event.pid)
            app.state = "exited"
            self._printer.system(f"{app.name} exited ({how}); the other apps keep running "
                                 "(on_exit: keep-running)")
        else:
            app.state = "failed"
            self._changed()
            if cfg.kind == "task":
                self._fail(TaskFailed(app.name, event.returncode, app.tail,
                                      restarts=app.restarts))
            elif app.unhealthy is not None:
                self._fail(AppUnhealthy(app.name, app.unhealthy, app.tail,
                                        restarts=app.restarts))
            else:
                self._fail(AppExited(app.name, event.returncode, app.tail,
                                     restarts=app.restarts))
            return
        self._changed()

    def _forget(self, pid: int) -> None:
        """The app's group is done with: what it left is killed, and its id (free for
        anyone to reuse) is no longer ours to signal."""
        kill_group(pid, signal.SIGKILL)
        if pid in self._groups:
            self._groups.remove(pid)
        if self._watchdog is not None:
            self._watchdog.remove(pid)

    def _check_dependencies(self) -> None:
        """Every watch_every_s: `watch` raises a WorkspaceError when a dependency the apps
        need is gone (the database died): then everything stops with it."""
        if self._watch is None or self._stopping or self._clock() < self._watch_due:
            return
        self._watch_due = self._clock() + self._watch_every_s
        try:
            self._watch()
        except WorkspaceError as exc:
            self._fail(exc)

    def _fail(self, error: WorkspaceError) -> None:
        if self._failure is None:
            self._failure = error
            what = (f"{error.app} failed" if isinstance(error, SupervisorError)
                    else error.message.splitlines()[0])
            self._printer.system(f"{error.code}: {what}: stopping")
        self._stopping = True

    # -- shutdown ---------------------------------------------------------------------

    def _shutdown(self) -> None:
        self._stopping = True
        while self._notes:  # a signal that ended the run before any event was pumped
            self._printer.system(self._notes.pop(0))
        if not self._groups:
            return
        kill_after(self._stop_groups(), clock=self._clock, wait=self._pump,  # bounded
                   abandon=lambda: self._kill_now,
                   on_kill=lambda late: self._printer.system(
                       "killing what is left (SIGKILL): "
                       + ", ".join(self._group_name(g) for g in sorted(late))))
        if self._kill_now:
            for pgid in reversed(self._groups):
                kill_group(pgid, signal.SIGKILL)
        for _ in polling(_REAP_WAIT_S, clock=self._clock, sleep=self._pump):
            if not self._alive():
                break
        self._pump(0)  # the last lines and exits already queued
        if self._watchdog is not None:
            for pgid in set(self._groups) - live_groups(self._groups):
                self._watchdog.remove(pgid)
        for app in self._apps.values():
            app.state = "stopped" if app.proc is not None else app.state
        self._changed()

    def _stop_groups(self) -> dict[int, float]:
        """Each app's stop_signal to its group, the last started first; returns when each
        group gets SIGKILL (its stop_grace_s, else the supervisor's)."""
        by_group = {app.proc.pid: app.config for app in self._apps.values() if app.proc}
        deadlines: dict[int, float] = {}
        how = set()
        for pgid in reversed(self._groups):
            cfg = by_group.get(pgid)
            sig = signal.Signals[cfg.stop_signal] if cfg else signal.SIGTERM
            grace = (cfg.stop_grace_s if cfg and cfg.stop_grace_s is not None
                     else self._settings.stop_grace_s)
            how.add(f"{sig.name}, SIGKILL after {grace:g}s")
            kill_group(pgid, sig)
            deadlines[pgid] = self._clock() + grace
        self._printer.system(f"stopping apps ({'; '.join(sorted(how))})")
        return deadlines

    def _group_name(self, pgid: int) -> str:
        return next((a.name for a in self._apps.values() if a.proc and a.proc.pid == pgid),
                    f"group {pgid}")

    def _alive(self) -> bool:
        """Until every child's exit is handled (so its last lines are printed) and no
        group has a running member left (workers the app started)."""
        if any(pid not in self._exit_seen for pid in self._groups):
            return True
        return bool(live_groups(self._groups))
