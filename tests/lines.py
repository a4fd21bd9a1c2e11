"""A command under test in its own session, its output read line by line.

    proc = LineProcess("server", [sys.executable, "app.py"], cwd=project, env=env)
    proc.wait_for("listening")      # the first line holding it; fails if the command exits
    proc.interrupt()                # SIGINT to its whole group, as Ctrl-C on a terminal
    assert proc.wait() == 130
    proc.stop()                     # SIGTERM, SIGKILL after a grace; the exit code

Its own session, so that a signal reaches only its group; stdout and stderr merged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["LineProcess"]


class LineProcess:
    def __init__(self, name: str, argv: Sequence[str], *, cwd: Path,
                 env: Mapping[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []  # without their newlines
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = 60.0) -> str:
        """The first line holding `text`; fails when the command exits first or
        `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            if self.proc.poll() is not None:
                self._reader.join(5)  # its last lines
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before "
                                     f"printing {text!r}; output:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not print {text!r} within "
                                     f"{timeout_s}s; output:\n{self.output}")
            time.sleep(0.02)

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # its own session: the group is its pid
        except ProcessLookupError:
            pass

    def wait(self, timeout_s: float = 60.0) -> int:
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def stop(self, grace_s: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after `grace_s`; the exit code (negative: killed)."""
        if self.proc.poll() is None:
            self.interrupt(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.interrupt(signal.SIGKILL)
        return self.wait(grace_s)
