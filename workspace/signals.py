"""Signals of a `workspace` process, from its first instruction to its exit.

The entry points (`workspace`, and the detached supervisor's process, both through
`entry` below) install one handler for SIGINT, SIGTERM and SIGHUP before anything else is
imported, and it stays the only one for the life of the process: the blocks below switch
its mode, in one store, so no moment exists where another handler (or the default
action) is in place. A signal then

- waits by default in that process (through the imports: an import cut short can panic,
  pydantic_core's does) and inside `deferred()`: bookkeeping that must not be cut in
  half (the run lock taken and the state written; a teardown). It is raised when the
  block ends, or as the next `interruptible()` block begins, or handed to the supervisor;
- raises inside `interruptible()` (the command itself; up()'s waits): KeyboardInterrupt
  (Interrupted) for SIGINT, SystemExit(143) for SIGTERM, SystemExit(129) for SIGHUP, so
  the cleanup on the way out runs;
- is only noted once one signal was raised: the process is ending, and a second Ctrl-C
  must not cut its cleanup short;
- goes to the supervisor's recorder inside `signals_handled()` (it only sets flags; there
  a second Ctrl-C kills the apps at once).

    with deferred(raise_at_end=False):    # the lock and the state: all or nothing
        lock.acquire(); store.write(state)
        result = up(config, steps)        # interruptible() inside: Ctrl-C cuts it short
        with signals_deferred() as pending:   # kept, for the supervisor to handle
            manager.run(pending=pending)

Outside the entry point (a test calling `start()` in-process) the outermost block installs
the handler and restores the previous ones when it ends. Everything here is a no-op
outside the main thread, where Python cannot set handlers and never runs them.
"""

from __future__ import annotations

import contextlib
import signal
import threading

TYPE_CHECKING = False  # not `typing`'s: imported before anything else, this stays light
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import FrameType
    from typing import Any

__all__ = ["Interrupted", "deferred", "entry", "finish", "install", "interruptible",
           "signals_deferred", "signals_handled", "signals_ignored", "terminate_as_exit"]

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# The modes: a signal waits in `pending`, raises (once), or goes to the supervisor's own
# recorder (a callable). Switching is one store of `_state.mode`: no moment exists where
# another handler, or none, is in place.
_WAIT = "wait"
_RAISE = "raise"


class _State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.mode: Any = _RAISE  # what a signal does now (see above)
        self.ending = False  # one signal was raised (or the command is over): no more
        self.pending: list[int] = []  # received while deferred, not raised yet


_state = _State()
_switch_hooks: list[Callable[[], object]] = []  # tests: called right after each switch


