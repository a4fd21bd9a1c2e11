"""Command line: parse, load config, call a command, map errors to exit codes.

One error boundary (`main`): a WorkspaceError prints its code, message and remedy and
exits with its documented code; Ctrl-C exits 130 (SIGTERM 143, SIGHUP 129: signals.py);
anything else is a bug: exit 70 with the traceback in `.workspace/logs/crash.log` (or
re-raised with `--debug`). The entry point is __main__.py.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from workspace import __version__, redact
from workspace.console import Console, silence
from workspace.errors import CODES, WorkspaceError
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
            "applied is modified or missing); `status`: no workspace is running",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with deferred():  # the parser's imports: not cut short (see __main__.py)
        parser = build_parser()
    args = parser.parse_args(argv)
    with deferred():  # what every command loads (the commands import the rest lazily):
        if getattr(args, "models", True):  # not those that run without (config_cache.py)
            import workspace.config  # noqa: F401  pydantic_core panics if a signal cuts it short
    console = Console(json_mode=getattr(args, "json", False))
    redact.on_weak_password(console.warn)
    redact.install_excepthooks()  # --debug re-raises: its traceback is masked too
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        return handler(args, console)
    except WorkspaceError as exc:
        if args.debug:
            raise
        console.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.warn("interrupted")
        return EXIT_SIGINT
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, and keep the interpreter's
        # final flush from failing again (the recipe in Python's signal docs).
        silence(sys.stdout)
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one boundary for bugs
        if args.debug:
            raise
        log = _crash_log(args.project_dir)
        console.line(f"unexpected error: {redact.redact(repr(exc))}", "error")
        console.line(f"  This is a bug in workspace; the traceback is in {log}.")
        return EXIT_INTERNAL
    finally:
        redact.on_weak_password(None)  # the console goes with this call


def _crash_log(project_dir: Path | None) -> Path:
    path = (project_dir or Path.cwd()) / ".workspace" / "logs" / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"--- workspace {__version__}, argv {redact.redact(' '.join(sys.argv))}\n")
            fh.write(redact.redact(traceback.format_exc()))
    except OSError:
        pass
    return path
