"""`workspace start --detach`: the apps supervised by a background process.

The launcher brings the dependencies up itself (so the user sees the steps), then starts
`python -m workspace.run.detached` (which runs `main()` here) in a session of its own, its
output appended to the combined log. The handoff (config location, database URL, what was started) goes over
the child's stdin, never argv; the child inherits the run lock's file, so the lock stays
held once the launcher exits. Progress comes back on a pipe, one JSON object per line:

    {"event": "ready", "app": "server", "url": "http://localhost:3002"}
    {"event": "running"}                              -> the launcher exits 0
    {"event": "error", "code": "PRECHECK_APP_EXITED", "exit_code": 21, "message": ...}
    {"event": "stopped", "exit_code": 143}            -> stopped before it was ready

A launcher interrupted while waiting sends SIGTERM to the supervisor, which stops the
apps and what was started, and waits for it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workspace.config.models import Config, load_config
from workspace.errors import AppStartFailed, WorkspaceError
from workspace.output.console import Console
from workspace.run.launcher import UpResult
from workspace.run.state import RunLock, StateStore
from workspace.signals import interruptible
from workspace.supervisor.snapshot import AppState
from workspace.waits import polling

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
    from workspace.run.session import combined_log

    log_path = combined_log(config)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    handoff = {"project_dir": str(config.project_dir), "result": asdict(result),
               "config_file": str(config.config_file) if config.config_file else None,
               "progress_fd": write_fd, "lock_fd": lock.fd,
               "apps": list(config.apps)}  # those selected (workspace start APP ...)
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "workspace.run.detached"], stdin=subprocess.PIPE,
                stdout=log, stderr=subprocess.STDOUT, cwd=config.project_dir,
                start_new_session=True, pass_fds=(write_fd, lock.fd))
    except OSError:
        os.close(read_fd)
        raise  # start() stops what up() started
    finally:
        os.close(write_fd)
    try:
        assert proc.stdin is not None
        with interruptible():  # a signal while the apps come up stops the supervisor
            with proc.stdin:
                proc.stdin.write(json.dumps(handoff).encode())
            stopped = _follow(read_fd, console, _ready_budget(config))
    except BaseException:  # a failure reported, Ctrl-C, a timeout: nothing may be left
        _stop_child(proc)
        raise
    finally:
        os.close(read_fd)
    if stopped is not None:
        _stop_child(proc)  # it is exiting: reap it
        console.warn("The workspace was stopped before every app was ready")
        return stopped
    if not console.json_mode:
        state = StateStore(config.state_dir).read()
        if state is not None and state.page:  # as the foreground run shows it: to be used
            console.ok(f"Workspace page: {state.page['url']}#key={state.page['token']}")
        console.info(f"Workspace running in the background (supervisor pid {proc.pid}); "
                     "`workspace status`, `workspace logs -f`, `workspace stop`")
    return 0


def _follow(fd: int, console: Console, budget_s: float) -> int | None:
    """Print the supervisor's progress until it reports `running` (None), or `stopped`
    before that (its exit code); raise its error."""
    buffered = b""
    for left in polling(budget_s, interval_s=0.0):  # the select() is the wait
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
                return None
            if event["event"] == "stopped":  # by `workspace stop`, or a signal
                return int(event["exit_code"])
    raise AppStartFailed("(supervisor)", f"the apps were not all ready within {budget_s:g}s")


def _ready_budget(config: Config) -> float:
    """Bound on the wait for every app: each one's readiness bound and restart backoffs."""
    return 30.0 + sum(a.ready_timeout_s + a.max_restarts * (a.backoff_max_s + a.ready_timeout_s)
                      for a in config.apps.values())


def _stop_child(proc: subprocess.Popen[bytes]) -> None:
    from workspace.supervisor.groups import terminate_groups

    if proc.poll() is None:  # not reaped yet: its pid (and group: it leads it) is ours
        terminate_groups([proc.pid], grace_s=_STOP_WAIT_S)
    proc.wait()  # gone, or a zombie after SIGKILL


# -- the background supervisor --------------------------------------------------------

class _Progress:
    """The pipe to the launcher. Once the launcher is gone (it was killed, or it exited
    after `running`) nothing more is sent, and the apps run on."""

    def __init__(self, fd: int) -> None:
        self._pipe: Any = os.fdopen(fd, "w", buffering=1)

    def send(self, event: dict[str, Any]) -> None:
        if self._pipe is None:
            return
        try:
            self._pipe.write(json.dumps(event) + "\n")
        except OSError:  # EPIPE: the launcher is gone
            self.close()

    def error(self, exc: WorkspaceError) -> None:
        self.send({"event": "error", "code": exc.code, "exit_code": exc.exit_code,
                   "message": exc.message, "remedy": exc.remedy})

    def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            try:
                pipe.close()
            except OSError:  # what was still buffered cannot be delivered
                pass


def main() -> int:
    """The supervisor's side (`python -m workspace.run.detached` enters here, signals already
    handled): a signal waits until the progress pipe is open, so the launcher always
    hears how it ended; from there on it stops the run (what up() started is stopped by
    the launcher before `running`, by this process after)."""
    from workspace.output import redact

    redact.install_excepthooks()  # its output goes to the combined log
    handoff = json.loads(sys.stdin.read())  # written at once; EOF if the launcher died
    progress = _Progress(handoff["progress_fd"])
    try:
        with interruptible():  # one that waited is raised as this begins
            code = _supervise(handoff, progress)
    except WorkspaceError as exc:
        progress.error(exc)
        return exc.exit_code
    except SystemExit as exc:  # a signal before the supervisor handled them itself
        progress.send({"event": "stopped", "exit_code": exc.code})
        raise
    except KeyboardInterrupt:
        progress.send({"event": "stopped", "exit_code": 130})
        raise
    progress.send({"event": "stopped", "exit_code": code})  # stopped before ready
    return code


def _supervise(handoff: dict[str, Any], progress: _Progress) -> int:
    from workspace.run.session import supervise
    from workspace.supervisor.printer import Printer

    result = UpResult.from_json(handoff["result"])
    config_file = handoff["config_file"]
    config = load_config(Path(handoff["project_dir"]),
                         config_file=Path(config_file) if config_file else None,
                         cli={"database.url": result.database_url})
    selected = handoff.get("apps", list(config.apps))
    config = config.model_copy(update={"apps": {n: config.apps[n] for n in selected}})
    printer = Printer(config.app_order, out=sys.stdout, colour=False)
    printer.system(f"--- supervisor pid {os.getpid()} started")

    def all_ready(apps: list[AppState]) -> None:
        for app in apps:
            progress.send({"event": "ready", "app": app.name, "url": app.url})
        progress.send({"event": "running"})
        progress.close()

    try:
        return supervise(config, result, mode="detached", printer=printer,
                         on_all_ready=all_ready)
    except WorkspaceError as exc:
        printer.system(f"{exc.code}: {exc.message}")
        raise
