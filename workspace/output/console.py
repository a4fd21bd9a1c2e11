"""The only place that writes to the terminal.

On a terminal: colour and symbols, through rich. Otherwise (a pipe, CI, a log file):
plain lines with no escape codes and no symbols. `--json` mode prints one JSON document
per call on stdout and keeps human text off it. Every line passes through
`redact.redact` first, so no registered secret can reach the screen.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from typing import Any, TextIO

from workspace.errors import WorkspaceError
from workspace.output import redact

__all__ = ["Console", "rich_console", "silence"]

_SYMBOLS = {"ok": "✓", "fail": "✗", "warn": "⚠", "error": "❌", "info": "•"}
_STYLES = {"ok": "green", "fail": "red", "warn": "yellow", "error": "bold red", "info": ""}


def silence(stream: TextIO) -> None:
    """Point `stream`'s file descriptor at /dev/null: its reader is gone (a closed pipe, a
    hung-up terminal), and the interpreter's final flush must not fail again."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # not a real file (a test's StringIO)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class Console:
    """Console(json_mode=False).ok("Applied: 0001_init.sql in 45ms")"""

    def __init__(self, *, json_mode: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None, colour: bool | None = None) -> None:
        self.json_mode = json_mode
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        if colour is None:
            colour = self._out.isatty() and "NO_COLOR" not in os.environ
        self.fancy = colour
        self._rich: Any = None

    # -- human text -----------------------------------------------------------------

    def line(self, text: str = "", kind: str | None = None) -> None:
        """A line of human text: to stdout normally, to stderr in JSON mode."""
        self._write(self._err if self.json_mode else self._out, text, kind)

    def ok(self, text: str) -> None:
        self.line(text, "ok")

    def info(self, text: str) -> None:
        self.line(text, "info")

    def warn(self, text: str) -> None:
        self._write(self._err, text, "warn")

    def fail(self, text: str) -> None:
        self.line(text, "fail")

    def error(self, exc: WorkspaceError) -> None:
        """An error with its code and remedy, on stderr (and as JSON on stdout in JSON mode)."""
        if self.json_mode:
            self.json({"event": "error", "ok": False, "error": {"code": exc.code, "exit_code": exc.exit_code,
                                              "message": exc.message, "remedy": exc.remedy}})
        self._write(self._err, f"{exc.code}: {exc.message}", "error")
        for note in getattr(exc, "__notes__", ()):
            self._write(self._err, f"  {note}", None)
        if exc.remedy:
            self._write(self._err, f"  → {exc.remedy}" if self.fancy else f"  Remedy: {exc.remedy}",
                        None)

    def json(self, payload: Any) -> None:
        # Each string masked before dumping: the document stays JSON, and a secret is
        # found as it is, not as JSON escaped it.
        text = json.dumps(redact.redact_json(payload), indent=None, ensure_ascii=False)
        self._out.write(text + "\n")
        self._out.flush()

    # -- internals ------------------------------------------------------------------

    def _write(self, stream: TextIO, text: str, kind: str | None) -> None:
        text = redact.redact(text)
        try:
            if not self.fancy:
                stream.write(text + "\n")
                stream.flush()
                return
            if kind and _SYMBOLS.get(kind):
                body = text.lstrip(" ")  # the symbol goes after the indentation
                text = f"{text[:len(text) - len(body)]}{_SYMBOLS[kind]} {body}"
            self._rich_for(stream).print(text, style=_STYLES.get(kind or "", "") or None)
        except OSError as exc:
            if exc.errno != errno.EIO:  # a closed pipe is the command's to handle (exit 141)
                raise
            silence(stream)  # the terminal hung up: the work goes on, unseen

    def _rich_for(self, stream: TextIO) -> Any:
        if self._rich is None:
            self._rich = {}
        if stream not in self._rich:
            self._rich[stream] = rich_console(stream)
        return self._rich[stream]


def rich_console(stream: TextIO) -> Any:
    """The one rich console factory (this module's and the supervisor's printer): text
    is printed as it is, never read as markup (`[bold]`), emoji codes (`:smile:`) or
    highlighted; colour and style only where we ask for them. Only on a terminal: the
    import is slow."""
    from rich.console import Console as RichConsole

    return RichConsole(file=stream, markup=False, emoji=False, highlight=False,
                       soft_wrap=True, force_terminal=True)
