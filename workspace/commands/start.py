"""`workspace start [--detach]`, `stop`, `status`, `logs`: the whole stack, apps included."""

from __future__ import annotations

import argparse
import codecs
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.commands.common import add_common, config_from
from workspace.errors import ConfigError
from workspace.output.console import Console

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["register"]

EXIT_NOT_RUNNING = 1
MAX_LOG_BYTES = 1 << 32  # read whole for its last lines, as before: bounded all the same


def register(sub: Any) -> None:
    p = sub.add_parser(
        "start", help="dependencies up, migrated and prechecked, then the apps, supervised",
        description="Everything `workspace up` does, then the apps of config.yaml, each "
                    "once its dependencies are ready, with their output prefixed here and "
                    "in .workspace/logs. Ctrl-C stops the apps, then what this run started.")
    add_common(p)
    p.add_argument("-d", "--detach", action="store_true",
                   help="return once every app is ready; the apps run in the background")
    p.add_argument("apps", nargs="*", metavar="APP",
                   help="only these apps, with what they depend on (default: every app "
                        "without profiles, and those of the profiles selected)")
    p.add_argument("--profile", action="append", default=[], metavar="NAME",
                   help="also the apps of this profile (apps.<name>.profiles); repeatable")
    p.set_defaults(handler=_start)
    p = sub.add_parser("stop", help="stop the running workspace: apps, then what it started")
    add_common(p, url=False)
    p.set_defaults(handler=_stop)
    p = sub.add_parser("status", help="the launcher, dependencies and apps, checked now",
                       description=f"Exits {EXIT_NOT_RUNNING} when no workspace is running.")
    add_common(p, url=False)
    p.set_defaults(handler=_status, models=False)  # pydantic only on a config cache miss
    p = sub.add_parser("logs", help="the apps' output (.workspace/logs)")
    p.add_argument("app", nargs="?", help="one app's own log (default: all of them, prefixed)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new lines until the workspace stops or Ctrl-C")
    p.add_argument("-n", "--lines", type=_line_count, default=100, metavar="N",
                   help="start with the last N lines (default 100; 0: none, as tail; "
                        "all: every line)")
    p.add_argument("--since", type=_since, metavar="WHEN",
                   help="only lines from then on: 10m, 90s, 2h, 1d ago, or an ISO date/time")
    p.add_argument("--grep", type=_pattern, metavar="PATTERN",
                   help="only lines matching this regular expression (Python's re)")
    p.set_defaults(handler=_logs, json=False)
    p = sub.add_parser("restart", help="restart an app of the running workspace, and the "
                                       "apps that depend on it",
                       description="Asks the running launcher (through its live page) to "
                                   "restart APP and its dependents, then waits until each is "
                                   "ready again. Exits 1 when no workspace runs or they are "
                                   "not ready in time.")
    p.add_argument("app", help="the app's name in config.yaml")
    p.set_defaults(handler=_restart, json=False)


def _line_count(text: str) -> int | None:
    """`-n`: a count of lines (0 prints none, as `tail -n 0`), or `all` (None)."""
    if text == "all":
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number of lines nor `all`")


def _since(text: str) -> float:
    from workspace.supervisor.logtime import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"invalid regular expression {text!r}: {exc}") from None


