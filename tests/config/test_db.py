"""db/'s settings built from the configuration: every value carried over, and the cached
configuration's view answers them without loading the models (the warm path stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workspace.config import cache as config_cache
from workspace.config.db import migration_settings, runner_settings, validation_settings
from workspace.config.models import load_config
from workspace.db.runner import RunnerSettings
from workspace.db.settings import MigrationSettings, ValidationSettings

CONFIG = """\
database:
  connect_timeout_s: 7
migrations:
  dir: db/migrations
  layout: numbered
  lock_wait_s: 12
  lock_timeout_s: 3
  statement_timeout_s: 45
  table: workspace.schema_migrations
precheck:
  critical_tables: {"kb.documents": 8, "kb.tags": null}
  critical_functions: ["kb.update_tsv()"]
  required_extensions: [pgcrypto]
  ignore: [kb.scratch]
  compare_owners: true
  drift: {changed: warning, extra: warning}
  snapshot: db/schema.json
"""


def runner(project: Path) -> RunnerSettings:
    return RunnerSettings(lock_wait_s=12, lock_timeout_s=3, statement_timeout_s=45,
                          connect_timeout_s=7, table="workspace.schema_migrations",
                          cache_dir=project / ".workspace/cache")


def expected(project: Path) -> tuple[MigrationSettings, ValidationSettings]:
    return (MigrationSettings(project / "db/migrations", "numbered", runner(project)),
            ValidationSettings(runner(project), project / ".workspace/cache", project / "db/schema.json",
                               {"kb.documents": 8, "kb.tags": None}, ("kb.update_tsv()",),
                               ("pgcrypto",), ("kb.scratch",), True, "warning", "warning"))


def built(config: Any) -> tuple[MigrationSettings, ValidationSettings]:
    return migration_settings(config), validation_settings(config)


def test_every_setting_comes_from_the_configuration(project: Path) -> None:
    (project / "config.yaml").write_text(CONFIG)
    config = load_config(project, environ={})
    assert runner_settings(config) == runner(project)
    assert built(config) == expected(project)


def test_the_defaults_are_the_runners_and_validations_own(project: Path) -> None:
    config = load_config(project, environ={})
    migrations, precheck = built(config)
    defaults = RunnerSettings(cache_dir=project / ".workspace/cache")
    assert migrations == MigrationSettings(project / "migrations", "auto", defaults)
    assert precheck == ValidationSettings(defaults, project / ".workspace/cache",
                                          project / "migrations/schema.snapshot.json")


def test_the_cached_view_answers_without_loading_the_models(project: Path) -> None:
    (project / "config.yaml").write_text(CONFIG)
    config_cache.load_config(project, environ={})  # a miss: writes the cache
    view = config_cache.load_config(project, environ={})
    assert isinstance(view, config_cache._View)
    assert built(view) == expected(project)
    assert view.__dict__["_view_root"]._model is None  # no fall-back to pydantic


def test_the_settings_are_read_only(project: Path) -> None:
    (project / "config.yaml").write_text(CONFIG)
    _, precheck = built(load_config(project, environ={}))
    with pytest.raises(TypeError):
        precheck.critical_tables["kb.new"] = 1  # type: ignore[index]
