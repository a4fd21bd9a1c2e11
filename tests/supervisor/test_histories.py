"""The manager driven by scripted histories (honcho's HISTORIES table): each history
gives the apps' config, what each start of each app does and when, and what happens
from outside (a stop, a restart, Ctrl-C, a dependency that dies); it expects every line
printed and every signal sent, each at its time on the fake clock, and the run's exit
code. No process, no thread, no sleep: the manager's seams get a World, whose fake event
queue lets fake time pass (to the next scripted step) instead of blocking.

A line of `said` reads `<time> <text>` for the supervisor's own lines,
`<time> <app> | <text>` for an app's output, and `<time> -> <app> <SIGNAL>` for a
signal reaching an app's group.
"""

from __future__ import annotations

import functools
import heapq
import io
import itertools
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workspace.config.apps import AppConfig, SupervisorConfig
from workspace.errors import DependencyExited, WorkspaceError
from workspace.supervisor.manager import Manager
from workspace.supervisor.printer import Printer
from workspace.supervisor.process import Event

_HISTORY_BOUND_MS = 600_000  # fake time: a history still running after this never ends

Step = tuple[float, str, Any]  # (seconds after the start, kind, value)


def line(at: float, text: str) -> Step:
    return (at, "line", text)


def exits(at: float, code: int) -> Step:
    return (at, "exit", code)


def ready(at: float) -> Step:
    """The app's readiness probe passes (the probe thread's verdict, scripted)."""
    return (at, "ready", None)


def unready(at: float, reason: str) -> Step:
    """Its readiness probe gave up (ready_timeout_s is over), for `reason`."""
    return (at, "unready", reason)


def liveness(at: float, failures: int, reason: str = "") -> Step:
    """A liveness verdict: `failures` in a row ("" and 0: it passes)."""
    return (at, "liveness", (failures, reason))


@dataclass(frozen=True)
class Start:
    """What one start of an app does."""

    steps: tuple[Step, ...] = ()
    ignores: frozenset[int] = frozenset()  # signals it ignores (never SIGKILL)
    stop_s: float = 0.0  # how long it takes to exit after a signal it heeds
    workers: bool = False  # its group outlives it (workers it started) until SIGKILL
    missing: bool = False  # its command cannot be started


def start(*steps: Step, **kwargs: Any) -> Start:
    return Start(tuple(steps), **kwargs)


Action = Callable[[Manager], object]


def stop(manager: Manager) -> None:
    manager.stop()


def restart(name: str) -> Action:
    return lambda manager: manager.restart(name)


def send(sig: signal.Signals) -> Action:
    """A real signal to this process: the one the run installed handles it."""
    return lambda manager: signal.raise_signal(sig)


@dataclass(frozen=True)
class History:
    apps: dict[str, dict[str, Any]]  # as in workspace.yaml's `apps:`
    starts: dict[str, list[Start]]  # each app's starts, in order
    said: list[str]
    exit: int  # the command's exit code: run()'s return, or its error's exit code
    error: str | None = None  # the error's code, when it raises one
    message: str | None = None  # and its message (checked when given)
    states: list[list[str]] | None = None  # each app's state at each change (when given)
    actions: tuple[tuple[float, Action], ...] = ()  # (fake time, what happens)
    dependency_dies_at: float | None = None  # the watch raises DependencyExited from then
    grace_s: float = 5.0  # supervisor.stop_grace_s


class World:
    """One history's fake clock, fake event queue and fake processes and groups."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.ms = 0  # whole milliseconds: sums of fake time stay exact
        self._timeline: list[tuple[int, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._pids = itertools.count(101)
        self.said: list[str] = []
        self.procs: dict[int, FakeProcess] = {}
        self.left = {name: list(starts) for name, starts in history.starts.items()}
        self.events = FakeEvents(self)

    def clock(self) -> float:
        return self.ms / 1000

    def at(self, delay_s: float, action: Callable[[], object]) -> None:
        heapq.heappush(self._timeline, (self.ms + round(delay_s * 1000), next(self._order),
                                        action))

    def say(self, text: str) -> None:
        self.said.append(f"{self.clock():g} {text}")

    def pass_time(self, timeout_s: float) -> None:
        """Time passes, running what the history scripted meanwhile, until something is
        queued for the manager or timeout_s is over (a blocking get on a real queue)."""
        end = self.ms + round(timeout_s * 1000)
        while self._timeline and self._timeline[0][0] <= end:
            when, _, action = heapq.heappop(self._timeline)
            self.ms = max(self.ms, when)
            action()
            if not self.events.empty():
                return
        self.ms = end
        if self.ms > _HISTORY_BOUND_MS:
            raise AssertionError(f"the run did not end; said so far: {self.said}")

    # -- the manager's seams --

    def process(self, name: str, command: list[str], *, events: queue.Queue[Event],
                **_: Any) -> FakeProcess:
        assert events is self.events
        if not self.left.get(name):
            raise AssertionError(f"{name} started once more than the history says: "
                                 f"{self.said}")
        proc = FakeProcess(self, name, next(self._pids), self.left[name].pop(0))
        self.procs[proc.pid] = proc
        return proc

    def kill(self, pgid: int, sig: int) -> bool:
        proc = self.procs.get(pgid)
        return proc is not None and proc.signal(sig)

    def live(self, pgids: Iterable[int]) -> set[int]:
        return {g for g in pgids if g in self.procs and self.procs[g].group_alive}

    def spawn(self, name: str, target: Callable[[], object]) -> None:
        """The probe threads: not run; their verdicts are scripted steps."""
        assert name.startswith(("probe-", "liveness-")), name

    def watch(self) -> None:
        dies_at = self.history.dependency_dies_at
        if dies_at is not None and self.clock() >= dies_at:
            raise DependencyExited("container workspace-postgres-1 exited with code 137")


class FakeEvents(queue.Queue[Event]):
    """The manager's event queue: waiting on it lets fake time pass instead."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self._world = world

    def get(self, block: bool = True, timeout: float | None = None) -> Event:
        if block and self.empty():
            assert timeout is not None, "the loop never waits without a bound"
            self._world.pass_time(timeout)
        return super().get(block=False)


