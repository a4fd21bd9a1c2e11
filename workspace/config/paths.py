"""What the configuration computes from its project directory, without pydantic: a base
of `Config` (models.py) that the cached configuration (cache.py) shares, so a warm
command resolves paths without importing the models.

    config.path(Path("docker/.env"))   # <project>/docker/.env; an absolute path as it is
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__all__ = ["ProjectPaths"]


class ProjectPaths:
    if TYPE_CHECKING:
        project_dir: Path

    def path(self, relative: Path) -> Path:
        """Resolve a configured path against the project directory."""
        return relative if relative.is_absolute() else self.project_dir / relative
