"""Debian packages the tests need beside the pip ones (the browser, a library a fetched
extension links to), installed on first use with apt-get when missing: sessions and CI run
as root. Not a skip: without root or apt-get, a failure saying what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

__all__ = ["ensure_package"]


def ensure_package(package: str, present: Callable[[], bool], need: str) -> None:
    """`package` installed unless `present()` already says so; `need` says who needs it."""
    if present():
        return
    remedy = f"install Debian's {package}: apt-get update && apt-get install -y {package}"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{need}: {remedy}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(step)}` failed ({remedy}):\n{done.stdout[-2000:]}"
                        f"{done.stderr[-2000:]}")
    assert present(), f"apt-get installed {package}, yet it is not found"
