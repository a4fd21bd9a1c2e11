"""`python -m workspace.run.detached`: the process of the detached supervisor (detach.py
starts it), entered as `workspace` itself is: the signal handler first, then the imports
(signals.py's `entry`), so a SIGTERM at any moment of its start stops it cleanly."""

from __future__ import annotations

from workspace.signals import entry

if __name__ == "__main__":
    raise SystemExit(entry("workspace.run.detach", interruptible=False))