class FakeProcess:
    """One start of an app, playing its script; it heeds a signal unless it ignores it."""

    def __init__(self, world: World, name: str, pid: int, script: Start) -> None:
        self._world, self.name, self.pid, self._script = world, name, pid, script
        self.matched = threading.Event()
        self.returncode: int | None = None
        self.group_alive = False

    def start(self) -> None:
        if self._script.missing:
            raise FileNotFoundError(2, "No such file or directory")
        self.group_alive = True
        for at, kind, value in self._script.steps:
            self._world.at(at, functools.partial(self._step, kind, value))

    def _put(self, kind: Any, text: str = "", returncode: int | None = None) -> None:
        self._world.events.put(Event(kind, self.name, self.pid, text, returncode))

    def _step(self, kind: str, value: Any) -> None:
        if self.returncode is not None:
            return  # stopped before it got there
        if kind == "exit":
            self._exit(value)
        elif kind == "liveness":
            self._put("liveness", value[1], value[0])
        else:
            self._put(kind, value or "")

    def _exit(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self.group_alive = self._script.workers
            self._put("exit", returncode=code)

    def signal(self, sig: int) -> bool:
        if not self.group_alive:
            return False
        if sig == 0:
            return True
        self._world.say(f"-> {self.name} {signal.Signals(sig).name}")
        if sig == signal.SIGKILL:
            self.group_alive = False
            self._exit(-sig)
        elif sig not in self._script.ignores:
            self._world.at(self._script.stop_s, lambda: self._exit(-sig))
        return True


class Transcript(io.StringIO):
    """The printer's output: each line with its fake time instead of the wall clock's."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self._world = world

    def write(self, text: str) -> int:
        for printed in text.splitlines():
            name, said = printed[len("HH:MM:SS "):].split(" | ", 1)
            name = name.strip()
            self._world.say(said if name == "workspace" else f"{name} | {said}")
        return len(text)


@dataclass
class Played:
    world: World
    manager: Manager
    exit: int
    error: WorkspaceError | None = None
    states: list[list[str]] = field(default_factory=list)  # each app's state, at each change


def play(history: History) -> Played:
    world = World(history)
    states: list[list[str]] = []
    apps = {name: AppConfig.model_validate(app) for name, app in history.apps.items()}
    manager = Manager(apps, project_dir=Path("/nonexistent"),
                      supervisor=SupervisorConfig(stop_grace_s=history.grace_s),
                      printer=Printer(list(apps), out=Transcript(world), colour=False),
                      watch=world.watch, watch_every_s=1.0, clock=world.clock,
                      process_ctor=world.process, watchdog=False, events=world.events,
                      kill=world.kill, live=world.live, spawn=world.spawn,
                      on_change=lambda apps: states.append([a.state for a in apps]))
    for when, action in history.actions:
        world.at(when, functools.partial(action, manager))
    try:
        return Played(world, manager, manager.run(), states=states)
    except WorkspaceError as exc:
        return Played(world, manager, exc.exit_code, exc, states)


UP = {"ready": {"log": "up"}}  # ready once its probe says so (a scripted `ready` step)


HISTORIES: dict[str, History] = {
    "a service exiting 1 under `no` stops every app": History(
        apps={"db": {"command": "db", **UP}, "api": {"command": "api", "depends_on": ["db"]}},
        starts={"db": [start(line(0.2, "db up"), ready(0.2))],
                "api": [start(line(1, "boom"), exits(1, 1))]},
        said=[
            '0 db started (pid 101): db',
            '0.2 db | db up',
            '0.2 db ready in 0.2s',
            '0.2 api started (pid 102): api',
            '0.2 api ready in 0.0s',
            '1.2 api | boom',
            '1.2 PRECHECK_APP_EXITED: api failed: stopping',
            '1.2 -> db SIGTERM',
            '1.2 stopping apps (SIGTERM, SIGKILL after 5s)',
            '1.2 db (pid 101) stopped (killed by SIGTERM)'],
        exit=21, error="PRECHECK_APP_EXITED"),
    "a service exiting 0 under `no` stops every app too": History(
        apps={"db": {"command": "db"},  # `restart: no` in YAML reads as false
              "api": {"command": "api", "depends_on": ["db"], "restart": False}},
        starts={"db": [start()], "api": [start(exits(1, 0))]},
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 api started (pid 102): api',
            '0 api ready in 0.0s',
            '1 PRECHECK_APP_EXITED: api failed: stopping',
            '1 -> db SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 5s)',
            '1 db (pid 101) stopped (killed by SIGTERM)'],
        exit=21, error="PRECHECK_APP_EXITED"),
    "on-failure does not restart an exit 0": History(
        apps={"api": {"command": "api", "restart": "on-failure"}},
        starts={"api": [start(exits(1, 0))]},
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 PRECHECK_APP_EXITED: api failed: stopping',
            '1 stopping apps (SIGTERM, SIGKILL after 5s)'],
        exit=21, error="PRECHECK_APP_EXITED"),
    "on-failure restarts with a doubling backoff, capped, until max_restarts": History(
        apps={"api": {"command": "api", "restart": "on-failure", "backoff_s": 1,
                      "backoff_max_s": 5, "max_restarts": 4}},
        starts={"api": [start(line(0.5, f"crash {n}"), exits(0.5, 3)) for n in range(5)]},
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '0.5 api | crash 0',
            '0.5 api exited (exit code 3); restart 1/4 in 1s',
            '1.5 api started (pid 102): api',
            '1.5 api ready in 0.0s',
            '2 api | crash 1',
            '2 api exited (exit code 3); restart 2/4 in 2s',
            '4 api started (pid 103): api',
            '4 api ready in 0.0s',
            '4.5 api | crash 2',
            '4.5 api exited (exit code 3); restart 3/4 in 4s',
            '8.5 api started (pid 104): api',
            '8.5 api ready in 0.0s',
            '9 api | crash 3',
            '9 api exited (exit code 3); restart 4/4 in 5s',
            '14 api started (pid 105): api',
            '14 api ready in 0.0s',
            '14.5 api | crash 4',
            '14.5 PRECHECK_APP_EXITED: api failed: stopping',
            '14.5 stopping apps (SIGTERM, SIGKILL after 5s)'],
        exit=21, error="PRECHECK_APP_EXITED",
        message="app `api` exited (exit code 3) after 4 restarts; last lines:\n  api | crash 0"
                "\n  api | crash 1\n  api | crash 2\n  api | crash 3\n  api | crash 4"),
    "on-failure: an app that recovers keeps running": History(
        apps={"api": {"command": "api", "restart": "on-failure", **UP}},
        starts={"api": [start(exits(0.3, 1)), start(ready(0.4))]},
        actions=((5, stop),),
        said=[
            '0 api started (pid 101): api',
            '0.3 api exited (exit code 1); restart 1/5 in 1s',
            '1.3 api started (pid 102): api',
            '1.7 api ready in 0.4s',
            '5 -> api SIGTERM',
            '5 stopping apps (SIGTERM, SIGKILL after 5s)',
            '5 api (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "always restarts a clean exit, up to max_restarts": History(
        apps={"api": {"command": "api", "restart": "always", "backoff_s": 0.5,
                      "max_restarts": 1}},
        starts={"api": [start(exits(1, 0)), start(exits(1, 0))]},
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 api exited (exit code 0); restart 1/1 in 0.5s',
            '1.5 api started (pid 102): api',
            '1.5 api ready in 0.0s',
            '2.5 PRECHECK_APP_EXITED: api failed: stopping',
            '2.5 stopping apps (SIGTERM, SIGKILL after 5s)'],
        exit=21, error="PRECHECK_APP_EXITED"),
    "unless-stopped restarts clean exits; keep-running then leaves it exited": History(
        apps={"api": {"command": "api", "restart": "unless-stopped", "backoff_s": 1,
                      "max_restarts": 1, "on_exit": "keep-running"},
              "web": {"command": "web"}},
        starts={"api": [start(exits(1, 0)), start(exits(1, 0))], "web": [start()]},
        actions=((10, stop),),
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '0 web started (pid 102): web',
            '0 web ready in 0.0s',
            '1 api exited (exit code 0); restart 1/1 in 1s',
            '2 api started (pid 103): api',
            '2 api ready in 0.0s',
            '3 api exited (exit code 0); the other apps keep running (on_exit: keep-running)',
            '10 -> web SIGTERM',
            '10 stopping apps (SIGTERM, SIGKILL after 5s)',
            '10 web (pid 102) stopped (killed by SIGTERM)'],
        exit=0,
        states=[["ready", "waiting"], ["ready", "ready"], ["restarting", "ready"],
                ["ready", "ready"], ["exited", "ready"], ["stopped", "stopped"]]),
    "keep-running: the others keep running until stopped": History(
        apps={"db": {"command": "db", **UP},
              "job": {"command": "job", "on_exit": "keep-running", "depends_on": ["db"]}},
        starts={"db": [start(ready(0.5))], "job": [start(line(1, "failing"), exits(1, 3))]},
        actions=((4, stop),),
        said=[
            '0 db started (pid 101): db',
            '0.5 db ready in 0.5s',
            '0.5 job started (pid 102): job',
            '0.5 job ready in 0.0s',
            '1.5 job | failing',
            '1.5 job exited (exit code 3); the other apps keep running (on_exit: keep-running)',
            '4 -> db SIGTERM',
            '4 stopping apps (SIGTERM, SIGKILL after 5s)',
            '4 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "max_restarts is counted per app": History(
        apps={"a": {"command": "a", "restart": "on-failure", "max_restarts": 1, "backoff_s": 1},
              "b": {"command": "b", "restart": "on-failure", "max_restarts": 1, "backoff_s": 1}},
        starts={"a": [start(exits(1, 1)), start()],
                "b": [start(exits(3, 1)), start()]},
        actions=((8, stop),),
        said=[
            '0 a started (pid 101): a',
            '0 a ready in 0.0s',
            '0 b started (pid 102): b',
            '0 b ready in 0.0s',
            '1 a exited (exit code 1); restart 1/1 in 1s',
            '2 a started (pid 103): a',
            '2 a ready in 0.0s',
            '3 b exited (exit code 1); restart 1/1 in 1s',
            '4 b started (pid 104): b',
            '4 b ready in 0.0s',
            '8 -> b SIGTERM',
            '8 -> a SIGTERM',
            '8 stopping apps (SIGTERM, SIGKILL after 5s)',
            '8 b (pid 104) stopped (killed by SIGTERM)',
            '8 a (pid 103) stopped (killed by SIGTERM)'],
        exit=0),
    "a dependency exiting under stop-all stops the others, last started first": History(
        apps={"db": {"command": "db", **UP},
              "api": {"command": "api", "depends_on": ["db"], **UP},
              "web": {"command": "web", "depends_on": ["api"], "stop_signal": "SIGINT"}},
        starts={"db": [start(ready(0.1), line(2, "fatal: out of memory"), exits(2, 137))],
                "api": [start(ready(0.2), stop_s=0.5)], "web": [start(stop_s=0.1)]},
        said=[
            '0 db started (pid 101): db',
            '0.1 db ready in 0.1s',
            '0.1 api started (pid 102): api',
            '0.3 api ready in 0.2s',
            '0.3 web started (pid 103): web',
            '0.3 web ready in 0.0s',
            '2 db | fatal: out of memory',
            '2 PRECHECK_APP_EXITED: db failed: stopping',
            '2 -> web SIGINT',
            '2 -> api SIGTERM',
            '2 stopping apps (SIGINT, SIGKILL after 5s; SIGTERM, SIGKILL after 5s)',
            '2.1 web (pid 103) stopped (killed by SIGINT)',
            '2.5 api (pid 102) stopped (killed by SIGTERM)'],
        exit=21, error="PRECHECK_APP_EXITED"),
    "a dependency exiting under keep-running before it is ready": History(
        apps={"db": {"command": "db", "on_exit": "keep-running", **UP},
              "api": {"command": "api", "depends_on": ["db"]}},
        starts={"db": [start(line(0.5, "bad config"), exits(0.5, 2)), start(ready(0.5))],
                "api": [start()]},
        actions=((3, restart("db")), (5, stop)),
        said=[
            '0 db started (pid 101): db',
            '0.5 db | bad config',
            '0.5 db exited (exit code 2); the other apps keep running (on_exit: keep-running)',
            '0.5 api waits for db, which exited: it starts once db is ready again '
            '(`workspace restart db`)',
            '3 db: restart asked',
            '3 api: restart asked',
            '3 db started (pid 102): db',
            '3.5 db ready in 0.5s',
            '3.5 api started (pid 103): api',
            '3.5 api ready in 0.0s',
            '5 -> api SIGTERM',
            '5 -> db SIGTERM',
            '5 stopping apps (SIGTERM, SIGKILL after 5s)',
            '5 api (pid 103) stopped (killed by SIGTERM)',
            '5 db (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "a dependant due to restart waits for a dependency that exited under keep-running": History(
        apps={"db": {"command": "db", "on_exit": "keep-running"},
              "api": {"command": "api", "depends_on": ["db"], "restart": "on-failure",
                      "backoff_s": 1}},
        starts={"db": [start(exits(1, 2))], "api": [start(exits(1.5, 1))]},
        actions=((5, stop),),
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 api started (pid 102): api',
            '0 api ready in 0.0s',
            '1 db exited (exit code 2); the other apps keep running (on_exit: keep-running)',
            '1.5 api exited (exit code 1); restart 1/5 in 1s',
            '2.5 api waits for db, which exited: it starts once db is ready again '
            '(`workspace restart db`)'],
        exit=0),
    "readiness gates the dependants; start order follows depends_on": History(
        apps={"web": {"command": "web", "depends_on": ["api"]},
              "api": {"command": "api", "depends_on": ["db"], **UP},
              "db": {"command": "db", **UP}},
        starts={"db": [start(line(1.5, "up"), ready(1.5))], "api": [start(ready(0.7))],
                "web": [start()]},
        actions=((3, stop),),
        said=[
            '0 db started (pid 101): db',
            '1.5 db | up',
            '1.5 db ready in 1.5s',
            '1.5 api started (pid 102): api',
            '2.2 api ready in 0.7s',
            '2.2 web started (pid 103): web',
            '2.2 web ready in 0.0s',
            '3 -> web SIGTERM',
            '3 -> api SIGTERM',
            '3 -> db SIGTERM',
            '3 stopping apps (SIGTERM, SIGKILL after 5s)',
            '3 web (pid 103) stopped (killed by SIGTERM)',
            '3 api (pid 102) stopped (killed by SIGTERM)',
            '3 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "an app not ready within its bound stops every app": History(
        apps={"db": {"command": "db"},
              "api": {"command": "api", "ready_timeout_s": 2, **UP}},
        starts={"db": [start()], "api": [start(line(0.1, "starting"),
                                                unready(2, "no line matched `up`"))]},
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 api started (pid 102): api',
            '0.1 api | starting',
            '2 PRECHECK_APP_NOT_READY: api failed: stopping',
            '2 -> api SIGTERM',
            '2 -> db SIGTERM',
            '2 stopping apps (SIGTERM, SIGKILL after 5s)',
            '2 api (pid 102) stopped (killed by SIGTERM)',
            '2 db (pid 101) stopped (killed by SIGTERM)'],
        exit=22, error="PRECHECK_APP_NOT_READY",
        message="app `api` not ready after 2s (last reason: no line matched `up`); last lines:"
                "\n  api | starting"),
    "a command that cannot start stops the others": History(
        apps={"db": {"command": "db"}, "api": {"command": "no-such-cmd", "depends_on": ["db"]}},
        starts={"db": [start()], "api": [start(missing=True)]},
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 PRECHECK_APP_START_FAILED: api failed: stopping',
            '0.1 -> db SIGTERM',
            '0.1 stopping apps (SIGTERM, SIGKILL after 5s)',
            '0.1 db (pid 101) stopped (killed by SIGTERM)'],
        exit=20, error="PRECHECK_APP_START_FAILED",
        message="app `api` could not start: no-such-cmd in /nonexistent: No such file or "
                "directory; it printed nothing"),
    "liveness failures kill the app; its policy restarts it": History(
        apps={"api": {"command": "api", "restart": "on-failure", **UP,
                      "liveness": {"http": "http://127.0.0.1:9/health", "failures": 2}}},
        starts={"api": [start(ready(0.5), liveness(3, 0), liveness(6, 1, "HTTP 503"),
                              liveness(9, 2, "HTTP 503")),
                        start(ready(0.5), liveness(3, 0))]},
        actions=((15, stop),),
        said=[
            '0 api started (pid 101): api',
            '0.5 api ready in 0.5s',
            '6 api liveness: failing 1/2: HTTP 503',
            '9 api liveness: failing 2/2: HTTP 503',
            '9 api is unhealthy: stopping it (SIGTERM)',
            '9 -> api SIGTERM',
            '9 api exited (unhealthy: HTTP 503); restart 1/5 in 1s',
            '10 api started (pid 102): api',
            '10.5 api ready in 0.5s',
            '15 -> api SIGTERM',
            '15 stopping apps (SIGTERM, SIGKILL after 5s)',
            '15 api (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "liveness failures with no restart stop every app": History(
        apps={"api": {"command": "api", **UP,
                      "liveness": {"tcp": 9, "failures": 1}}},
        starts={"api": [start(ready(0.5), liveness(3, 1, "connection refused"))]},
        said=[
            '0 api started (pid 101): api',
            '0.5 api ready in 0.5s',
            '3 api liveness: failing 1/1: connection refused',
            '3 api is unhealthy: stopping it (SIGTERM)',
            '3 -> api SIGTERM',
            '3 PRECHECK_APP_UNHEALTHY: api failed: stopping',
            '3 stopping apps (SIGTERM, SIGKILL after 5s)'],
        exit=37, error="PRECHECK_APP_UNHEALTHY",
        message="app `api` failed its liveness probe and was killed (last reason: connection "
                "refused); it printed nothing"),
    "a hung app ignoring its stop signal gets SIGKILL after its grace": History(
        apps={"api": {"command": "api", "restart": "always", "stop_grace_s": 2, **UP,
                      "liveness": {"tcp": 9, "failures": 1}}},
        starts={"api": [start(ready(0.5), liveness(3, 1, "timed out"),
                              ignores=frozenset({signal.SIGTERM})),
                        start()]},
        actions=((10, stop),),
        said=[
            '0 api started (pid 101): api',
            '0.5 api ready in 0.5s',
            '3 api liveness: failing 1/1: timed out',
            '3 api is unhealthy: stopping it (SIGTERM)',
            '3 -> api SIGTERM',
            '5 -> api SIGKILL',
            '5 api exited (unhealthy: timed out); restart 1/5 in 1s',
            '6 api started (pid 102): api',
            '10 -> api SIGTERM',
            '10 stopping apps (SIGTERM, SIGKILL after 2s)',
            '10 api (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "Ctrl-C during a restart backoff: nothing starts again": History(
        apps={"api": {"command": "api", "restart": "on-failure", "backoff_s": 10}},
        starts={"api": [start(exits(1, 1))]},
        actions=((4, send(signal.SIGINT)),),
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 api exited (exit code 1); restart 1/5 in 10s',
            '4 SIGINT received: stopping'],
        exit=130),
    "stop() during a restart backoff: nothing starts again": History(
        apps={"db": {"command": "db"},
              "api": {"command": "api", "restart": "on-failure", "backoff_s": 10}},
        starts={"db": [start()], "api": [start(exits(1, 1))]},
        actions=((4, stop),),
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 api started (pid 102): api',
            '0 api ready in 0.0s',
            '1 api exited (exit code 1); restart 1/5 in 10s',
            '4 -> db SIGTERM',
            '4 stopping apps (SIGTERM, SIGKILL after 5s)',
            '4 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "SIGTERM stops every app, each with its own signal, last started first": History(
        apps={"db": {"command": "db", **UP},
              "api": {"command": "api", "depends_on": ["db"], "stop_signal": "SIGINT"},
              "web": {"command": "web", "depends_on": ["api"]}},
        starts={"db": [start(ready(0.5), stop_s=1)], "api": [start(stop_s=0.3)],
                "web": [start()]},
        actions=((2, send(signal.SIGTERM)),),
        said=[
            '0 db started (pid 101): db',
            '0.5 db ready in 0.5s',
            '0.5 api started (pid 102): api',
            '0.5 api ready in 0.0s',
            '0.5 web started (pid 103): web',
            '0.5 web ready in 0.0s',
            '2 SIGTERM received: stopping',
            '2 -> web SIGTERM',
            '2 -> api SIGINT',
            '2 -> db SIGTERM',
            '2 stopping apps (SIGINT, SIGKILL after 5s; SIGTERM, SIGKILL after 5s)',
            '2 web (pid 103) stopped (killed by SIGTERM)',
            '2.3 api (pid 102) stopped (killed by SIGINT)',
            '3 db (pid 101) stopped (killed by SIGTERM)'],
        exit=143),
    "an app ignoring SIGTERM at shutdown is killed after the grace": History(
        apps={"stubborn": {"command": "s"}, "brief": {"command": "b", "stop_grace_s": 1}},
        starts={"stubborn": [start(ignores=frozenset({signal.SIGTERM}))],
                "brief": [start(ignores=frozenset({signal.SIGTERM}))]},
        actions=((1, stop),),
        grace_s=3,
        said=[
            '0 stubborn started (pid 101): s',
            '0 stubborn ready in 0.0s',
            '0 brief started (pid 102): b',
            '0 brief ready in 0.0s',
            '1 -> brief SIGTERM',
            '1 -> stubborn SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 1s; SIGTERM, SIGKILL after 3s)',
            '2 killing what is left (SIGKILL): brief',
            '2 -> brief SIGKILL',
            '2 brief (pid 102) stopped (killed by SIGKILL)',
            '4 killing what is left (SIGKILL): stubborn',
            '4 -> stubborn SIGKILL',
            '4 stubborn (pid 101) stopped (killed by SIGKILL)'],
        exit=0),
    "a second Ctrl-C kills at once; the same one delivered twice does not": History(
        apps={"stubborn": {"command": "s"}},
        starts={"stubborn": [start(ignores=frozenset({signal.SIGINT, signal.SIGTERM}))]},
        actions=((1, send(signal.SIGINT)), (1.1, send(signal.SIGINT)),
                 (3, send(signal.SIGINT))),
        grace_s=60,
        said=[
            '0 stubborn started (pid 101): s',
            '0 stubborn ready in 0.0s',
            '1 SIGINT received: stopping',
            '1 -> stubborn SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 60s)',
            '3 SIGINT received again: killing every app now',
            '3 -> stubborn SIGKILL',
            '3 stubborn (pid 101) stopped (killed by SIGKILL)'],
        exit=130),
    "a task completing starts its dependant; a run of tasks only ends with 0": History(
        apps={"seed": {"command": "seed", "kind": "task"},
              "gen": {"command": "gen", "kind": "task", "depends_on": {"seed": "completed"}}},
        starts={"seed": [start(line(1, "seeding"), exits(2, 0))], "gen": [start(exits(1, 0))]},
        said=[
            '0 seed started (pid 101): seed',
            '1 seed | seeding',
            '2 seed completed in 2.0s',
            '2 gen started (pid 102): gen',
            '3 gen completed in 1.0s',
            '3 every app was a task, and each completed'],
        exit=0),
    "a failed task stops the run; its dependant never starts": History(
        apps={"db": {"command": "db"},
              "seed": {"command": "seed", "kind": "task", "depends_on": ["db"]},
              "api": {"command": "api", "depends_on": {"seed": "completed"}}},
        starts={"db": [start()], "seed": [start(line(1, "duplicate key"), exits(1, 4))],
                "api": []},
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 seed started (pid 102): seed',
            '1 seed | duplicate key',
            '1 PRECHECK_TASK_FAILED: seed failed: stopping',
            '1 -> db SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 5s)',
            '1 db (pid 101) stopped (killed by SIGTERM)'],
        exit=36, error="PRECHECK_TASK_FAILED",
        message="app `seed` (a task) failed (exit code 4); last lines:\n  seed | duplicate key",
        states=[["ready", "waiting", "waiting"], ["ready", "running", "waiting"],
                ["ready", "failed", "waiting"], ["stopped", "stopped", "waiting"]]),
    "a failed task restarted by on-failure, then completing": History(
        apps={"seed": {"command": "seed", "kind": "task", "restart": "on-failure",
                       "backoff_s": 2},
              "api": {"command": "api", "depends_on": {"seed": "completed"}}},
        starts={"seed": [start(exits(1, 1)), start(exits(1, 0))], "api": [start()]},
        actions=((6, stop),),
        said=[
            '0 seed started (pid 101): seed',
            '1 seed exited (exit code 1); restart 1/5 in 2s',
            '3 seed started (pid 102): seed',
            '4 seed completed in 1.0s',
            '4 api started (pid 103): api',
            '4 api ready in 0.0s',
            '6 -> api SIGTERM',
            '6 stopping apps (SIGTERM, SIGKILL after 5s)',
            '6 api (pid 103) stopped (killed by SIGTERM)'],
        exit=0),
    "restart(name) restarts the app and its dependants, outside the policy's budget": History(
        apps={"db": {"command": "db", **UP},
              "api": {"command": "api", "depends_on": ["db"], **UP, "restart": "on-failure",
                      "max_restarts": 1, "backoff_s": 1},
              "web": {"command": "web", "depends_on": ["api"], **UP}},
        starts={"db": [start(ready(0.1))],
                "api": [start(ready(0.1)), start(ready(0.2), exits(2, 1)), start(ready(0.1))],
                "web": [start(ready(0.1), stop_s=0.2), start(ready(0.1))]},
        actions=((1, restart("api")), (1.05, restart("api")), (6, stop)),
        said=[
            '0 db started (pid 101): db',
            '0.1 db ready in 0.1s',
            '0.1 api started (pid 102): api',
            '0.2 api ready in 0.1s',
            '0.2 web started (pid 103): web',
            '0.3 web ready in 0.1s',
            '1 api: restart asked',
            '1 -> api SIGTERM',
            '1 web: restart asked',
            '1 -> web SIGTERM',
            '1 api stopped (killed by SIGTERM); starting it again',
            '1 api started (pid 104): api',
            '1.2 web stopped (killed by SIGTERM); starting it again',
            '1.2 api ready in 0.2s',
            '1.2 web started (pid 105): web',
            '1.3 web ready in 0.1s',
            '3 api exited (exit code 1); restart 1/1 in 1s',
            '4 api started (pid 106): api',
            '4.1 api ready in 0.1s',
            '6 -> api SIGTERM',
            '6 -> web SIGTERM',
            '6 -> db SIGTERM',
            '6 stopping apps (SIGTERM, SIGKILL after 5s)',
            '6 api (pid 106) stopped (killed by SIGTERM)',
            '6 web (pid 105) stopped (killed by SIGTERM)',
            '6 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "a task gates its dependant until it completed, other dependencies until ready": History(
        apps={"server": {"command": "server", "depends_on": {"seed": "completed", "db": "ready"}},
              "db": {"command": "db", **UP},
              "seed": {"command": "seed", "kind": "task", "depends_on": ["db"]}},
        starts={"db": [start(ready(0.5))], "seed": [start(exits(1, 0))], "server": [start()]},
        actions=((3, stop),),
        said=[
            '0 db started (pid 101): db',
            '0.5 db ready in 0.5s',
            '0.5 seed started (pid 102): seed',
            '1.5 seed completed in 1.0s',
            '1.5 server started (pid 103): server',
            '1.5 server ready in 0.0s',
            '3 -> server SIGTERM',
            '3 -> db SIGTERM',
            '3 stopping apps (SIGTERM, SIGKILL after 5s)',
            '3 server (pid 103) stopped (killed by SIGTERM)',
            '3 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "a dependant in its backoff starts once its restarted dependency is ready": History(
        apps={"api": {"command": "api", **UP},
              "web": {"command": "web", "depends_on": ["api"], "restart": "on-failure",
                      "backoff_s": 30, "on_exit": "keep-running"}},
        starts={"api": [start(ready(0.5)), start(ready(0.5))],
                "web": [start(line(0.5, "web fails"), exits(0.5, 3)), start()]},
        actions=((2, restart("api")), (5, stop)),
        said=[
            '0 api started (pid 101): api',
            '0.5 api ready in 0.5s',
            '0.5 web started (pid 102): web',
            '0.5 web ready in 0.0s',
            '1 web | web fails',
            '1 web exited (exit code 3); restart 1/5 in 30s',
            '2 api: restart asked',
            '2 -> api SIGTERM',
            '2 web: restart asked',
            '2 api stopped (killed by SIGTERM); starting it again',
            '2 api started (pid 103): api',
            '2.5 api ready in 0.5s',
            '2.5 web started (pid 104): web',
            '2.5 web ready in 0.0s',
            '5 -> web SIGTERM',
            '5 -> api SIGTERM',
            '5 stopping apps (SIGTERM, SIGKILL after 5s)',
            '5 web (pid 104) stopped (killed by SIGTERM)',
            '5 api (pid 103) stopped (killed by SIGTERM)'],
        exit=0),
    "a dependant restarted and still starting restarts again with its dependency": History(
        apps={"api": {"command": "api", **UP},
              "web": {"command": "web", "depends_on": ["api"], **UP}},
        starts={"api": [start(ready(0.5)), start(ready(0.5))],
                "web": [start(ready(1)), start(ready(1)), start(ready(1))]},
        actions=((2, restart("web")), (2.5, restart("api")), (6, stop)),
        said=[
            '0 api started (pid 101): api',
            '0.5 api ready in 0.5s',
            '0.5 web started (pid 102): web',
            '1.5 web ready in 1.0s',
            '2 web: restart asked',
            '2 -> web SIGTERM',
            '2 web stopped (killed by SIGTERM); starting it again',
            '2 web started (pid 103): web',
            '2.5 api: restart asked',
            '2.5 -> api SIGTERM',
            '2.5 web: restart asked',
            '2.5 -> web SIGTERM',
            '2.5 api stopped (killed by SIGTERM); starting it again',
            '2.5 api started (pid 104): api',
            '2.5 web stopped (killed by SIGTERM); starting it again',
            '3 api ready in 0.5s',
            '3 web started (pid 105): web',
            '4 web ready in 1.0s',
            '6 -> web SIGTERM',
            '6 -> api SIGTERM',
            '6 stopping apps (SIGTERM, SIGKILL after 5s)',
            '6 web (pid 105) stopped (killed by SIGTERM)',
            '6 api (pid 104) stopped (killed by SIGTERM)'],
        exit=0),
    "workers an app leaves behind are killed before it starts again": History(
        apps={"api": {"command": "api", "restart": "on-failure", "backoff_s": 1}},
        starts={"api": [start(exits(1, 1), workers=True), start()]},
        actions=((4, stop),),
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 -> api SIGKILL',
            '1 api exited (exit code 1); restart 1/5 in 1s',
            '2 api started (pid 102): api',
            '2 api ready in 0.0s',
            '4 -> api SIGTERM',
            '4 stopping apps (SIGTERM, SIGKILL after 5s)',
            '4 api (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "workers outliving their app at shutdown get SIGKILL after the grace": History(
        apps={"api": {"command": "api"}},
        starts={"api": [start(workers=True)]},
        actions=((1, stop),),
        grace_s=2,
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 -> api SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 2s)',
            '1 api (pid 101) stopped (killed by SIGTERM)',
            '3 killing what is left (SIGKILL): api',
            '3 -> api SIGKILL'],
        exit=0),
    "SIGHUP (the terminal closed) stops every app with 129": History(
        apps={"api": {"command": "api"}},
        starts={"api": [start()]},
        actions=((1, send(signal.SIGHUP)),),
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '1 SIGHUP received: stopping',
            '1 -> api SIGTERM',
            '1 stopping apps (SIGTERM, SIGKILL after 5s)',
            '1 api (pid 101) stopped (killed by SIGTERM)'],
        exit=129),
    "an app exiting before it is ready is restarted; its dependants wait through the backoff":
    History(
        apps={"db": {"command": "db", **UP, "restart": "on-failure", "backoff_s": 2},
              "api": {"command": "api", "depends_on": ["db"]}},
        starts={"db": [start(line(0.5, "port taken"), exits(0.5, 1)), start(ready(0.5))],
                "api": [start()]},
        actions=((5, stop),),
        said=[
            '0 db started (pid 101): db',
            '0.5 db | port taken',
            '0.5 db exited (exit code 1); restart 1/5 in 2s',
            '2.5 db started (pid 102): db',
            '3 db ready in 0.5s',
            '3 api started (pid 103): api',
            '3 api ready in 0.0s',
            '5 -> api SIGTERM',
            '5 -> db SIGTERM',
            '5 stopping apps (SIGTERM, SIGKILL after 5s)',
            '5 api (pid 103) stopped (killed by SIGTERM)',
            '5 db (pid 102) stopped (killed by SIGTERM)'],
        exit=0),
    "a liveness kill under keep-running leaves the app exited": History(
        apps={"db": {"command": "db"},
              "api": {"command": "api", "on_exit": "keep-running",
                      "liveness": {"tcp": 9, "failures": 1}}},
        starts={"db": [start()], "api": [start(liveness(2, 1, "connection refused"))]},
        actions=((4, stop),),
        said=[
            '0 db started (pid 101): db',
            '0 db ready in 0.0s',
            '0 api started (pid 102): api',
            '0 api ready in 0.0s',
            '2 api liveness: failing 1/1: connection refused',
            '2 api is unhealthy: stopping it (SIGTERM)',
            '2 -> api SIGTERM',
            '2 api exited (unhealthy: connection refused); the other apps keep running '
            '(on_exit: keep-running)',
            '4 -> db SIGTERM',
            '4 stopping apps (SIGTERM, SIGKILL after 5s)',
            '4 db (pid 101) stopped (killed by SIGTERM)'],
        exit=0),
    "a dependency (the database) dying stops every app": History(
        apps={"api": {"command": "api"}},
        starts={"api": [start()]},
        dependency_dies_at=1.5,
        said=[
            '0 api started (pid 101): api',
            '0 api ready in 0.0s',
            '2.1 PRECHECK_DEPENDENCY_EXITED: container workspace-postgres-1 exited with code '
            '137: stopping',
            '2.1 -> api SIGTERM',
            '2.1 stopping apps (SIGTERM, SIGKILL after 5s)',
            '2.1 api (pid 101) stopped (killed by SIGTERM)'],
        exit=18, error="PRECHECK_DEPENDENCY_EXITED"),
}


@pytest.fixture
def nothing_real(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sleep, no thread, no process, no signal to a group: any of them fails the test."""
    def forbidden(what: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a history used a real {what}")
        return call

    monkeypatch.setattr(time, "sleep", forbidden("sleep"))
    monkeypatch.setattr(threading.Thread, "start", forbidden("thread"))
    monkeypatch.setattr(threading, "Timer", forbidden("timer"))
    monkeypatch.setattr(subprocess.Popen, "__init__", forbidden("process"))
    monkeypatch.setattr(os, "killpg", forbidden("killpg"))


@pytest.mark.parametrize("name", HISTORIES)
def test_history(name: str, nothing_real: None) -> None:
    history = HISTORIES[name]
    played = play(history)
    assert played.world.said == history.said
    assert played.exit == history.exit
    assert (played.error.code if played.error else None) == history.error
    if history.message is not None:
        assert played.error is not None and played.error.message == history.message
    if history.states is not None:
        assert played.states == history.states
    left = {app: starts for app, starts in played.world.left.items() if starts}
    assert left == {}, "scripted starts that never happened"
