"""`python -m workspace` and the `workspace` console script.

Tiny on purpose: the signal handlers go in first, before the heavy imports, so a Ctrl-C
at any moment exits 130 (SIGTERM 143, SIGHUP 129) without a traceback; see signals.py.
"""

from __future__ import annotations

from workspace import signals

__all__ = ["main"]


def main() -> int:
    try:
        signals.install()  # from here on a signal waits, until the command may be cut short
        try:
            from workspace.cli import main as run

            with signals.interruptible():  # one that waited is raised as this begins
                return run()
        finally:
            signals.finish()  # from here on a signal is ignored: the command is over
    except KeyboardInterrupt:
        signals.finish()
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
