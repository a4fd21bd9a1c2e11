"""Signal windows of the launcher: where a signal must raise (so cleanup runs) and where
it must wait (so cleanup finishes).

    with terminate_as_exit():   # SIGTERM/SIGHUP raise SystemExit(143/129), as Ctrl-C raises
        up(config, steps)       # KeyboardInterrupt: what was started is stopped again
    with signals_ignored():     # a second Ctrl-C cannot cut the teardown short
        stop_started(config, started)
    with signals_deferred() as pending:   # kept, for whoever handles them next
        manager.run(pending=pending)

Both are no-ops outside the main thread, where Python cannot set handlers.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any

__all__ = ["signals_deferred", "signals_handled", "signals_ignored", "terminate_as_exit"]


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _handlers(handlers: dict[signal.Signals, Any]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, h) for s, h in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def signals_handled(handler: Callable[[int, FrameType | None], Any],
                    signals: Iterable[int]) -> contextlib.AbstractContextManager[None]:
    """`handler` for each of `signals` in here, the previous handlers restored after."""
    return _handlers({signal.Signals(s): handler for s in signals})


def terminate_as_exit() -> contextlib.AbstractContextManager[None]:
    """SIGTERM and SIGHUP raise SystemExit(143) and (129) in here: by default they would end
    the process at once, leaving what it started running."""
    return _handlers({signal.SIGTERM: _raise_exit, signal.SIGHUP: _raise_exit})


def signals_ignored() -> contextlib.AbstractContextManager[None]:
    """SIGINT, SIGTERM and SIGHUP are ignored in here."""
    return _handlers({s: signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)})


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """SIGINT, SIGTERM and SIGHUP are recorded in the list yielded, in order, instead of
    acting: handed to the code that handles them once it is ready (the supervisor)."""
    pending: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    with _handlers({s: record for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}):
        yield pending
