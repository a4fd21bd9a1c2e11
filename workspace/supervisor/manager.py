"""Start the apps, watch them, stop them all (honcho's manager.py).

    manager = Manager(config.apps, project_dir=config.project_dir,
                      env={"DATABASE_URL": url}, supervisor=config.supervisor)
    return manager.run()   # 130 on SIGINT, 143 on SIGTERM, 0 after manager.stop()

Policy: apps start in dependency order, each once the apps in its `depends_on` are
ready. An app that exits is restarted when its policy says so (on-failure, non-zero
code, fewer than max_restarts so far, after a doubling backoff); any other exit, a
readiness probe that does not pass within ready_timeout_s, or a command that cannot
start stops every app and `run()` raises AppExited / AppNotReady / AppStartFailed,
naming the app, its exit code and its last lines.

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
from workspace.errors import (
    AppExited,
    AppNotReady,
    AppStartFailed,
    SupervisorError,
    WorkspaceError,
    describe_returncode,
)
from workspace.readiness import ReadinessTimeout, wait_until_ready
from workspace.runstate import AppState, Identity, process_started
from workspace.signals import signals_handled
from workspace.supervisor.groups import kill_after
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
    state: Literal["waiting", "starting", "ready", "restarting", "exited", "stopped"] = "waiting"
    restarts: int = 0
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
        self._env = {**os.environ, **(env or {})}
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
        self._restart_requests: queue.Queue[str] = queue.Queue()  # restart(): see below
        self._draining: dict[str, tuple[int, float, bool]] = {}  # app: (pgid, kill at, killed)

    def stop(self) -> None:
        """Ask `run()` to stop every app and return (0 unless a signal came first)."""
        self._stopping = True

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
                    self._restart_due()
                    self._start_due()
                    self._pump(_TICK_S)
                    self._check_dependencies()
            finally:
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
            waiting = app.state == "waiting" and all(
                self._apps[d].state == "ready" for d in app.config.depends_on)
            if app.name in self._draining:  # its previous process is still stopping
                continue
            if (waiting or (app.state == "restarting" and now >= app.due)) and not self._stopping:
                self._start(app)

    def _start(self, app: _App) -> None:
        cfg = app.config
        cwd = cfg.cwd if cfg.cwd.is_absolute() else self._project_dir / cfg.cwd
        log_dir = self._settings.log_dir
        log_dir = log_dir if log_dir.is_absolute() else self._project_dir / log_dir
        env = {**self._env, **({"PORT": str(cfg.port)} if cfg.port else {}), **cfg.env}
        pattern = re.compile(cfg.ready.log) if cfg.ready and cfg.ready.log else None
        proc = self._process_ctor(app.name, cfg.command, cwd=cwd, env=env,
                                  log_path=log_dir / f"{app.name}.log", events=self._events,
                                  ready_pattern=pattern)
        try:
            proc.start()
        except OSError as exc:
            self._fail(AppStartFailed(app.name, f"{shlex.join(cfg.command)} in {cwd}: "
                                                f"{exc.strerror or exc}"))
            return
        app.proc, app.state, app.started_at = proc, "starting", self._clock()
        app.since, app.pid_started = time.time(), process_started(proc.pid)
        self._groups.append(proc.pid)  # the child leads its group: pgid == pid
        if self._watchdog is not None:
            self._watchdog.add(proc.pid)
        self._printer.system(f"{app.name} started (pid {proc.pid}): {shlex.join(cfg.command)}")
        if cfg.ready is None:
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
        if event.type == "line":
            app.tail.append(event.text)
            self._printer.line(event.name, event.text, event.time)
        elif event.type == "ready" and current and app.state == "starting":
            self._ready(app)
        elif event.type == "unready" and current and not self._stopping:
            self._fail(AppNotReady(app.name, app.config.ready_timeout_s, event.text, app.tail))
        elif event.type == "exit":
            self._exited(app, event, current)

    def _ready(self, app: _App) -> None:
        app.state = "ready"
        url = app_url(app.config)
        took = self._clock() - app.started_at
        self._printer.system(f"{app.name} ready in {took:.1f}s" + (f": {url}" if url else ""))
        if self._on_ready is not None:
            self._on_ready(app.name, url)
        self._changed()

    def snapshot(self) -> list[AppState]:
        """Every app as `workspace status` shows it, in start order."""
        return [AppState(a.name, a.state, a.proc.pid if a.proc else None, a.pid_started,
                         a.config.port, app_url(a.config), a.restarts, a.since)
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
        app.state = "exited"
        cfg = app.config
        if cfg.restart == "on-failure" and event.returncode != 0 and app.restarts < cfg.max_restarts:
            kill_group(event.pid, signal.SIGKILL)  # leftovers would hold the port it needs
            self._groups.remove(event.pid)  # gone: its id may be reused by anyone
            if self._watchdog is not None:
                self._watchdog.remove(event.pid)
            app.restarts += 1
            delay = cfg.backoff(app.restarts)
            app.state, app.due = "restarting", self._clock() + delay
            self._printer.system(f"{app.name} exited ({how}); restart {app.restarts}/"
                                 f"{cfg.max_restarts} in {delay:g}s")
            self._changed()
            return
        self._changed()
        self._fail(AppExited(app.name, event.returncode, app.tail, restarts=app.restarts))

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

    # -- restart on request (helper `live`'s minimal version, to be reconciled with
    # helper `supervise`'s restart policies) ----------------------------------------------

    def restart(self, name: str) -> None:
        """Restart app `name` and the apps that depend on it: each gets its stop_signal
        (SIGKILL after its grace), then starts again once what it depends on is ready.
        Thread-safe: the loop does the work. KeyError for an unknown name."""
        if name not in self._apps:
            raise KeyError(name)
        self._restart_requests.put(name)

    def _restart_due(self) -> None:
        names: set[str] = set()
        while not self._restart_requests.empty():
            asked = self._restart_requests.get_nowait()  # only this thread takes from it
            names |= dependents({n: a.config for n, a in self._apps.items()}, asked)
        for name in (n for n in self._order if n in names and not self._stopping):
            app = self._apps[name]
            self._printer.system(f"{name}: restarting")
            if app.proc is not None and app.proc.returncode is None and name not in self._draining:
                cfg = app.config
                grace = (cfg.stop_grace_s if cfg.stop_grace_s is not None
                         else self._settings.stop_grace_s)
                kill_group(app.proc.pid, signal.Signals[cfg.stop_signal])
                self._draining[name] = (app.proc.pid, self._clock() + grace, False)
            app.proc, app.state = None, "waiting"  # its exit is then "stopped", not a failure
        if names:
            self._changed()
        for name, (pgid, kill_at, killed) in list(self._draining.items()):
            if not live_groups([pgid]):
                del self._draining[name]
                self._groups.remove(pgid)
                if self._watchdog is not None:
                    self._watchdog.remove(pgid)
            elif not killed and self._clock() >= kill_at:
                kill_group(pgid, signal.SIGKILL)
                self._draining[name] = (pgid, kill_at, True)

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
