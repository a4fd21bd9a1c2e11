"""The database layer's settings, read from the configuration: the one place that turns
a `Config` into what db/ takes (`workspace.db.settings`), so db/ never imports config.

    migrate_project(migration_settings(config), url)
    validate(url, validation_settings(config), migrations)
    reset(url, connect_timeout_s=config.database.connect_timeout_s, ...)

Plain functions reading fields and properties, so they work as well on the cached
configuration's read-only view (`workspace.config.cache`) as on the model itself.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workspace.config.models import Config
    from workspace.db.runner import RunnerSettings
    from workspace.db.settings import MigrationSettings, ValidationSettings

__all__ = ["migration_settings", "runner_settings", "validation_settings"]


def runner_settings(config: Config) -> RunnerSettings:
    from workspace.db.runner import RunnerSettings  # the runner loads only when it runs

    m = config.migrations
    return RunnerSettings(lock_wait_s=m.lock_wait_s, lock_timeout_s=m.lock_timeout_s,
                          statement_timeout_s=m.statement_timeout_s,
                          connect_timeout_s=config.database.connect_timeout_s,
                          table=m.table, cache_dir=config.state_dir / "cache")


def migration_settings(config: Config) -> MigrationSettings:
    from workspace.db.settings import MigrationSettings

    return MigrationSettings(config.migrations_dir, config.migrations.layout,
                             runner_settings(config))


def validation_settings(config: Config) -> ValidationSettings:
    from workspace.db.settings import ValidationSettings

    pre = config.precheck
    return ValidationSettings(
        runner=runner_settings(config),
        cache_dir=config.state_dir / "cache",
        snapshot=config.path(pre.snapshot),
        critical_tables=MappingProxyType(dict(pre.critical_tables)),
        critical_functions=tuple(pre.critical_functions),
        required_extensions=tuple(pre.required_extensions),
        ignore=tuple(pre.ignore),
        compare_owners=pre.compare_owners,
        changed=pre.drift.changed,
        extra=pre.drift.extra)
