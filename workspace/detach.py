"""`workspace start --detach`: the apps supervised by a background process.

The launcher brings the dependencies up itself (so the user sees the steps), then starts
`python -m workspace.detach` in a session of its own, its output appended to the
combined log. The handoff (config location, database URL, what was started) goes over
the child's stdin, never argv; the child inherits the run lock's file, so the lock stays
held once the launcher exits. Progress comes back on a pipe, one JSON object per line:

    {"event": "ready", "app": "server", "url": "http://localhost:3002"}
    {"event": "running"}                              -> the launcher exits 0
    {"event": "error", "code": "PRECHECK_APP_EXITED", "exit_code": 21, "message": ...}

A launcher interrupted while waiting sends SIGTERM to the supervisor, which stops the
apps and what was started, and waits for it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workspace.config import Config, load_config
from workspace.console import Console
from workspace.errors import AppStartFailed, WorkspaceError
from workspace.launcher import UpResult, stop_started
from workspace.runstate import AppState, RunLock

__all__ = ["main", "spawn_supervisor"]

_STOP_WAIT_S = 120.0


class _Failed(WorkspaceError):
    """The supervisor's error, as it reported it (code and exit code kept)."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(str(event.get("message", "")), remedy=event.get("remedy"))
        self._code, self._exit = str(event.get("code")), int(event.get("exit_code", 70))

    @property
    def code(self) -> str:
        return self._code

    @property
    def exit_code(self) -> int:
        return self._exit


def spawn_supervisor(config: Config, result: UpResult, lock: RunLock, console: Console) -> int:
    """Start the background supervisor; return 0 once every app is ready."""
    from workspace.start import combined_log

    log_path = combined_log(config)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    handoff = {"project_dir": str(config.project_dir), "result": asdict(result),
               "config_file": str(config.config_file) if config.config_file else None,
               "progress_fd": write_fd, "lock_fd": lock.fd}
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "workspace.detach"], stdin=subprocess.PIPE,
                stdout=log, stderr=subprocess.STDOUT, cwd=config.project_dir,
                start_new_session=True, pass_fds=(write_fd, lock.fd))
    except OSError:
        os.close(read_fd)
        stop_started(config, result.started)
        raise
    finally:
        os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(handoff).encode())
    proc.stdin.close()
    try:
        _follow(read_fd, console, _ready_budget(config))
    except BaseException:  # a failure reported, Ctrl-C, a timeout: nothing may be left
        _stop_child(proc)
        raise
    finally:
        os.close(read_fd)
    if not console.json_mode:
        console.info(f"Workspace running in the background (supervisor pid {proc.pid}); "
                     "`workspace status`, `workspace logs -f`, `workspace stop`")
    return 0


def _follow(fd: int, console: Console, budget_s: float) -> None:
    """Print the supervisor's progress until it reports `running`; raise its error."""
    deadline = time.monotonic() + budget_s
    buffered = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AppStartFailed("(supervisor)", f"the apps were not all ready within "
                                                 f"{budget_s:g}s")
        readable, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AppStartFailed("(supervisor)", "the background supervisor exited without "
                                                 "a word; see .workspace/logs/workspace.log")
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        for line in lines:
            event = json.loads(line)
            if event["event"] == "error":
                raise _Failed(event)
            if console.json_mode:
                console.json(event)
            elif event["event"] == "ready":
                console.ok(f"{event['app']} ready" + (f": {event['url']}" if event.get("url")
                                                      else ""))
            if event["event"] == "running":
                return


def _ready_budget(config: Config) -> float:
    """Bound on the wait for every app: each one's readiness bound and restart backoffs."""
    return 30.0 + sum(a.ready_timeout_s + a.max_restarts * (a.backoff_max_s + a.ready_timeout_s)
                      for a in config.apps.values())


def _stop_child(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- the background supervisor --------------------------------------------------------

def main() -> int:
    from workspace.start import supervise, terminate_as_exit
    from workspace.supervisor.printer import Printer

    handoff = json.loads(sys.stdin.read())
    progress = os.fdopen(handoff["progress_fd"], "w", buffering=1)

    def report(event: dict[str, Any]) -> None:
        try:
            progress.write(json.dumps(event) + "\n")
        except (BrokenPipeError, ValueError):  # the launcher is gone, or we closed it
            pass

    result = UpResult(**handoff["result"])
    try:
        config_file = handoff["config_file"]
        config = load_config(Path(handoff["project_dir"]),
                             config_file=Path(config_file) if config_file else None,
                             cli={"database.url": result.database_url})
    except WorkspaceError as exc:
        report({"event": "error", "code": exc.code, "exit_code": exc.exit_code,
                "message": exc.message, "remedy": exc.remedy})
        return exc.exit_code
    printer = Printer(config.app_order, out=sys.stdout, colour=False)
    printer.system(f"--- supervisor pid {os.getpid()} started")

    def all_ready(apps: list[AppState]) -> None:
        for app in apps:
            report({"event": "ready", "app": app.name, "url": app.url})
        report({"event": "running"})
        progress.close()

    try:
        with terminate_as_exit():  # until the supervisor handles signals itself
            return supervise(config, result, mode="detached", printer=printer,
                             on_all_ready=all_ready)
    except WorkspaceError as exc:
        printer.system(f"{exc.code}: {exc.message}")
        report({"event": "error", "code": exc.code, "exit_code": exc.exit_code,
                "message": exc.message, "remedy": exc.remedy})
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
