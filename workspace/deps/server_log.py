"""The embedded server's log read as evidence, and the filesystem that filled up.

PostgreSQL writes why it failed to its log before the client notices (a PANIC is logged
before the backend aborts), so what it wrote since a mark taken when we connected (or
started it) says whether it crashed or ran out of disk space.

    mark = server_log.mark(log_file)
    ...                                      # the connection is lost
    lines = server_log.since(log_file, mark)
    server_log.no_space(lines)   # 'PANIC: could not write ... "pg_wal/...": No space left on device'
    server_log.crashed(lines)                # True
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from workspace.errors import DiskFull

__all__ = ["NO_SPACE", "crashed", "disk_full", "mark", "no_space", "since", "tail"]

NO_SPACE = "No space left on device"  # strerror(ENOSPC), in every "could not write" message
TAIL_LINES = 20
_READ_MAX = 256 * 1024  # of what was written since a mark
_CRASH_SIGNS = ("PANIC:", "was terminated by signal", "terminating any other active server",
                "shutting down due to startup process failure")


def mark(log_file: Path) -> int:
    """Where the log ends now: `since(log_file, mark)` reads what follows."""
    try:
        return log_file.stat().st_size
    except OSError:
        return 0


def since(log_file: Path, position: int) -> list[str]:
    """The lines written after `position` (at most the last 256 KiB of them)."""
    try:
        with open(log_file, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = position if position <= size else 0  # a new log since the mark
            fh.seek(max(start, size - _READ_MAX))
            return fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def tail(log_file: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of the log, indented, for an error message."""
    try:
        last = log_file.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no server log at {log_file})"
    return f"last lines of {log_file}:\n" + "\n".join(f"  | {ln}" for ln in last)


def no_space(lines: list[str]) -> str | None:
    """The first "No space left on device" message, without its timestamp and pid."""
    line = next((ln for ln in lines if NO_SPACE in ln), None)
    return None if line is None else " ".join(line.split("] ", 1)[-1].split())


def crashed(lines: list[str]) -> bool:
    """Whether the postmaster logged a crash (a PANIC, a backend killed, a failed
    recovery)."""
    return any(sign in ln for ln in lines for sign in _CRASH_SIGNS)


def disk_full(data_dir: Path, detail: str, *, log_file: Path | None = None) -> DiskFull:
    """`DiskFull` naming the data directory, the filesystem that filled up (the one of
    the file the server could not write: `pg_wal` may be a symlink elsewhere), how much
    is free on it now, and (given `log_file`) the server's last log lines."""
    where = _full_dir(data_dir, detail)
    free, mount = _disk_usage(where)
    inside = "" if where == data_dir else f" ({where} is on it)"
    return DiskFull(
        f"the embedded PostgreSQL ran out of disk space: {detail}\n"
        f"  data directory {data_dir}{inside}: {free} on the filesystem mounted at {mount}"
        + (f"\n{tail(log_file)}" if log_file is not None else ""),
        path=where,
        remedy=f"Free space on the filesystem mounted at {mount} (or grow it), then "
               "`workspace db server start` and run the command again.")


def _full_dir(data_dir: Path, detail: str) -> Path:
    found = re.search(r'file "([^"]+)"', detail)
    if found is None:
        return data_dir
    path = Path(os.path.realpath(data_dir / found.group(1))).parent
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _disk_usage(path: Path) -> tuple[str, Path]:
    """How much is free on the filesystem holding `path`, and where it is mounted."""
    mount = Path(os.path.realpath(path))
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return f"free space unknown ({exc.strerror})", mount
    return f"{_mib(usage.free)} free of {_mib(usage.total)}", mount


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size < 10 * 2**30 else f"{size / 2**30:.1f} GiB"
