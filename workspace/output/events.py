"""Steps of `workspace start`, shown as they happen: the guide's lines on a terminal,
plain lines in a pipe, or one JSON event per step (`--json`) for scripted bring-up.

    steps = Steps(console)
    with steps.step("database", "Database ready") as step:
        step.detail = "127.0.0.1:54320"
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from workspace.errors import WorkspaceError
from workspace.output.console import Console

__all__ = ["Step", "Steps"]

Status = Literal["ok", "warning", "skipped", "failed"]


@dataclass
class Step:
    name: str
    label: str
    status: Status = "ok"
    detail: str = ""
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


class Steps:
    """Runs named steps, times them, and reports each one once it ends."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.done: list[Step] = []
        self.started = time.perf_counter()

    @contextmanager
    def step(self, name: str, label: str) -> Iterator[Step]:
        step = Step(name, label)
        begin = time.perf_counter()
        try:
            yield step
        except WorkspaceError as exc:
            step.status, step.detail = "failed", f"{exc.code}: {exc.message}"
            step.data.setdefault("code", exc.code)
            raise
        except BaseException:
            step.status = "failed"
            raise
        finally:
            step.duration_s = time.perf_counter() - begin
            self.done.append(step)
            self._show(step)

    def progress(self, name: str, text: str, **data: Any) -> None:
        """A line while a step waits (e.g. Zitadel not ready, attempt 1/6)."""
        if self.console.json_mode:
            self.console.json({"event": "progress", "step": name, "detail": text, **data})
        else:
            self.console.line(f"  ⏳ {text}" if self.console.fancy else f"  {text}")

    def note(self, name: str, text: str) -> None:
        if self.console.json_mode:
            self.console.json({"event": "note", "step": name, "detail": text})
        else:
            self.console.line(f"  {text}", "info")

    def _show(self, step: Step) -> None:
        if self.console.json_mode:
            self.console.json({"event": "step", "name": step.name, "status": step.status,
                               "duration_s": round(step.duration_s, 3), "detail": step.detail,
                               **step.data})
            return
        text = step.label + (f" ({step.detail})" if step.detail else "")
        kind = {"ok": "ok", "warning": "warn", "skipped": "info", "failed": "fail"}[step.status]
        if step.status == "failed":
            text = f"{step.name}: FAILED"  # the error itself follows, with its code and remedy
        line = f"  {text}"
        if kind == "warn":
            self.console.warn(line.strip())
        else:
            self.console.line(line, kind)
