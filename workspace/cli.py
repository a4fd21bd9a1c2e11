"""Command line: parse, load config, call a command, map errors to exit codes.

One error boundary (`main`): a WorkspaceError prints its code, message and remedy and
exits with its documented code; Ctrl-C exits 130 (SIGTERM 143, SIGHUP 129: signals.py);
anything else is a bug: exit 70 with the traceback in `.workspace/logs/crash.log`.
`--debug` prints the traceback too, and keeps the exit code. The entry point is
__main__.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from workspace import __version__
from workspace.errors import CODES, ConfigError, WorkspaceError
from workspace.output import redact
from workspace.output.console import Console, silence
from workspace.signals import deferred

__all__ = ["main"]

EXIT_OK = 0
EXIT_WORK_PENDING = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_SIGINT = 130
EXIT_BROKEN_PIPE = 141


def _exit_code_help() -> str:
    rows = [f"  {EXIT_OK:>3}  success",
            f"  {EXIT_WORK_PENDING:>3}  `db status --exit-code`: migrations pending (8: one "
            "applied is modified or missing); `status`: no workspace is running; "
            "`restart`: none is running, or the app is not ready again in time",
            f"  {EXIT_USAGE:>3}  command-line usage error"]
    rows += [f"  {c.exit_code:>3}  {c.name}" for c in CODES]
    rows += [f"  {EXIT_INTERNAL:>3}  unexpected internal error (traceback in .workspace/logs/crash.log)",
             "  129  the terminal was closed (SIGHUP)",
             f"  {EXIT_SIGINT:>3}  interrupted (Ctrl-C)",
             f"  {EXIT_BROKEN_PIPE:>3}  the output pipe was closed (e.g. `| head`)",
             "  143  terminated (SIGTERM)"]
    return "exit codes:\n" + "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    from workspace.commands import db, start, up
    from workspace.commands import init as init_command

    parser = argparse.ArgumentParser(
        prog="workspace", description="Bring the development stack up on a database known good.",
        epilog=_exit_code_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workspace {__version__}")
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="project directory (default: the current one)")
    parser.add_argument("--config", type=Path, default=None,
                        help="config file (default: <project>/config.yaml)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    start.register(sub)
    up.register(sub)
    db.register(sub)
    init_command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with deferred():  # the parser's imports: not cut short (see __main__.py)
        parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # as parse_args, with where psql's own arguments go
        hint = (" (psql's own arguments go after `--`: workspace db psql -- -c 'SELECT 1')"
                if getattr(args, "db_command", None) == "psql" else "")
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    with deferred():  # what every command loads (the commands import the rest lazily):
        if getattr(args, "models", True):  # not those that run without (config/cache.py)
            import workspace.config.models  # noqa: F401  pydantic_core panics if a signal cuts it short
    console = Console(json_mode=getattr(args, "json", False))
    redact.on_weak_password(console.warn)
    redact.install_excepthooks()  # a thread's traceback is masked too
    if not args.debug:
        _quiet_library_logs()
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        _check_project_dir(args)
        return handler(args, console)
    except WorkspaceError as exc:
        if args.debug:
            _print_traceback()
        console.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.warn("interrupted")
        return EXIT_SIGINT
    except BrokenPipeError as exc:
        closed = [stream for stream in (sys.stdout, sys.stderr) if _reader_gone(stream)]
        if not closed:  # a socket's or a child's pipe broke: not our reader going away
            return _internal_error(args, console, exc)
        # The reader went away (`| head`): say nothing more, and keep the interpreter's
        # final flush from failing again (the recipe in Python's signal docs).
        for stream in closed:
            silence(stream)
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one boundary for bugs
        return _internal_error(args, console, exc)
    finally:
        redact.on_weak_password(None)  # the console goes with this call


def _check_project_dir(args: argparse.Namespace) -> None:
    """`--project-dir` names a directory (`init` makes a new one): a typo must not become
    a project, with a database cluster in it."""
    given: Path | None = args.project_dir
    if given is None or args.command == "init" or given.is_dir():
        return
    problem = "not a directory" if os.path.lexists(given) else "no such directory"
    raise ConfigError(f"--project-dir {given}: {problem}",
                      remedy="Name the project's directory (or run the command in it).")


def _quiet_library_logs() -> None:
    """psycopg logs the errors it ignores while an exception ends a `with` block: the
    rollback of a connection that a Ctrl-C left busy ("error ignored in rollback"). No
    handler configured, Python would print them after our own message; the exception
    that ended the block is the one reported. `--debug` leaves them shown."""
    import logging  # loaded already (by psycopg, by the commands): costs nothing here

    logger = logging.getLogger("psycopg")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _print_traceback() -> None:
    """--debug: the traceback of the exception being handled, masked, on stderr."""
    sys.stderr.write(redact.redact(traceback.format_exc()))
    sys.stderr.flush()


def _internal_error(args: argparse.Namespace, console: Console, exc: Exception) -> int:
    if args.debug:
        _print_traceback()
        console.line(f"unexpected error: {redact.redact(repr(exc))}", "error")
        return EXIT_INTERNAL
    log = _crash_log(args.project_dir)
    console.line(f"unexpected error: {redact.redact(repr(exc))}", "error")
    console.line(f"  This is a bug in workspace; the traceback is in {log}.")
    return EXIT_INTERNAL


def _reader_gone(stream: TextIO) -> bool:
    """Whether the reader of our output `stream` is gone: its pipe (or socket) polls as
    an error or a hang-up. A BrokenPipeError from anything else (a socket, a child's
    stdin) is not the user's `| head`, and must not pass as one."""
    import select

    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _crash_log(project_dir: Path | None) -> Path:
    from workspace.project.root import find_root

    path = (project_dir or find_root(Path.cwd())) / ".workspace" / "logs" / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"--- workspace {__version__}, argv {redact.redact(' '.join(sys.argv))}\n")
            fh.write(redact.redact(traceback.format_exc()))
    except OSError:
        pass
    return path
