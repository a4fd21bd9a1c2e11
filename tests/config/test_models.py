"""Layered configuration and its error messages."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from workspace.config.models import load_config
from workspace.errors import ConfigError


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={})
    assert config.database.url is None
    assert config.migrations_dir == tmp_path / "migrations"
    assert config.migrations.lock_wait_s == 60.0 and config.embedded.port is None  # per project


def test_layers_highest_first_cli_env_dotenv_yaml(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "database:\n  url: postgresql://yaml@h/db\nmigrations:\n  lock_wait_s: 1\n"
        "  lock_timeout_s: 2\n  statement_timeout_s: 3\n")
    (tmp_path / ".env").write_text("WORKSPACE_MIGRATIONS__LOCK_TIMEOUT_S=20\n"
                                   "WORKSPACE_MIGRATIONS__STATEMENT_TIMEOUT_S=30\n")
    env = {"WORKSPACE_MIGRATIONS__STATEMENT_TIMEOUT_S": "300", "DATABASE_URL": "postgresql://env@h/db"}
    config = load_config(tmp_path, environ=env, cli={"database.url": "postgresql://cli@h/db"})
    m = config.migrations
    assert (m.lock_wait_s, m.lock_timeout_s, m.statement_timeout_s) == (1, 20, 300)
    assert config.database.url is not None
    assert config.database.url.get_secret_value() == "postgresql://cli@h/db"
    assert load_config(tmp_path, environ=env).database.url.get_secret_value() == "postgresql://env@h/db"  # type: ignore[union-attr]


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_skip_migrations_from_environment(tmp_path: Path, value: str, expected: bool) -> None:
    assert load_config(tmp_path, environ={"SKIP_MIGRATIONS": value}).migrations.skip is expected


def test_bad_value_names_source_line_and_field_never_the_value(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("embedded:\n  port: 99999\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert info.value.code == "PRECHECK_CONFIG_INVALID"
    assert "config.yaml line 2: embedded.port: Input should be less than or equal to 65535" \
        in info.value.message


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment variable SKIP_MIGRATIONS: migrations.skip"):
        load_config(tmp_path, environ={"SKIP_MIGRATIONS": "maybe"})


def test_bad_dotenv_value_names_its_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# comment\nWORKSPACE_EMBEDDED__PORT=lots\n")
    with pytest.raises(ConfigError, match=r"\.env line 2 \(WORKSPACE_EMBEDDED__PORT\): embedded.port"):
        load_config(tmp_path, environ={})


def test_unknown_section_and_field_are_named_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("migrations:\n  dri: db/migrations\ndatabse: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert "config.yaml line 2: migrations.dri: unknown field (did you mean `dir`?)" in info.value.message
    assert "databse: unknown field (did you mean `database`?)" in info.value.message


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("migrations:\n  dir: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml:3:1: invalid YAML"):
        load_config(tmp_path, environ={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path, environ={})


def test_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path, config_file=tmp_path / "other.yaml", environ={})


def test_shipped_config_yaml_is_valid_and_matches_the_defaults() -> None:
    repo = Path(__file__).resolve().parents[2]
    shipped = load_config(repo, environ={})
    defaults = load_config(repo / "tests", environ={})
    mine = {"project_dir": True, "config_file": True, "apps": True,  # and the guide's:
            "precheck": {"critical_tables", "critical_functions", "required_extensions"}}
    assert shipped.model_dump(exclude=mine) == defaults.model_dump(exclude=mine)
    assert shipped.config_file == repo / "config.yaml" and defaults.config_file is None
    # the apps are the shipped reference apps, server first
    assert shipped.app_order == ["server", "admin"] and defaults.apps == {}
    for name in shipped.apps:
        assert (repo / "apps" / name / "app.py").as_posix() in {
            (repo / part).as_posix() for part in shipped.apps[name].command}


def test_apps_errors_name_the_line_of_the_app(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "apps:\n  server:\n    command: run\n  admin:\n    comand: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert "config.yaml line 4: apps.admin.command: Field required" in info.value.message
    assert "config.yaml line 5: apps.admin.comand: unknown field (did you mean `command`?)" \
        in info.value.message


def test_apps_depends_on_is_checked_at_load(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "apps:\n  a:\n    command: run\n    depends_on: [b]\n"
        "  b:\n    command: run\n    depends_on: [a]\n")
    with pytest.raises(ConfigError, match=r"config.yaml line 1: apps: .*cycle: a -> b -> a"):
        load_config(tmp_path, environ={})


def test_an_app_named_workspace_is_refused(tmp_path: Path) -> None:
    """Its log file would be the combined log, and its lines the launcher's own."""
    (tmp_path / "config.yaml").write_text("apps:\n  workspace:\n    command: run\n")
    with pytest.raises(ConfigError, match=r"apps: the name 'workspace' is workspace's own"):
        load_config(tmp_path, environ={})


