"""One child process, its output turned into events (honcho's process.py).

    events: queue.Queue[Event] = queue.Queue()
    proc = Process("server", ["python", "-m", "server"], cwd=Path("."), env={},
                   log_path=Path(".workspace/logs/server.log"), events=events)
    proc.start()
    events.get()   # Event(type="line", name="server", pid=..., text="listening")
    proc.signal(signal.SIGTERM)

The child leads its own process group (so `signal` reaches its children too), reads
/dev/null, and writes stdout and stderr into one pipe. One thread reads the pipe line by
line: every byte goes to the log file as written (registered secrets masked, as
everywhere; each line after its time stamp, logtime.py), each line (decoded with
errors="replace", cut at LINE_LIMIT bytes) becomes a "line" event. Another thread waits
for the exit and sends an "exit" event after the last line.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from workspace.output import redact
from workspace.supervisor import logtime
from workspace.supervisor.deathsig import spawn_args
from workspace.supervisor.groups import kill_group, live_groups

__all__ = ["LINE_LIMIT", "Child", "Event", "Process", "kill_group", "live_groups"]

LINE_LIMIT = 64 * 1024
# A grandchild may keep the pipe open after the app itself exited: report the exit anyway.
_LAST_LINES_WAIT_S = 0.5
EventType = Literal["line", "exit", "ready", "unready", "liveness", "restart"]


@dataclass(frozen=True)
class Event:
    """What happened to app `name` (child `pid`): a line of output, its exit
    (`returncode`), or the verdict of its readiness probe (`text`: the reason)."""

    type: EventType
    name: str
    pid: int
    text: str = ""
    returncode: int | None = None
    time: float = 0.0


class Child(Protocol):
    """What the manager uses of a child: `Process`, or a test's scripted fake."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def matched(self) -> threading.Event: ...

    def start(self) -> None: ...


class Process:
    def __init__(self, name: str, command: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                 log_path: Path, events: queue.Queue[Event],
                 ready_pattern: re.Pattern[str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.command = list(command)
        self.cwd = cwd
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.matched = threading.Event()  # set once a line matched ready_pattern
        self._events = events
        self._pattern = ready_pattern
        self._clock = clock
        self._popen: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self._popen is not None, "not started"
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.returncode

    def start(self) -> None:
        """Start the child; OSError when it cannot be (command not found, bad cwd).
        Call from a thread that lives as long as the child: PDEATHSIG follows that thread."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv, pass_fds, check = spawn_args(self.command, cwd=self.cwd, env=self.env)  # deathsig.py
        try:
            popen = subprocess.Popen(
                argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                close_fds=True, pass_fds=pass_fds)
        except BaseException:
            check(None)
            raise
        try:
            check(popen)
        except OSError:
            assert popen.stdout is not None
            popen.stdout.close()
            raise
        self._popen = popen
        self._reader = threading.Thread(target=self._read, name=f"read-{self.name}", daemon=True)
        self._reader.start()
        threading.Thread(target=self._wait, name=f"wait-{self.name}", daemon=True).start()

    def signal(self, sig: int) -> bool:
        """Signal the child's whole group; False when it is gone."""
        return self._popen is not None and kill_group(self._popen.pid, sig)

    def _emit(self, type_: EventType, text: str = "", returncode: int | None = None) -> None:
        self._events.put(Event(type_, self.name, self.pid, text, returncode, self._clock()))

    def _read(self) -> None:
        assert self._popen is not None and self._popen.stdout is not None
        skipping = False  # inside a line longer than LINE_LIMIT, already shown cut
        line_start = True  # the next chunk begins a line: it gets a time stamp
        with self._popen.stdout as pipe, open(self.log_path, "ab", buffering=0) as log:
            while chunk := pipe.readline(LINE_LIMIT):
                stamp = f"{logtime.stamp(self._clock())} ".encode() if line_start else b""
                log.write(stamp + redact.redact_bytes(chunk))  # the app may print what we gave it
                complete = line_start = chunk.endswith(b"\n")
                if skipping:
                    skipping = not complete
                    continue
                if not complete and len(chunk) == LINE_LIMIT:
                    skipping = True
                text = chunk.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")
                if skipping:
                    text += " [line cut at 64 KiB; whole in the log file]"
                self._emit("line", text)
                # after the line: "ready" is never printed before the line that made it
                if self._pattern is not None and self._pattern.search(text):
                    self.matched.set()

    def _wait(self) -> None:
        assert self._popen is not None and self._reader is not None
        returncode = self._popen.wait()
        self._reader.join(_LAST_LINES_WAIT_S)
        self._emit("exit", returncode=returncode)
