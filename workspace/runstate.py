"""Who runs this project's workspace, and what it started: a lock and a state file.

    .workspace/run/lock        flock held by the running launcher for its whole life
    .workspace/run/state.json  what it started: its pid, the dependencies, the apps

The lock is the truth: the kernel releases it when the launcher dies, however it dies,
so a state file left by a crash or a reboot is recognised as stale and never trusted.
A pid read from the state file is only signalled when the process still has the identity
recorded next to it (pids are reused): the boot id and the start time in clock ticks,
which a wall-clock step does not move.

    lock = RunLock(config.state_dir)
    if not lock.acquire():          # non-blocking
        raise AlreadyRunning(...)
    store = StateStore(config.state_dir)
    store.write(state)              # atomically (rename)
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workspace import redact
from workspace.deps.ref import DepRef

__all__ = ["AppState", "Identity", "RunLock", "RunState", "StateStore", "process_started",
           "same_process"]


# A process's identity: "<boot id>:<start time in clock ticks since boot>" (/proc), which
# no wall-clock step (NTP, a resume from suspend) moves and a reboot changes; where /proc
# is absent, "create:<psutil's create time>", compared within 50 ms. A float is a record
# written before identities existed (psutil's create time), still understood.
Identity = str | float
_FALLBACK = "create:"
_CREATE_TIME_SLACK_S = 0.05


@functools.cache
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat_start(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (starttime, clock ticks after boot); None for a gone
    process or a zombie (field 3 `Z`: its pid is not a process that runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the name (field 2) is in parentheses and may hold spaces and ')': split after the last
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def _create_time(pid: int) -> float | None:
    import psutil  # only where /proc is absent: a warm `db` command spares the import

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except psutil.Error:
        return None


def process_started(pid: int) -> Identity | None:
    """The running process's identity (see `Identity`), None when there is none."""
    boot = _boot_id()
    if boot is not None:
        ticks = _stat_start(pid)
        return f"{boot}:{ticks}" if ticks is not None else None
    created = _create_time(pid)
    return f"{_FALLBACK}{created:.3f}" if created is not None else None


def same_process(pid: int | None, started: Identity | None) -> bool:
    """Whether `pid` is still the process whose identity was recorded as `started`."""
    if pid is None or started is None:
        return False
    if isinstance(started, (int, float)) or started.startswith(_FALLBACK):
        then = float(started) if isinstance(started, (int, float)) \
            else float(started.removeprefix(_FALLBACK))
        now = _create_time(pid)
        return now is not None and abs(now - then) < _CREATE_TIME_SLACK_S
    return process_started(pid) == started


@dataclass
class AppState:
    name: str
    state: str  # waiting | starting | ready | running | completed | restarting | exited
    #             | failed | stopped
    pid: int | None = None
    pid_started: Identity | None = None
    port: int | None = None
    url: str | None = None
    restarts: int = 0
    since: float = 0.0  # wall-clock time of the last start
    health: str | None = None  # its liveness probe's verdict, when it has one


@dataclass
class RunState:
    pid: int
    pid_started: Identity
    mode: str  # foreground | detached
    started_at: float
    backend: str = ""
    database: str = ""  # masked URL
    oidc_issuer: str | None = None
    started: list[DepRef] = field(default_factory=list)  # for launcher.stop_started
    migrations_applied: int = 0  # by this start
    postmaster: list[Any] | None = None  # [pid, identity] of the embedded server started
    validation: dict[str, Any] | None = None  # once the schema was validated
    apps: dict[str, AppState] = field(default_factory=dict)
    phase: str = "starting"  # starting | running | stopping | stopped
    page: dict[str, Any] | None = None  # the live page: url, port, token (file mode 0600)

    @classmethod
    def mine(cls, mode: str) -> RunState:
        pid = os.getpid()
        return cls(pid, process_started(pid) or "", mode, time.time())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        apps = {name: AppState(**app) for name, app in data.pop("apps", {}).items()}
        started = [DepRef.from_json(ref) for ref in data.pop("started", [])]  # old form too
        return cls(**data, apps=apps, started=started)

    def alive(self) -> bool:
        return same_process(self.pid, self.pid_started)


class RunLock:
    """An exclusive flock on .workspace/run/lock, held until `release()` or death. Its fd
    can be inherited by a detached supervisor (same open file, same lock)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "run" / "lock"
        self._fd: int | None = None

    @property
    def fd(self) -> int:
        assert self._fd is not None, "not acquired"
        return self._fd

    def acquire(self, timeout_s: float = 0.5) -> bool:
        """Take the lock, or False when another process holds it for `timeout_s`
        (a moment's wait: `held()` in another process takes it for microseconds)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.01)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with the last fd of the open file
            self._fd = None

    def held(self) -> bool:
        """Whether some process holds the lock (probed by taking it for a moment)."""
        if not self.path.exists():
            return False
        probe = RunLock(self.path.parent.parent)
        if probe.acquire(timeout_s=0):
            probe.release()
            return False
        return True

    def wait_released(self, timeout_s: float, poll_s: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.held():
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True


class StateStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "run" / "state.json"

    def read(self) -> RunState | None:
        """The recorded state; None when there is none or it cannot be read (a crash
        mid-write cannot happen: writes are renames)."""
        try:
            return RunState.from_json(json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, state: RunState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".state.{os.getpid()}.tmp")
        # Never a password on disk: `database` is stored masked, and whatever else could
        # hold one (an app's URL) is masked too. The detached supervisor gets the real URL
        # over its stdin (detach.py).
        text = json.dumps(redact.redact_json(asdict(state)), indent=1)
        # 0600: it holds the live page's token (POSTs to the page need it)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
