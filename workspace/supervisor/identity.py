"""A process's identity, so that a recorded pid is only trusted (or signalled) while it is
still the process that was recorded: pids are reused.

    started = process_started(pid)        # "<boot id>:<start ticks>", None when gone
    same_process(pid, started)             # later: is it still that process?
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["Identity", "process_started", "same_process"]

# A process's identity: "<boot id>:<start time in clock ticks since boot>" (/proc), which
# no wall-clock step (NTP, a resume from suspend) moves and a reboot changes; where /proc
# is absent, "create:<psutil's create time>", compared within 50 ms. A float is a record
# written before identities existed (psutil's create time), still understood.
Identity = str | float
_FALLBACK = "create:"
_CREATE_TIME_SLACK_S = 0.05


@functools.cache
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat_start(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (starttime, clock ticks after boot); None for a gone
    process or a zombie (field 3 `Z`: its pid is not a process that runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the name (field 2) is in parentheses and may hold spaces and ')': split after the last
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def _create_time(pid: int) -> float | None:
    import psutil  # only where /proc is absent: a warm `db` command spares the import

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except psutil.Error:
        return None


def process_started(pid: int) -> Identity | None:
    """The running process's identity (see `Identity`), None when there is none."""
    boot = _boot_id()
    if boot is not None:
        ticks = _stat_start(pid)
        return f"{boot}:{ticks}" if ticks is not None else None
    created = _create_time(pid)
    return f"{_FALLBACK}{created:.3f}" if created is not None else None


def same_process(pid: int | None, started: Identity | None) -> bool:
    """Whether `pid` is still the process whose identity was recorded as `started`."""
    if pid is None or started is None:
        return False
    if isinstance(started, (int, float)) or started.startswith(_FALLBACK):
        then = float(started) if isinstance(started, (int, float)) \
            else float(started.removeprefix(_FALLBACK))
        now = _create_time(pid)
        return now is not None and abs(now - then) < _CREATE_TIME_SLACK_S
    return process_started(pid) == started
