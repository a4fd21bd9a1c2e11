"""Children that get SIGKILL when the thread that started them ends (Linux), without
`preexec_fn`.

CPython documents `preexec_fn` as unsafe while other threads run (the child of a fork
may deadlock on a lock another thread held), and the supervisor runs reader, waiter and
probe threads. So the command is started through a small exec chain that sets
PR_SET_PDEATHSIG, checks that its parent is still the one that started it (else it
exits: the parent died before the setting took effect) and execs the command in place
(same pid, same process group; the setting survives exec):

- `setpriv --pdeathsig KILL -- /bin/sh -c 'test "$PPID" = "$0" || exit 1; exec "$@"'`
  where util-linux's setpriv is installed (a few ms). A command that cannot be executed
  is found before the start (PATH lookup, as execvp does), so it is still an OSError in
  the parent, not an app that exited 127;
- else a tiny Python program (`python -I -S -c SHIM`: ctypes' prctl, then os.execvp; one
  interpreter start, 10 to 100 ms depending on the machine's load), which reports a
  failed exec over a close-on-exec pipe, as subprocess itself does.

    argv, pass_fds, check = spawn_args(["python", "app.py"], cwd=cwd, env=env)
    popen = subprocess.Popen(argv, pass_fds=pass_fds, start_new_session=True, ...)
    check(popen)        # OSError when the command could not be executed

Elsewhere than Linux the command runs as it is (the watchdog covers it). Measured in
benchmarks/bench_spawn.py.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["SETPRIV", "SHIM", "spawn_args"]

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

# The parent check, in the shell setpriv execs: $0 is our pid, "$@" the command.
SH_CHECK = 'test "$PPID" = "$0" || exit 1; exec "$@"'
SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None

Check = Callable[["subprocess.Popen[bytes] | None"], None]


def _nothing(popen: subprocess.Popen[bytes] | None) -> None:
    return None


def spawn_args(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]
               ) -> tuple[list[str], tuple[int, ...], Check]:
    """The argv to start `command` with (in `cwd`, with `env`), the fds to pass, and a
    check to call right after Popen (with None if Popen failed): OSError for a command
    that could not be executed."""
    if not sys.platform.startswith("linux"):
        return list(command), (), _nothing
    if SETPRIV is not None and os.path.exists("/bin/sh"):
        _executable(command[0], cwd, env)
        return [SETPRIV, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", SH_CHECK,
                str(os.getpid()), *command], (), _nothing
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


def _executable(name: str, cwd: Path, env: Mapping[str, str]) -> None:
    """OSError (ENOENT, EACCES) unless execvp would find `name` executable: with a `/`
    relative to `cwd`, else on the child's PATH."""
    if "/" in name:
        path = cwd / name
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        if path.is_dir() or not os.access(path, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return
    search = [d if os.path.isabs(d) else str(cwd / d)
              for d in env.get("PATH", os.defpath).split(os.pathsep)]
    if shutil.which(name, path=os.pathsep.join(search)) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


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
