"""The tests' session server goes with the pytest that started it, however it dies (a
killed pytest used to leave its PostgreSQL running, port and all)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
from tests.conftest import free_port, watch_server
from workspace.deps.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]) / "data", port=free_port(), database="postgres")
server.start()
watch_server(server, grace_s=2.0)
pid, _ = server._postmaster()
print(pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_a_killed_pytest_leaves_no_server(outside_tmp: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(outside_tmp)],
                             stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1])
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 120.0)  # a server's first start
        assert ready, "the child did not start its server in time"
        pid = int(child.stdout.readline())
        assert alive(pid)
        os.kill(child.pid, signal.SIGKILL)  # no finalizer runs: only the watchdog is left
        child.wait(10)
        deadline = time.monotonic() + 30.0
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), f"postmaster {pid} outlived the killed process"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