@pytest.mark.parametrize("value", [".inf", "1e999", "1e30", "86401"])
def test_durations_are_finite_and_at_most_a_day(tmp_path: Path, value: str) -> None:
    (tmp_path / "config.yaml").write_text(f"migrations:\n  statement_timeout_s: {value}\n")
    with pytest.raises(ConfigError, match=r"config.yaml line 2: migrations.statement_timeout_s: "
                                          r"must be a finite number of seconds, at most 86400"):
        load_config(tmp_path, environ={})
    (tmp_path / "config.yaml").write_text("migrations:\n  statement_timeout_s: 86400\n")
    assert load_config(tmp_path, environ={}).migrations.statement_timeout_s == 86400


def test_unknown_section_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environment variable WORKSPACE_FOO__BAR: foo: "
                                          r"unknown field"):
        load_config(tmp_path, environ={"WORKSPACE_FOO__BAR": "1"})


def test_url_source_is_where_it_was_set_not_an_unset_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environment variable DATABASE_URL: database.url: "
                                          r'port "0" is not a number'):
        load_config(tmp_path, environ={"DATABASE_URL": "postgresql://u@h:0/db"},
                    cli={"database.url": None})


def test_non_utf8_environment_value_names_the_variable_not_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={"DATABASE_URL": "postgresql://u:secret@h\udcff/db"})
    assert "environment variable DATABASE_URL: database.url: not valid UTF-8 (byte 0xff" \
        in info.value.message
    assert "secret" not in info.value.message


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
    (lambda p: p.symlink_to(p.name), "is a symlink loop"),
])
def test_config_yaml_that_is_not_a_regular_file_is_an_error(
        tmp_path: Path, make: Callable[[Path], None], says: str) -> None:
    make(tmp_path / "config.yaml")
    with pytest.raises(ConfigError, match=f"config.yaml: {says}"):
        load_config(tmp_path, environ={})


def test_dotenv_directory_is_a_virtualenv_not_config(tmp_path: Path) -> None:
    (tmp_path / ".env" / "bin").mkdir(parents=True)
    assert load_config(tmp_path, environ={}).database.url is None


def test_yaml_nul_escape_is_refused_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text('migrations:\n  dir: "a\\0b"\n')
    with pytest.raises(ConfigError, match=r"config.yaml line 2: migrations.dir: contains a NUL"):
        load_config(tmp_path, environ={})