def _start(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.start import start

    return start(config_from(args), console, detach=args.detach, apps=args.apps,
                 profiles=args.profile)


def _restart(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.restart import restart

    return restart(config_from(args), console, args.app)


def _stop(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.stop import stop

    try:
        config = config_from(args)
    except ConfigError as exc:
        # A workspace must stay stoppable after its config.yaml was damaged: the running
        # launcher is found from its state in .workspace/ (it has its configuration in
        # memory), and what a dead one left is only stopped when its identity matches.
        from workspace.config.models import Config

        project = (args.project_dir or Path.cwd()).resolve()
        console.warn(f"{exc.code}: {exc.message}\n  Stopping with the defaults: the "
                     f"workspace is found from its state in {project / '.workspace'}.")
        config = Config(project_dir=project)
    return stop(config, console)


def _status(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.status import collect

    report = collect(config_from(args))
    if console.json_mode:
        console.json(report)
    else:
        _show_status(console, report)
    return 0 if report["running"] else EXIT_NOT_RUNNING


def _show_status(console: Console, report: dict[str, Any]) -> None:
    if report["running"]:
        console.ok(f"Workspace running ({report['mode']}, launcher pid {report['pid']}, "
                   f"up {_duration(report['uptime_s'])}, {report['phase']})")
    else:
        console.info("No workspace is running")
    if report.get("page"):
        console.info(f"Workspace page: {report['page']} (its token: .workspace/run/state.json)")
    for dep in report["dependencies"]:
        line = f"{dep['name']:<10} {dep['backend']:<9} {dep['state']:<12} {dep['address']}"
        (console.ok if dep["state"] in ("running", "ready") else console.info)(line)
    for app in report["apps"]:
        where = app["url"] or (f"port {app['port']}" if app["port"] else "")
        pid = f"pid {app['pid']}" if app["pid"] else ""
        uptime = f"up {_duration(app['uptime_s'])}" if app["uptime_s"] is not None else ""
        restarts = f"{app['restarts']} restarts" if app["restarts"] else ""
        liveness = f"liveness {app['liveness']}" if app.get("liveness") else ""
        line = "  ".join(x for x in (f"{app['name']:<10} {app['state']:<10}", pid, where,
                                     f"health {app['health']}", liveness, uptime, restarts)
                         if x)
        healthy = (app["state"] in ("ready", "completed") and app["health"] in ("ok", "unknown")
                   and app.get("liveness") in (None, "ok"))
        (console.ok if healthy else console.warn if report["running"] else console.info)(line)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _logs(args: argparse.Namespace, console: Console) -> int:
    from workspace.errors import display_path
    from workspace.run.session import combined_log
    from workspace.run.state import RunLock
    from workspace.userfile import NotReadable, read_regular

    config = config_from(args)
    path = _log_path(config, args.app, combined_log(config))
    if not path.exists() and not path.is_symlink():
        console.info(f"No log yet at {path}: `workspace start` writes it")
        return 0
    try:  # a regular file only: a directory or a FIFO there is named, never opened
        data = read_regular(path, max_bytes=MAX_LOG_BYTES)
    except NotReadable as exc:
        raise ConfigError(f"{display_path(path)} {exc.problem}",
                          remedy="Remove it: `workspace start` writes the log there "
                                 "(supervisor.log_dir).") from None
    out = sys.stdout
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # chunks may split a character
    filtered = args.since is not None or args.grep is not None
    partial = b""  # filtering: a line is judged once whole

    def show(data: bytes) -> None:
        nonlocal partial
        if filtered:
            from workspace.supervisor.logtime import select

            *lines, partial = (partial + data).split(b"\n")
            data = b"".join(line + b"\n" for line in select(lines, since=args.since,
                                                             grep=args.grep))
        out.write(decoder.decode(data))
        out.flush()

    with open(path, "rb") as fh:
        fh.seek(len(data))
        if filtered:
            from workspace.supervisor.logtime import select

            data = b"".join(select(data.splitlines(keepends=True), since=args.since,
                                   grep=args.grep))
        out.write(decoder.decode(_tail(data, args.lines)))
        out.flush()
        if not args.follow:
            return 0
        lock = RunLock(config.state_dir)
        idle_checks = 0
        while True:  # as `tail -f`, until the workspace stops (checked every ~2 s)
            chunk = fh.read()
            if chunk:
                show(chunk)
                continue
            idle_checks += 1
            if idle_checks % 10 == 0 and not lock.held():
                return 0
            time.sleep(0.2)


def _log_path(config: Config, app: str | None, combined: Path) -> Path:
    if app is None:
        return combined
    if app not in config.apps:
        known = ", ".join(config.apps) or "none configured"
        raise ConfigError(f"no app named `{app}` in the configuration (apps: {known})",
                          remedy="Name one of the apps of config.yaml, or none for all.")
    return config.path(config.supervisor.log_dir) / f"{app}.log"


def _tail(data: bytes, lines: int | None) -> bytes:
    if lines is None:
        return data
    if lines == 0:
        return b""
    kept = data.splitlines(keepends=True)[-lines:]
    return b"".join(kept)
