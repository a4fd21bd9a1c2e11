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
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workspace.deps.ref import EMBEDDED_POSTGRES, DepRef, Instance
from workspace.output import redact
from workspace.supervisor.identity import Identity, process_started, same_process
from workspace.supervisor.snapshot import AppState
from workspace.waits import polling

__all__ = ["RunLock", "RunState", "StateStore"]


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
    identities: list[Instance] = field(default_factory=list)  # of `started`, once up
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
        identities = [Instance.from_json(i) for i in data.pop("identities", [])]
        postmaster = data.pop("postmaster", None)  # an older workspace's embedded identity
        if postmaster is not None:
            identities.append(Instance(EMBEDDED_POSTGRES, postmaster))
        return cls(**data, apps=apps, started=started, identities=identities)

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
        for _ in polling(timeout_s, interval_s=0.01):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                continue
        else:
            os.close(fd)
            return False
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
        for _ in polling(timeout_s, interval_s=poll_s):
            if not self.held():
                return True
        return False


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
