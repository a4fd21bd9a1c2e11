"""Which project a command is about: found from any of its subdirectories, as git finds
`.git`.

    root = find_root(Path.cwd())   # the nearest directory up holding config.yaml
    enclosing_root(Path("src"))    # the project above src/, None when there is none

The walk stops at a repository's top (a directory holding `.git`): a `config.yaml` above
the repository belongs to something else. With no `config.yaml` on the way, the starting
directory is the project (every field has a default). `--project-dir` skips the walk.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFIG_FILE", "enclosing_root", "find_root"]

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


def enclosing_root(directory: Path) -> Path | None:
    """The project `directory` lies in, found above it as `find_root` finds it; None when
    there is none (or `directory` is a repository's top)."""
    directory = directory.resolve()
    if os.path.lexists(directory / ".git"):
        return None
    above = find_root(directory.parent)
    return above if os.path.lexists(above / CONFIG_FILE) else None
