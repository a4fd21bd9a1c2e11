"""The apps' output on the terminal, each line `HH:MM:SS name | text` (honcho's printer).

    printer = Printer(["server", "admin"])
    printer.line("server", "listening on :3002", time.time())
    # 14:02:07 server    | listening on :3002

Names are padded to the longest; each app has its own colour on a terminal, and nothing
but plain text elsewhere. Child text is never read as rich markup, so `[brackets]` print
as they are, and it passes through `redact` like everything else we print. `log` gets
a plain copy of every line (the combined log `workspace logs` shows), stamped with the
date and time (logtime.py) instead of HH:MM:SS.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from workspace.output import redact
from workspace.output.console import rich_console, silence
from workspace.supervisor import logtime

__all__ = ["SYSTEM", "Printer"]

SYSTEM = "workspace"  # the name on the supervisor's own lines
_COLOURS = ("cyan", "yellow", "green", "magenta", "blue", "bright_cyan", "bright_yellow",
            "bright_green", "bright_magenta", "bright_blue")


class Printer:
    def __init__(self, names: Sequence[str], *, out: TextIO | None = None,
                 colour: bool | None = None, log: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._log = log  # a copy of every line, plain (workspace.log)
        if colour is None:
            colour = self._out.isatty() and "NO_COLOR" not in os.environ
        self._width = max(len(n) for n in [*names, SYSTEM])
        self._colours = {n: _COLOURS[i % len(_COLOURS)] for i, n in enumerate(names)}
        self._rich: Any = None
        if colour:
            self._rich = rich_console(self._out)
        self._lock = threading.Lock()  # whole lines, also if called from several threads
        self._out_gone = False
        self._listeners: list[Callable[[str, str, float], object]] = []

    def line(self, name: str, text: str, when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(time.time() if when is None else when))
        prefix = f"{stamp} {name.ljust(self._width)} | "
        text = redact.redact(text)
        for listener in self._listeners:  # the live page (page/session.py)
            listener(name, text, time.time() if when is None else when)
        with self._lock:
            if self._log is not None:  # the date too: `workspace logs --since` reads it
                self._log.write(f"{logtime.stamp(time.time() if when is None else when)} "
                                f"{name.ljust(self._width)} | {text}\n")
                self._log.flush()
            if self._out_gone:
                return
            try:
                if self._rich is None:
                    self._out.write(prefix + text + "\n")
                    self._out.flush()
                    return
                from rich.text import Text

                style = "bold" if name == SYSTEM else self._colours.get(name, "")
                self._rich.print(Text.assemble((prefix, style), text))
            except OSError:  # the terminal hung up (EIO) or the pipe closed: log only
                self._out_gone = True
                silence(self._out)

    def listen(self, listener: Callable[[str, str, float], object]) -> None:
        """`listener(name, text, time)` gets every line too (masked, as printed)."""
        self._listeners.append(listener)

    def system(self, text: str) -> None:
        self.line(SYSTEM, text)
