"""The cached configuration: a hit answers as the models do, any changed input misses, a
mistake is reported as without the cache, and a damaged or foreign file is ignored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import workspace.config.models
from workspace.config import cache as config_cache
from workspace.config.cache import load_config
from workspace.errors import ConfigError

PASSWORD = "Zq8-very-long-password-x7"
URL = f"postgresql://app:{PASSWORD}@127.0.0.1:5432/app"
CONFIG = """\
migrations:
  lock_wait_s: 12
apps:
  api:
    command: python -m http.server 8000
    port: 8000
    ready: {tcp: 8000}
    restart: on-failure
  web:
    command: [npm, run, dev]
    depends_on: [api]
precheck:
  critical_tables: {"kb.documents": 8, "kb.tags": null}
"""
ENV = {"WORKSPACE_MIGRATIONS__LOCK_TIMEOUT_S": "3", "HOME": "/root"}


def cached(project: Path, env: dict[str, str] | None = None,
           cli: dict[str, Any] | None = None) -> Any:
    return load_config(project, cli=cli, environ=ENV if env is None else env)


def entry_of(project: Path) -> Path:
    """The one entry written (each test's inputs are one set at a time)."""
    entries = list((project / ".workspace" / "cache").glob("config-*.json"))
    assert len(entries) == 1, entries
    return entries[0]


def is_view(config: Any) -> bool:
    return not isinstance(config, workspace.config.models.Config)


def shape(value: Any) -> Any:
    """Every field and property of a model (or view), recursively, comparable."""
    if isinstance(value, BaseModel) or is_view_model(value):
        model = value._view_model() if is_view_model(value) else value
        names = [n for n in (*type(model).model_fields, "app_order", "migrations_dir",
                             "state_dir") if n in type(model).model_fields or hasattr(type(model), n)]
        return {n: shape(getattr(value, n)) for n in names}
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, *map(shape, value)]
    if hasattr(value, "get_secret_value"):
        return ("secret", value.get_secret_value(), str(value))
    return (type(value).__name__, value)


def is_view_model(value: Any) -> bool:
    return isinstance(value, config_cache._View)


@pytest.fixture
def configured(project: Path) -> Path:
    (project / "config.yaml").write_text(CONFIG)
    return project


def test_a_hit_answers_as_the_models_do(configured: Path) -> None:
    first = cached(configured, cli={"database.url": URL})
    assert not is_view(first) and entry_of(configured).is_file()
    second = cached(configured, cli={"database.url": URL})
    assert is_view(second)
    assert shape(second) == shape(first)
    assert second.migrations.lock_wait_s == 12.0 and second.migrations.lock_timeout_s == 3.0
    assert second.app_order == ["api", "web"]
    assert second.path(Path("docker/.env")) == first.path(Path("docker/.env"))
    assert second.migrations_dir == configured / "migrations"
    assert isinstance(second.embedded.data_dir, Path)
    assert second.database.url.get_secret_value() == URL
    assert str(second.database.url) == str(first.database.url)  # masked
    # what the view does not hold comes from the models, loaded once
    assert second.apps["api"].backoff(3) == first.apps["api"].backoff(3)
    assert second == first and repr(second) == repr(first)


def test_the_secret_is_never_written(configured: Path) -> None:
    cached(configured, cli={"database.url": URL})
    text = entry_of(configured).read_text()
    assert PASSWORD not in text and "app:" not in text
    assert oct(entry_of(configured).stat().st_mode & 0o777) == "0o600"


def test_a_secret_from_config_yaml_or_dotenv_is_read_again(configured: Path) -> None:
    (configured / ".env").write_text(f"DATABASE_URL={URL}\n")
    cached(configured)
    assert cached(configured).database.url.get_secret_value() == URL
    (configured / ".env").unlink()
    (configured / "config.yaml").write_text(CONFIG + f"database:\n  url: {URL}\n")
    cached(configured)
    view = cached(configured)
    assert is_view(view) and view.database.url.get_secret_value() == URL
    for entry in (configured / ".workspace" / "cache").iterdir():
        assert PASSWORD not in entry.read_text()


def test_editing_config_yaml_misses(configured: Path) -> None:
    cached(configured)
    assert is_view(cached(configured))
    (configured / "config.yaml").write_text(CONFIG.replace("lock_wait_s: 12", "lock_wait_s: 13"))
    config = cached(configured)
    assert not is_view(config) and config.migrations.lock_wait_s == 13.0
    assert cached(configured).migrations.lock_wait_s == 13.0


@pytest.mark.parametrize("change", [
    {"WORKSPACE_MIGRATIONS__LOCK_TIMEOUT_S": "4"},
    {"DATABASE_URL": URL},
    {"SOMETHING_ELSE": "1"},  # any variable: a validator might read it
])
def test_a_changed_environment_misses(configured: Path, change: dict[str, str]) -> None:
    cached(configured)
    assert is_view(cached(configured))
    env = {**ENV, **change}
    config = cached(configured, env=env)
    assert not is_view(config)
    assert shape(cached(configured, env=env)) == shape(config)


def test_changed_command_line_values_miss(configured: Path) -> None:
    cached(configured, cli={"database.url": URL})
    other = URL.replace("/app", "/other")
    config = cached(configured, cli={"database.url": other})
    assert not is_view(config) and config.database.url.get_secret_value() == other


