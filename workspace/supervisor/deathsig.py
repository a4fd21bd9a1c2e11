"""Children that get SIGKILL when the thread that started them ends (Linux), without
`preexec_fn`.

CPython documents `preexec_fn` as unsafe while other threads run (the child of a fork
may deadlock on a lock another thread held), and the supervisor runs reader, waiter and
probe threads. So the child is first a tiny Python program (`python -I -S -c SHIM`) that
sets PR_SET_PDEATHSIG through ctypes, checks that its parent is still the one that
started it (else it exits: the parent died before the setting took effect), and execs
the command in place (same pid, same process group, the setting kept across exec). An
exec that fails is reported back over a close-on-exec pipe, as subprocess itself does,
so a missing command is still an OSError in the parent, not an app that exited.

    argv, pass_fds, check = spawn_args(["python", "app.py"])
    popen = subprocess.Popen(argv, pass_fds=pass_fds, start_new_session=True, ...)
    check(popen)        # OSError when the command could not be executed

Elsewhere than Linux the command runs as it is (the watchdog covers it).
`setpriv --pdeathsig` was not chosen: it is not everywhere, and neither checks its
parent nor reports a failed exec to ours. Cost: one short interpreter start per app
(about 30 ms).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Callable, Sequence

__all__ = ["SHIM", "spawn_args"]

_EXEC_REPORT_WAIT_S = 30.0  # an interpreter start; never more than this

SHIM = """\
import ctypes, os, sys
parent, report = int(sys.argv[1]), int(sys.argv[2])
ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
if os.getppid() != parent:
    os._exit(1)
os.set_inheritable(report, False)  # closed by a successful exec: EOF for the parent
try:
    os.execvp(sys.argv[3], sys.argv[3:])
except OSError as exc:
    os.write(report, str(exc.errno or 0).encode())
    os._exit(127)
"""

Check = Callable[["subprocess.Popen[bytes] | None"], None]


def spawn_args(command: Sequence[str]) -> tuple[list[str], tuple[int, ...], Check]:
    """The argv to start `command` with, the fds to pass, and a check to call right after
    Popen (it closes our end of the report pipe and raises OSError for a failed exec)."""
    if not sys.platform.startswith("linux"):
        return list(command), (), lambda popen: None
    read_fd, write_fd = os.pipe()  # both close-on-exec; pass_fds makes the child's inheritable
    argv = [sys.executable, "-I", "-S", "-c", SHIM, str(os.getpid()), str(write_fd),
            *command]

    def check(popen: subprocess.Popen[bytes] | None) -> None:
        os.close(write_fd)
        try:
            report = b"" if popen is None else _read_report(read_fd)
        finally:
            os.close(read_fd)
        if report:
            assert popen is not None
            popen.wait(_EXEC_REPORT_WAIT_S)  # it exits at once
            errno_ = int(report)
            raise OSError(errno_, os.strerror(errno_), command[0])

    return argv, (write_fd,), check


def _read_report(fd: int) -> bytes:
    """Until EOF (the exec happened) or the errno the shim wrote; bounded."""
    data = b""
    while True:
        readable, _, _ = select.select([fd], [], [], _EXEC_REPORT_WAIT_S)
        if not readable:
            return data  # an interpreter that never started: let the waiter report it
        chunk = os.read(fd, 64)
        if not chunk:
            return data
        data += chunk