def _switch(mode: Any) -> Any:
    """Make `mode` the current one; return the previous one."""
    was, _state.mode = _state.mode, mode
    for hook in _switch_hooks:
        hook()
    return was


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, as our handler raises it. A subclass, because CPython remembers a plain
    KeyboardInterrupt escaping any exec() of a string (dataclasses and namedtuples make
    their methods so, during the imports) and then ends the process by SIGINT at its
    exit, whatever it returned (pythonrun.c, _Py_UnhandledKeyboardInterrupt)."""


def _exception(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return Interrupted()
    return SystemExit(128 + signum)


def _handle(signum: int, frame: FrameType | None) -> None:
    """The one handler, installed once for the life of the process. It records the
    signal (in `pending`, or in the supervisor's own flags); it raises only inside an
    `interruptible()` block with nothing waiting, the one way to cut a blocking call
    short there."""
    mode = _state.mode
    if callable(mode):  # handed to the supervisor, which handles its own second signal
        mode(signum, frame)
        return
    if _state.ending:
        return
    if mode == _RAISE and not _state.pending:
        _state.ending = True
        raise _exception(signum)
    _state.pending.append(signum)


def _raise_pending() -> None:
    if _state.pending and not _state.ending:
        signum = _state.pending[0]
        _state.pending.clear()
        _state.ending = True
        raise _exception(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> None:
    """The entry point's first instruction: SIGINT, SIGTERM and SIGHUP handled here for
    the life of the process (SIGTERM and SIGHUP would end it at once, leaving what it
    started running; SIGINT would raise a traceback out of the imports). Signals wait
    from here on, until `interruptible()` says where they may cut in: an import cut short
    can leave worse than a traceback (pydantic_core's panics)."""
    _state.mode = _WAIT
    for signum in HANDLED:
        signal.signal(signum, _handle)


def finish() -> None:
    """The command is over: from here on a signal is ignored (nothing is left to stop,
    and the interpreter's exit must not die by it: it restores the default action of a
    Python handler, not of an ignored signal)."""
    _state.ending = True
    if _main_thread():
        for signum in HANDLED:
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def _ours() -> Iterator[bool]:
    """Whether our handler acts in here: the entry point's, or installed for the duration
    of this block (in-process use, where Python's defaults are in place). False outside
    the main thread, and while another handler acts (the supervisor's)."""
    if not _main_thread():
        yield False
        return
    current = [signal.getsignal(s) for s in HANDLED]
    if all(h is _handle for h in current):
        yield True
        return
    if any(h not in (signal.default_int_handler, signal.SIG_DFL) for h in current):
        yield False
        return
    _state.reset()
    previous = {s: signal.signal(s, _handle) for s in HANDLED}
    try:
        yield True
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _mode(interruptible: bool, *, raise_at_end: bool) -> Iterator[None]:
    with _ours() as ours:
        if not ours:
            yield
            return
        was = _switch(_RAISE if interruptible else _WAIT)
        try:
            if interruptible:
                _raise_pending()  # one that waited for this moment
            yield
        finally:
            _switch(was)
        if was == _RAISE and raise_at_end:  # ended normally: one that waited is raised now
            _raise_pending()


def interruptible() -> contextlib.AbstractContextManager[None]:
    """A signal raises in here (one that was waiting: as the block begins)."""
    return _mode(True, raise_at_end=False)


def deferred(*, raise_at_end: bool = True) -> contextlib.AbstractContextManager[None]:
    """A signal waits in here, and is raised when the block ends, unless it ends by an
    exception (which goes on: the run is ending anyway), sits in another `deferred()`
    (raised when that one ends), or `raise_at_end` is False (left for whoever handles
    signals next: an `interruptible()` block, the supervisor)."""
    return _mode(False, raise_at_end=raise_at_end)


def signals_ignored() -> contextlib.AbstractContextManager[None]:
    """A teardown: a signal in here waits and is never raised by this block (what is torn
    down goes on to its end, and so does the error that ended the run)."""
    return _mode(False, raise_at_end=False)


def terminate_as_exit() -> contextlib.AbstractContextManager[None]:
    """SIGTERM and SIGHUP raise SystemExit(143) and (129) in here, as SIGINT raises
    KeyboardInterrupt (by default they would end the process at once, leaving what it
    started running)."""
    return interruptible()


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """SIGINT, SIGTERM and SIGHUP are recorded in the list yielded, in order (after any
    that was already waiting), instead of acting: handed to the code that handles them
    once it is ready (the supervisor), and never raised by this block."""
    with _ours() as ours:
        if not ours:
            yield []
            return
        was = _switch(_WAIT)
        pending = _state.pending
        try:
            yield pending
        finally:
            _state.pending = []  # handed over (one arriving now waits in the new list)
            _switch(was)


@contextlib.contextmanager
def _handlers(handlers: dict[signal.Signals, Any]) -> Iterator[None]:
    if not _main_thread():
        yield
        return
    previous = {s: signal.signal(s, h) for s, h in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_handled(handler: Callable[[int, FrameType | None], Any],
                    signals: Iterable[int]) -> Iterator[None]:
    """`handler` is called for each of `signals` in here (the supervisor's, which only
    records and asks to stop), as the current mode of the one handler: the switch in
    and out is a single store. Where our handler is not in charge (a test driving the
    supervisor with other handlers set), `handler` is installed for the block instead."""
    wanted = frozenset(int(s) for s in signals)

    def dispatch(signum: int, frame: FrameType | None) -> None:
        if signum in wanted:
            handler(signum, frame)
        else:
            _state.pending.append(signum)

    with _ours() as ours:
        if not ours:
            with _handlers({signal.Signals(s): handler for s in wanted}):
                yield
            return
        was = _switch(dispatch)
        try:
            yield
        finally:
            _switch(was)


def entry(module: str, *, interruptible: bool = True) -> int:
    """A process's entry point: install the signal handler, then import `module` and
    return its `main()`, which may be cut short by a signal (one that came during the
    imports: as it begins). With `interruptible=False`, `main()` says itself where it may
    be cut short. `workspace` (__main__.py) and the detached supervisor
    (run/detached.py) both come in here."""
    try:
        install()  # from here on a signal waits, until the command may be cut short
        try:
            run = __import__(module, fromlist=["main"]).main

            if not interruptible:
                return int(run())
            with _mode(True, raise_at_end=False):  # interruptible(): one that waited is raised
                return int(run())
        finally:
            finish()  # from here on a signal is ignored: the command is over
    except KeyboardInterrupt:
        finish()
        return 130
