"""`python -m workspace` and the `workspace` console script.

Tiny on purpose: the signal handlers go in first, before the heavy imports, so a Ctrl-C
at any moment exits 130 (SIGTERM 143, SIGHUP 129) without a traceback; see signals.py.
The detached supervisor's process (`python -m workspace.run.detached`) comes in through the
same `entry`.
"""

from __future__ import annotations

from workspace.run import signals

__all__ = ["entry", "main"]


def entry(module: str, *, interruptible: bool = True) -> int:
    """Install the signal handler, then import `module` and return its `main()`, which
    may be cut short by a signal (one that came during the imports: as it begins). With
    `interruptible=False`, `main()` says itself where it may be cut short."""
    try:
        signals.install()  # from here on a signal waits, until the command may be cut short
        try:
            run = __import__(module, fromlist=["main"]).main

            if not interruptible:
                return int(run())
            with signals.interruptible():  # one that waited is raised as this begins
                return int(run())
        finally:
            signals.finish()  # from here on a signal is ignored: the command is over
    except KeyboardInterrupt:
        signals.finish()
        return 130


def main() -> int:
    return entry("workspace.cli")


if __name__ == "__main__":
    raise SystemExit(main())
