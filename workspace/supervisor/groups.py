"""Process groups: signal them, see which still run, and stop them (a signal, a grace,
then SIGKILL, bounded). The one place that does it, for the supervisor's shutdown, the
watchdog, `workspace stop` after a dead launcher and the detached supervisor's launcher.

    terminate_groups([pgid], grace_s=5.0)         # SIGTERM, SIGKILL after 5 s if needed
    deadlines = {pgid: clock() + grace}           # signals already sent (each its own)
    kill_after(deadlines, wait=pump, on_kill=say) # SIGKILL to each group still running

Every app leads its own group (pgid == pid), as honcho's children do. ESRCH and EPERM
mean the group is gone (or no longer ours): ignored, as honcho's and mirakuru's are.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping

import psutil

from workspace.waits import polling

__all__ = ["kill_after", "kill_group", "live_groups", "terminate_groups"]

TICK_S = 0.05
_REAP_WAIT_S = 5.0  # after SIGKILL: the kernel needs a moment, never more than this


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it is already gone (ESRCH) or not ours (EPERM)."""
    try:
        os.killpg(pgid, sig)
    except OSError as exc:
        if exc.errno in (errno.ESRCH, errno.EPERM):
            return False
        raise
    return True


def live_groups(pgids: Iterable[int]) -> set[int]:
    """The groups that still have a running member. Zombies do not count: an orphan is
    reaped by init, or in a container perhaps never, and cannot be killed anyway."""
    candidates = {g for g in pgids if kill_group(g, 0)}
    live: set[int] = set()
    if not candidates:
        return live
    for proc in psutil.process_iter(["status"]):
        try:
            pgid = os.getpgid(proc.pid)
        except OSError:
            continue
        if pgid in candidates and proc.info["status"] != psutil.STATUS_ZOMBIE:
            live.add(pgid)
    return live


def kill_after(deadlines: Mapping[int, float], *,
               clock: Callable[[], float] = time.monotonic,
               wait: Callable[[float], object] = time.sleep,
               on_kill: Callable[[set[int]], object] = lambda late: None,
               abandon: Callable[[], bool] = lambda: False,
               kill: Callable[[int, int], object] = kill_group,
               live: Callable[[Iterable[int]], set[int]] = live_groups) -> set[int]:
    """The groups of `deadlines` were signalled: SIGKILL each one still running at its
    deadline (`on_kill` told first). Returns the groups killed, once none runs but those
    (a SIGKILLed group is reaped by its parent), or at once when `abandon()` says so.
    Bounded by the latest deadline; `wait(s)` passes the time between two looks.
    `kill` and `live` are the seams a test swaps for fake groups."""
    killed: set[int] = set()
    while not abandon():
        alive = live(deadlines)  # one scan of the process table a tick
        if alive <= killed:
            break
        late = {g for g in alive - killed if clock() >= deadlines[g]}
        if late:
            on_kill(late)
            for pgid in late:
                kill(pgid, signal.SIGKILL)
            killed |= late
        wait(TICK_S)
    return killed


def terminate_groups(pgids: Iterable[int], *, grace_s: float, sig: int = signal.SIGTERM,
                     clock: Callable[[], float] = time.monotonic,
                     wait: Callable[[float], object] = time.sleep) -> set[int]:
    """`sig` to every group, SIGKILL to those still running after `grace_s`, then wait
    (bounded) until none runs. Returns the groups that needed SIGKILL."""
    signalled = [g for g in pgids if kill_group(g, sig)]
    deadline = clock() + grace_s
    killed = kill_after(dict.fromkeys(signalled, deadline), clock=clock, wait=wait)
    for _ in polling(_REAP_WAIT_S, interval_s=TICK_S, clock=clock, sleep=wait):
        if not live_groups(killed):
            break
    return killed
