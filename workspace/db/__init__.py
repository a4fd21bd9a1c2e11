"""The database side of workspace: migration files, the runner, the tracking table.

`migrate_project(config)` is what `workspace db migrate`, `workspace start` and the
apps' startup hook (`workspace.startup.migrate_on_startup`) all call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `workspace.db.connect` alone loads no runner
    from workspace.config import Config
    from workspace.db.files import MigrationFile
    from workspace.db.runner import MigrateResult, Reporter, RunnerSettings

__all__ = ["migrate_project", "runner_settings"]


def runner_settings(config: Config) -> RunnerSettings:
    from workspace.db.runner import RunnerSettings

    m = config.migrations
    return RunnerSettings(lock_wait_s=m.lock_wait_s, lock_timeout_s=m.lock_timeout_s,
                          statement_timeout_s=m.statement_timeout_s,
                          connect_timeout_s=config.database.connect_timeout_s,
                          table=m.table, cache_dir=config.state_dir / "cache")


def migrate_project(config: Config, url: str, *, dry_run: bool = False,
                    report: Reporter | None = None,
                    files: list[MigrationFile] | None = None) -> MigrateResult:
    """Check every file (before touching the database), then run the runner."""
    from workspace.db.files import find_migrations
    from workspace.db.runner import migrate

    if files is None:
        files = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    return migrate(url, files, runner_settings(config), dry_run=dry_run, report=report)