def test_a_mistake_is_reported_as_without_the_cache(configured: Path) -> None:
    cached(configured)
    assert is_view(cached(configured))
    (configured / "config.yaml").write_text(CONFIG.replace("lock_wait_s: 12", "lock_wait_s: x"))
    with pytest.raises(ConfigError) as with_cache:
        cached(configured)
    with pytest.raises(ConfigError) as without:
        workspace.config.models.load_config(configured, environ=ENV)
    assert with_cache.value.message == without.value.message
    assert "config.yaml line 2" in with_cache.value.message
    with pytest.raises(ConfigError):  # and again: nothing was cached for it
        cached(configured)


@pytest.mark.parametrize("damage", ["garbage", "list", "tag", "mixin", "class", "truncated",
                                    "directory", "fifo", "source_fifo"])
def test_a_damaged_or_foreign_cache_file_is_ignored(configured: Path, damage: str) -> None:
    good = cached(configured)
    path = entry_of(configured)
    entry = json.loads(path.read_text())
    model = entry["config"]["$model"]
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "list":
        path.write_text("[1, 2]")
    elif damage == "tag":
        model["fields"]["migrations"] = {"$pickle": "cos\nsystem\n"}
        path.write_text(json.dumps(entry))
    elif damage == "mixin":
        model["mixins"] = ["os:PathLike"]
        path.write_text(json.dumps(entry))
    elif damage == "class":
        entry["config"] = {"$model": {**model, "class": "somewhere:Else"}}
        path.write_text(json.dumps(entry))
    elif damage == "truncated":
        path.write_text(path.read_text()[:100])
    elif damage == "source_fifo":  # reading it would wait for a writer forever
        os.mkfifo(configured / "fifo")
        entry["sources"] = {str(configured / "fifo"): "0" * 64}
        path.write_text(json.dumps(entry))
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.unlink()
        os.mkfifo(path)
    config = cached(configured)
    assert not is_view(config)
    assert shape(config) == shape(good)


def test_a_changed_model_source_misses(configured: Path) -> None:
    cached(configured)
    path = entry_of(configured)
    entry = json.loads(path.read_text())
    sources = entry["sources"]
    assert any(name.endswith("workspace/config/models.py") for name in sources)
    assert any(name.endswith("workspace/config/apps.py") for name in sources)
    assert any(name.endswith("pydantic/version.py") for name in sources)
    name = next(n for n in sources if n.endswith("workspace/config/models.py"))
    sources[name] = "0" * 64  # as if a field had been added since
    path.write_text(json.dumps(entry))
    assert not is_view(cached(configured))
    assert is_view(cached(configured))  # written again, with the source as it is


def test_the_sources_cover_every_module_loading_the_configuration_imports() -> None:
    probe = ("import json, sys, workspace.config.models, workspace.config.cache; "
             "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
             "if n.split('.')[0] == 'workspace')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    loaded = {str(Path(f)) for f in json.loads(out)}
    assert loaded <= {str(f) for f in config_cache._module_files()}


def test_an_unwritable_cache_directory_is_not_an_error(configured: Path) -> None:
    (configured / ".workspace").write_text("a file where the directory would go")
    config = cached(configured)
    assert config.migrations.lock_wait_s == 12.0
    assert not is_view(cached(configured))


def test_alternating_inputs_stay_warm_and_old_entries_go(configured: Path) -> None:
    other = {**ENV, "DATABASE_URL": URL}
    for env in (ENV, other):
        cached(configured, env=env)
    assert is_view(cached(configured, env=ENV)) and is_view(cached(configured, env=other))
    for n in range(config_cache.KEEP + 3):
        cached(configured, env={**ENV, "N": str(n)})
    entries = list((configured / ".workspace" / "cache").glob("config-*"))
    assert len(entries) == config_cache.KEEP


def test_the_zitadel_client_file_is_an_input(configured: Path) -> None:
    """config.py reads the bootstrap's client file when no source sets oidc.client_id: a
    cached entry must not hand out the client ID of before it was (re)written."""
    assert cached(configured).oidc.client_id is None
    assert is_view(cached(configured))
    client = configured / ".workspace" / "zitadel" / "client.json"
    client.parent.mkdir(parents=True)
    client.write_text(json.dumps({"client_id": "first-client", "project_id": "p1"}))
    assert cached(configured).oidc.client_id == "first-client"
    client.write_text(json.dumps({"client_id": "second-client", "project_id": "p1"}))
    config = cached(configured)
    assert config.oidc.client_id == "second-client"
    assert config.oidc.project_id == "p1"


def test_from_a_subdirectory_the_projects_files_are_the_inputs(
        configured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no project directory given, load_config walks up to config.yaml: the key must
    cover that file, not the (absent) one in the working directory."""
    sub = configured / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    first = load_config(None, environ=ENV)
    assert first.migrations.lock_wait_s == 12
    assert first.project_dir == configured.resolve()
    (configured / "config.yaml").write_text(CONFIG.replace("lock_wait_s: 12", "lock_wait_s: 7"))
    assert load_config(None, environ=ENV).migrations.lock_wait_s == 7
