"""The one bounded wait loop: poll until something holds, for at most a given time.

    for left_s in polling(5.0, interval_s=0.05):
        if done():
            break
    else:
        raise TimedOut(...)          # every attempt failed, the last one at the deadline

The body runs at once, then again after each interval (doubled by `backoff`, capped at
`max_interval_s`), and one last time once the deadline has passed; `left_s` is the time
left (never negative). The loop ends by itself after that last attempt, so `for ... else`
is the timeout branch. `clock` and `sleep` are injectable: tests drive it with a fake
clock, the supervisor sleeps by handling its events.

Every wait goes through it, deps/readiness.py's probes too. A small loop rather than
tenacity (dropped): the waits keep state between attempts (readiness reports progress once
per interval and keeps the last reason) and raise their own errors, a `for` loop says that
plainly, tests drive it with a fake clock, and no command pays tenacity's import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

__all__ = ["MAX_DURATION_S", "polling"]

MAX_DURATION_S = 86_400.0  # one day: the longest wait, timeout or duration anywhere


def polling(timeout_s: float, *, interval_s: float = 0.05, backoff: float = 1.0,
            max_interval_s: float | None = None,
            clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], object] = time.sleep) -> Iterator[float]:
    """Yield the time left before each attempt, within `timeout_s`; see the module."""
    deadline = clock() + timeout_s
    delay = interval_s
    while True:
        left = deadline - clock()
        yield max(left, 0.0)
        if left <= 0:
            return
        left = deadline - clock()
        if left > 0:
            sleep(min(delay, left))
        delay = delay * backoff
        if max_interval_s is not None:
            delay = min(delay, max_interval_s)
