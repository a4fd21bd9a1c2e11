"""`python -m workspace` and the `workspace` console script.

Tiny on purpose: the signal handler goes in first, before the heavy imports, so a Ctrl-C
at any moment exits 130 (SIGTERM 143, SIGHUP 129) without a traceback; see signals.py's
`entry`, through which the detached supervisor's process (`python -m
workspace.run.detached`) comes in too.
"""

from __future__ import annotations

from workspace.signals import entry

__all__ = ["main"]


def main() -> int:
    return entry("workspace.cli")


if __name__ == "__main__":
    raise SystemExit(main())
