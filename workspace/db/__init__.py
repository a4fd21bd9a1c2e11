"""The database side of workspace: migration files, the runner, the tracking table.

`migrate_project(settings, url)` is what `workspace db migrate`, `workspace start` and
the apps' startup hook (`workspace.startup.migrate_on_startup`) all call. db/ takes its
own settings (`workspace.db.settings`), never the configuration: `workspace.config.db`
builds them from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `workspace.db.connect` alone loads no runner
    from workspace.db.files import MigrationFile
    from workspace.db.runner import MigrateResult, Reporter
    from workspace.db.settings import MigrationSettings

__all__ = ["migrate_project"]


def migrate_project(settings: MigrationSettings, url: str, *, dry_run: bool = False,
                    report: Reporter | None = None,
                    files: list[MigrationFile] | None = None) -> MigrateResult:
    """Check every file (before touching the database), then run the runner."""
    from workspace.db.files import find_migrations
    from workspace.db.runner import migrate

    if files is None:
        files = find_migrations(settings.dir, layout=settings.layout)
    return migrate(url, files, settings.runner, dry_run=dry_run, report=report)
