"""What the live page shows, held in the launcher: one lock, a version bumped on each
change, and the apps' last lines in a bounded ring.

    live = LiveState(apps=["server", "admin"])
    live.update(validation={...})             # any section, replaced whole
    live.line("server", "listening", time.time())
    version, seq = live.wait(version, seq, timeout_s=15)   # what a stream waits on
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["LINES_KEPT", "LiveState"]

LINES_KEPT = 1000  # every app's lines together; the page shows each app's last ones


class LiveState:
    def __init__(self, apps: Sequence[str]) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._seq = 0
        self._sections: dict[str, Any] = {
            "launcher": {}, "dependencies": [], "migrations": {"rows": [], "error": None},
            "live_migration": None, "validation": None, "action": None,
            "apps": [{"name": n, "state": "waiting", "health": "unknown", "restarts": 0,
                      "pid": None, "url": None} for n in apps]}
        self._lines: deque[dict[str, Any]] = deque(maxlen=LINES_KEPT)
        self.closing = threading.Event()

    def update(self, **sections: Any) -> None:
        with self._cond:
            self._sections.update(sections)
            self._version += 1
            self._cond.notify_all()

    def get(self, name: str) -> Any:
        with self._cond:
            return self._sections[name]

    def line(self, name: str, text: str, when: float | None = None) -> None:
        with self._cond:
            self._seq += 1
            self._lines.append({"seq": self._seq, "app": name, "text": text,
                                "time": time.time() if when is None else when})
            self._cond.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {**self._sections, "version": self._version, "seq": self._seq}

    def lines_after(self, seq: int) -> list[dict[str, Any]]:
        with self._cond:
            return [line for line in self._lines if line["seq"] > seq]

    def wait(self, version: int, seq: int, timeout_s: float) -> tuple[int, int]:
        """Until the version or the lines moved past (version, seq), `close()` or the
        timeout; returns the current (version, seq)."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != version or self._seq != seq
                                or self.closing.is_set(), timeout=timeout_s)
            return self._version, self._seq

    def close(self) -> None:
        with self._cond:
            self.closing.set()
            self._cond.notify_all()