def test_yaml_nested_too_deeply(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("a: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(tmp_path, environ={})


def test_empty_oidc_issuer_still_means_none(tmp_path: Path) -> None:
    assert not load_config(tmp_path, environ={"OIDC_ISSUER": ""}).oidc.issuer
    with pytest.raises(ConfigError, match=r"environment variable OIDC_ISSUER: oidc.issuer: not a valid URL"):
        load_config(tmp_path, environ={"OIDC_ISSUER": "http://[::1"})


def test_without_a_config_nothing_is_critical(tmp_path: Path) -> None:
    """Defaults demand nothing of a project's schema: drift against its own migrations
    does the work (the guide's reference tables are the shipped project's)."""
    pre = load_config(tmp_path, environ={}).precheck
    assert (pre.critical_tables, pre.critical_functions, pre.required_extensions) == ({}, [], [])


def test_the_shipped_config_keeps_the_guides_critical_objects() -> None:
    from workspace.config.models import GUIDE_CRITICAL_FUNCTIONS, GUIDE_CRITICAL_TABLES

    pre = load_config(Path(__file__).resolve().parents[2], environ={}).precheck
    assert pre.critical_tables == GUIDE_CRITICAL_TABLES and len(pre.critical_tables) == 8
    assert pre.critical_functions == GUIDE_CRITICAL_FUNCTIONS == [
        "kb.update_tsv()", "kb.refresh_revision_counts()"]
    assert pre.required_extensions == ["vector", "pgcrypto"]


@pytest.mark.parametrize("text, line, first", [
    ("apps:\n  web:\n    command: [a]\napps:\n  other:\n    command: [b]\n", 4, 1),
    ("migrations:\n  dir: a\n  lock_wait_s: 5\n  dir: b\n", 4, 2),
    ("apps:\n  web:\n    command: [a]\n  web:\n    command: [b]\n", 4, 2),
])
def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path, text: str, line: int,
                                                        first: int) -> None:
    # YAML loaders keep the last one silently: a second `apps:` would drop every app above it
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert f"config.yaml line {line}:" in info.value.message
    assert f"given twice (first at line {first})" in info.value.message


def test_a_merge_key_with_an_override_is_not_a_key_given_twice(tmp_path: Path) -> None:
    """YAML's merge key: an app based on another, one field overridden (the duplicate-key
    check reads the tree as written, not as the constructor flattens it), twice over (the
    parsed tree is kept between loads)."""
    (tmp_path / "config.yaml").write_text(
        "apps:\n"
        "  api: &api {command: [sleep, \"100\"], restart: always}\n"
        "  worker:\n"
        "    <<: *api\n"
        "    command: [sleep, \"200\"]\n")
    for _ in range(2):
        apps = load_config(tmp_path, environ={}).apps
        assert apps["worker"].command == ["sleep", "200"]
        assert apps["worker"].restart == apps["api"].restart == "always"


@pytest.mark.parametrize("text, says", [
    ("migrations:\n  dir: [migrations]\n",
     "config.yaml line 2: migrations.dir: Input should be a path (a string)"),
    ("apps:\n  web: python app.py\n",
     "config.yaml line 2: apps.web: Input should be a section (its fields below it, "
     "`field: value`)"),
    ("deps:\n  postgres: embedded\n",
     "config.yaml line 2: deps.postgres: Input should be a section (its fields below it, "
     "`field: value`)"),
])
def test_a_wrong_type_is_said_without_pythons_class_names(tmp_path: Path, text: str,
                                                           says: str) -> None:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert says in info.value.message
    assert "<class" not in info.value.message and "Config" not in info.value.message
    assert "DependencyChoice" not in info.value.message


def test_invalid_yaml_remedy_is_about_the_yaml_not_a_field(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("migrations:\n\tdir: migrations\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert "config.yaml:2:1: invalid YAML" in info.value.message
    assert "line and column shown" in info.value.remedy and "spaces, not tabs" in info.value.remedy


def test_a_cold_load_parses_config_yaml_once(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """One YAML parse gives both the values and the lines they came from (the duplicate
    key check and the messages), also when the cache then writes an entry whose secret
    comes from config.yaml."""
    import yaml

    from workspace.config import cache

    (tmp_path / "config.yaml").write_text(
        "database:\n  url: postgresql://u:secretpw@h/db\nmigrations:\n  lock_wait_s: 1\n"
        "apps:\n  api:\n    command: x\n")
    parses = []
    compose = yaml.composer.Composer.compose_document

    def counted(self: yaml.composer.Composer) -> object:
        parses.append(1)
        return compose(self)

    monkeypatch.setattr(yaml.composer.Composer, "compose_document", counted)
    config = cache.load_config(tmp_path, environ={})
    assert config.migrations.lock_wait_s == 1 and list(config.apps) == ["api"]
    assert config.database.url is not None
    assert config.database.url.get_secret_value() == "postgresql://u:secretpw@h/db"
    assert list((tmp_path / ".workspace" / "cache").glob("config-*.json"))  # written
    assert len(parses) == 1
