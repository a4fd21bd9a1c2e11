"""A tiny process that stops the apps' groups if the launcher dies, whatever kills it.

PR_SET_PDEATHSIG only reaches the apps' direct children; a server's workers would be
left behind by a launcher killed with SIGKILL. So the manager starts this watchdog with
a pipe on its stdin and writes `add <pgid>` / `del <pgid>` lines to it. When the pipe
reaches EOF (the launcher exited or died: the kernel closes its end either way) the
watchdog sends SIGTERM to every group still listed, SIGKILL after the grace, and exits.

    dog = Watchdog.start(grace_s=5.0)
    dog.add(proc.pid)      # the pgid: each app leads its own group
    dog.remove(proc.pid)   # once the group is gone, so a reused id is never signalled
    dog.close()            # normal shutdown: the apps are already stopped

Known limit: a group that empties and whose id is reused by an unrelated group between
the last `del` check and the launcher's death would be signalled.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from workspace.supervisor.groups import terminate_groups

__all__ = ["Watchdog", "main"]


class Watchdog:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @classmethod
    def start(cls, *, grace_s: float) -> Watchdog:
        popen = subprocess.Popen(
            [sys.executable, "-P", "-m", "workspace.supervisor.watchdog", str(grace_s)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # its own session: Ctrl-C or a signal to the launcher's group must not end it
            start_new_session=True, close_fds=True)
        return cls(popen)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def add(self, pgid: int) -> None:
        self._send(f"add {pgid}\n")

    def remove(self, pgid: int) -> None:
        self._send(f"del {pgid}\n")

    def close(self, timeout_s: float = 5.0) -> None:
        """EOF for the watchdog, then reap it (it exits at once when no group is left)."""
        try:
            if self._popen.stdin is not None:
                self._popen.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self._popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()

    def _send(self, line: str) -> None:
        assert self._popen.stdin is not None
        try:
            self._popen.stdin.write(line.encode())
            self._popen.stdin.flush()
        except BrokenPipeError:  # the watchdog died: nothing better to do than carry on
            pass


def main(argv: list[str]) -> int:
    grace_s = float(argv[0]) if argv else 5.0
    # Only EOF on stdin ends the watch: not the launcher's Ctrl-C or a hang-up.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    for raw in sys.stdin.buffer:
        verb, _, pgid = raw.decode(errors="replace").strip().partition(" ")
        if verb == "add" and pgid.isdigit():
            groups.add(int(pgid))
        elif verb == "del" and pgid.isdigit():
            groups.discard(int(pgid))
    terminate_groups(groups, grace_s=grace_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
