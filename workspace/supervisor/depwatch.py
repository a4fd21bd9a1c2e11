"""Watch what the apps run on (the database, Zitadel) from a thread of its own.

    watch = DependencyWatch({"PostgreSQL (docker)": pg.check_alive}, warn=printer.system)
    with watch:                                 # the thread polls every every_s
        Manager(..., watch=watch).run()         # the loop calls watch(): never blocks

Each check raises DependencyExited when the dependency really exited; that ends the run
(`watch()` raises it on the supervisor's loop). Anything else a check raises (a Docker
API timeout, a refused socket) is a failed poll: retried at the next one, and only
`warn_after` failures in a row are reported, as a warning (once, until the check answers
again), never as an exit. A check that does not return within call_timeout_s counts as
failed; a new call to it is not started while it hangs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from workspace.errors import DependencyExited, WorkspaceError
from workspace.waits import polling

__all__ = ["DependencyWatch"]

_CLOSE_WAIT_S = 1.0  # the thread notices within 0.1 s; a hanging call is not waited for


class _Check:
    def __init__(self, name: str, call: Callable[[], object]) -> None:
        self.name, self.call = name, call
        self.failures = 0
        self.warned = False
        self.running: threading.Thread | None = None  # a call that has not returned yet
        self.outcome: BaseException | None = None


class DependencyWatch:
    def __init__(self, checks: Mapping[str, Callable[[], object]], *,
                 warn: Callable[[str], object], every_s: float = 2.0,
                 call_timeout_s: float = 10.0, warn_after: int = 3) -> None:
        self._checks = [_Check(name, call) for name, call in checks.items()]
        self._warn = warn
        self._every_s, self._call_timeout_s, self._warn_after = every_s, call_timeout_s, warn_after
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._notes: list[str] = []  # for the loop's thread: printed by __call__
        self._exited: DependencyExited | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DependencyWatch:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        if self._thread is None and self._checks:
            self._thread = threading.Thread(target=self._run, name="dependency-watch",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop polling (a call that hangs is left to its own timeout: daemon threads)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(_CLOSE_WAIT_S)

    def __call__(self) -> None:
        """On the supervisor's loop: print what the thread noted; raise DependencyExited
        once a dependency exited. Never blocks."""
        with self._lock:
            notes, self._notes = self._notes, []
            exited = self._exited
        for note in notes:
            self._warn(note)
        if exited is not None:
            raise exited

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed.wait(self._every_s):
            for check in self._checks:
                if self._closed.is_set():
                    return
                if self._poll(check):
                    return

    def _poll(self, check: _Check) -> bool:
        """One bounded call; True once the dependency exited."""
        if check.running is None:
            check.outcome = None
            check.running = threading.Thread(target=self._call, args=(check,), daemon=True,
                                             name=f"check-{check.name}")
            check.running.start()
        running = check.running
        for _ in polling(self._call_timeout_s, interval_s=0.1, sleep=running.join):
            if not running.is_alive() or self._closed.is_set():
                break
        if self._closed.is_set():
            return True
        if running.is_alive():
            self._failed(check, f"no answer within {self._call_timeout_s:g}s")
            return False
        check.running = None
        outcome = check.outcome
        if isinstance(outcome, DependencyExited):
            with self._lock:
                self._exited = outcome
            return True
        if outcome is not None:
            reason = (f"{outcome.code}: {outcome.message.splitlines()[0]}"
                      if isinstance(outcome, WorkspaceError) else f"{outcome!r}")
            self._failed(check, reason)
            return False
        if check.warned:
            self._note(f"{check.name} answers again")
        check.failures, check.warned = 0, False
        return False

    def _call(self, check: _Check) -> None:
        try:
            check.call()
        except Exception as exc:  # noqa: BLE001 - any failure of a poll is retried
            check.outcome = exc

    def _failed(self, check: _Check, reason: str) -> None:
        check.failures += 1
        if check.failures >= self._warn_after and not check.warned:
            check.warned = True
            self._note(f"warning: could not check {check.name} ({check.failures} times in a "
                       f"row: {reason}); the apps keep running, still checking")

    def _note(self, text: str) -> None:
        with self._lock:
            self._notes.append(text)
