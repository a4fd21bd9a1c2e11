"""Which project a command is about: found from any of its subdirectories, as git finds
`.git`.

    root = find_root(Path.cwd())   # the nearest directory up holding config.yaml

The walk stops at a repository's top (a directory holding `.git`): a `config.yaml` above
the repository belongs to something else. With no `config.yaml` on the way, the starting
directory is the project (every field has a default). `--project-dir` skips the walk.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFIG_FILE", "find_root"]

CONFIG_FILE = "config.yaml"


def find_root(start: Path) -> Path:
    """The nearest directory from `start` up that holds `config.yaml`, else `start`."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if os.path.lexists(directory / CONFIG_FILE):  # a broken one is reported, not skipped
            return directory
        if os.path.lexists(directory / ".git"):
            break
    return start
