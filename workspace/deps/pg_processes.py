"""The embedded server's processes, found in the process table.

A postmaster's pid comes from postmaster.pid; what else runs on a data directory (a
server still starting, the children of a killed postmaster) is found by command line
(`-D <dir>`) or working directory (every child of a postmaster has it as its cwd).
A zombie (dead, not yet reaped by its parent) is never counted as running.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

__all__ = ["is_postgres", "option", "processes_on"]


def processes_on(data_dir: Path, executables: set[str], *, by_cwd: bool) -> list[Any]:
    """Live (not zombie) psutil processes of `executables` (real paths) on exactly
    `data_dir`: `-D` on their command line, or (`by_cwd`) it as their working directory."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "exe", "cmdline", "status"]):
        if proc.info["exe"] not in executables or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if option(proc.info["cmdline"] or [], "-D") == str(data_dir):
            found.append(proc)
            continue
        if by_cwd:
            with contextlib.suppress(psutil.Error):
                if proc.cwd() == str(data_dir):
                    found.append(proc)
    return found


def option(args: list[str], flag: str) -> str | None:
    """The value after `flag` in a command line (`-D /data` or `-D/data`)."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag) and len(arg) > len(flag):
            return arg[len(flag):]
    return None


def is_postgres(pid: int) -> bool:
    """A live (not zombie) postgres process: a stale postmaster.pid may name a pid that
    was reused, or a killed postmaster its parent has not reaped. /proc is read directly
    on Linux; psutil elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if os.path.exists("/proc/self/stat"):
            return False  # Linux, and no such process
        import psutil

        try:
            proc = psutil.Process(pid)
            return proc.status() != psutil.STATUS_ZOMBIE and "postgres" in proc.name()
        except psutil.Error:
            return False
    except OSError:
        return False
    name, _, rest = stat.partition(") ")
    return "postgres" in name and not rest.startswith("Z")
