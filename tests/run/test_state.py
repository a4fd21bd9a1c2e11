"""The run lock and the state file: what a crash leaves is recognised, never trusted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from workspace.run.state import RunLock, RunState, StateStore
from workspace.supervisor.identity import same_process
from workspace.supervisor.snapshot import AppState


def test_the_lock_is_exclusive_and_goes_with_its_holder(tmp_path: Path) -> None:
    mine = RunLock(tmp_path)
    assert not mine.held() and mine.acquire()
    assert mine.held() and not RunLock(tmp_path).acquire()
    mine.release()
    assert not mine.held()
    # another process holds it until it dies, however it dies (SIGKILL here)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from workspace.run.state import RunLock; assert RunLock(Path(sys.argv[1])).acquire(); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert mine.held() and not mine.wait_released(0.2)
        holder.kill()
        holder.wait()
        assert mine.wait_released(5)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_an_inherited_lock_stays_held_after_the_parent_lets_go(tmp_path: Path) -> None:
    """What `start --detach` relies on: the supervisor inherits the lock's file."""
    lock = RunLock(tmp_path)
    assert lock.acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             pass_fds=(lock.fd,))
    try:
        lock.release()
        assert RunLock(tmp_path).held()
        child.kill()
        child.wait()
        assert RunLock(tmp_path).wait_released(5)
    finally:
        child.kill()
        child.wait()


def test_state_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.read() is None
    state = RunState.mine("detached")
    state.apps["api"] = AppState("api", "ready", 123, 1.5, 3002, "http://localhost:3002")
    store.write(state)
    back = store.read()
    assert back == state and back.alive()
    assert [p.name for p in store.path.parent.iterdir()] == ["state.json"]  # no temp left
    store.path.write_text("{not json")
    assert store.read() is None
    store.clear()
    store.clear()  # idempotent
    assert not store.path.exists()


def test_a_pid_is_the_same_process_only_with_its_start_time() -> None:
    me = RunState.mine("foreground")
    assert same_process(me.pid, me.pid_started)
    boot, ticks = str(me.pid_started).rsplit(":", 1)
    assert not same_process(me.pid, f"{boot}:{int(ticks) - 100}")  # the pid was reused since
    assert not same_process(me.pid, f"another-boot:{ticks}")  # a record from before a reboot
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert not same_process(int(gone.stdout), time.time())
    assert not same_process(None, time.time()) and not same_process(os.getpid(), None)


def test_a_live_launcher_stays_alive_when_the_wall_clock_steps(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write(RunState.mine("foreground"))
    with pytest.MonkeyPatch.context() as patch:
        # the wall clock steps 5 minutes (NTP, a resume): psutil derives a create time
        # from the boot time, the wall clock minus the uptime, so it moves with it
        real = psutil.Process.create_time
        patch.setattr(psutil.Process, "create_time", lambda self: real(self) + 300.0)
        state = store.read()
        assert state is not None and state.alive()
