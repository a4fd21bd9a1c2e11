"""The hook an app calls at its own startup: the same runner as `workspace db migrate`.

    from workspace.startup import migrate_on_startup
    migrate_on_startup()          # raises WorkspaceError: refuse to start on failure

With nothing pending it costs one connection and one query. `SKIP_MIGRATIONS=1` skips
it with a loud warning; `workspace start` then relies on the schema validation alone.

Replicas that must not migrate wait for the one that does:

    from workspace.startup import wait_for_migrations
    wait_for_migrations(timeout=60)   # raises MigrationsPending (exit code 25) on timeout
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from workspace.config.db import migration_settings
from workspace.config.models import load_config
from workspace.db import migrate_project
from workspace.db.files import MigrationFile, find_migrations
from workspace.db.plan import Plan
from workspace.db.runner import MigrateResult
from workspace.db.wait import check_timeout
from workspace.db.wait import wait_for_migrations as _wait
from workspace.output import redact
from workspace.run.running_db import database_url

__all__ = ["migrate_on_startup", "wait_for_migrations"]

log = logging.getLogger("workspace.startup")


def migrate_on_startup(url: str | None = None, *, project_dir: Path | None = None,
                       migrations_dir: Path | None = None) -> MigrateResult | None:
    """Apply pending migrations, or raise; None when SKIP_MIGRATIONS is set."""
    cli = {"database.url": url, "migrations.dir": migrations_dir}
    config = load_config(project_dir, cli=cli)
    if config.migrations.skip:
        warning = ("SKIP_MIGRATIONS is set: this app did NOT run database migrations. "
                   "The schema may be out of date; only `workspace db validate` guards it.")
        log.warning(warning)
        sys.stderr.write(f"\n{'!' * 78}\n!! WARNING: {warning}\n{'!' * 78}\n\n")
        return None

    def report(event: str, migration: MigrationFile, elapsed_ms: float | None) -> None:
        if event == "applied":
            log.info("Applied: %s in %.0fms", migration.name, elapsed_ms or 0.0)

    target = database_url(config)
    log.debug("migrating %s", redact.mask_url(target))
    return migrate_project(migration_settings(config), target, report=report)


def wait_for_migrations(url: str | None = None, *, timeout: float = 60.0,
                        project_dir: Path | None = None,
                        migrations_dir: Path | None = None) -> Plan:
    """Return once nothing is pending and no runner holds the migration lock; never
    migrates. Retries a database that is not up yet. Raises `MigrationsPending` (or the
    last `DatabaseUnreachable`) after `timeout` seconds."""
    check_timeout(timeout, "wait_for_migrations(timeout=...)")
    config = load_config(project_dir, cli={"database.url": url, "migrations.dir": migrations_dir})
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)

    def report(reason: str) -> None:
        log.info("Waiting: %s", reason)

    return _wait(database_url(config), files, timeout_s=timeout,
                 connect_timeout_s=config.database.connect_timeout_s, report=report,
                 table=config.migrations.table)
