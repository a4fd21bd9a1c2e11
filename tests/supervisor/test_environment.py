"""What an app starts with: .env, .env.local, env_file, injected variables, `${VAR}`,
`shell: true`; the secrets of env files never printed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.supervisor.conftest import PROGRAMS, Run, assert_gone
from workspace.config.apps import AppConfig
from workspace.errors import ConfigError
from workspace.supervisor.environment import app_launch, base_variables, check_apps_env

MakeRun = Callable[..., Run]
SHOW = [sys.executable, str(PROGRAMS / "show_env.py")]


def test_variables_come_from_the_env_files_the_environment_and_the_launcher(
        tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GREETING=hello\nONLY_ENV=1\nFROM_OS=file\n")
    (tmp_path / ".env.local").write_text("GREETING=hi\n")
    (tmp_path / "api.env").write_text("API_MODE=debug\nDATABASE_URL=postgresql://nope\n")
    app = AppConfig.model_validate({
        "command": "serve --port $PORT --greet ${GREETING} ${ONLY_ENV} ${FROM_OS}",
        "cwd": "${SUBDIR:-svc}", "port": 4001, "env_file": "api.env",
        "env": {"MODE": "${API_MODE}", "URL": "${DATABASE_URL}"}})
    variables = base_variables(tmp_path, {"FROM_OS": "os"})
    launch = app_launch("api", app, variables, {"DATABASE_URL": "postgresql://db"}, tmp_path)
    assert launch.argv == ["serve", "--port", "4001", "--greet", "hi", "1", "os"]
    assert launch.cwd == tmp_path / "svc"
    assert launch.env["MODE"] == "debug" and launch.env["URL"] == "postgresql://db"
    assert launch.env["PORT"] == "4001" and launch.env["GREETING"] == "hi"


def test_an_undefined_variable_is_a_config_error_naming_app_field_and_variable(
        tmp_path: Path) -> None:
    apps = {"api": AppConfig.model_validate({"command": "x", "env": {"A": "${NOT_SET_ANYWHERE}"}})}
    with pytest.raises(ConfigError) as caught:
        check_apps_env(apps, tmp_path)
    assert caught.value.code == "PRECHECK_CONFIG_INVALID"
    assert "apps.api.env.A: the variable `NOT_SET_ANYWHERE` is not set" in caught.value.message
    ok = {"api": AppConfig.model_validate({"command": "x --db ${DATABASE_URL}"})}
    check_apps_env(ok, tmp_path)  # injected later by the launcher: known names pass


def test_shell_true_runs_through_sh_with_the_variables_filled(make_run: MakeRun) -> None:
    command = f"{SHOW[0]} {SHOW[1]} port=$PORT 'costs $$1' && echo second-command"
    run = make_run({"sh": {"command": command, "shell": True, "port": 4002, "restart": "no",
                           "kind": "task"}})
    assert run.run() == 0
    text = run.out.getvalue()
    assert "arg port=4002" in text and "arg costs $1" in text and "second-command" in text
    assert run.recorder.made[0].command[:2] == ["sh", "-c"]
    assert_gone(run.recorder.pids)


def test_secrets_from_env_files_are_never_printed(make_run: MakeRun, tmp_path: Path) -> None:
    (tmp_path / "secret.env").write_text("API_TOKEN=tok-8c1f2e9a77\nPLAIN=visible-value\n")
    run = make_run({"leak": {"command": SHOW, "env_file": ["secret.env"], "kind": "task",
                             "env": {"SHOW": "API_TOKEN,PLAIN"}}})
    assert run.run() == 0
    text = run.out.getvalue()
    assert "PLAIN=visible-value" in text and "tok-8c1f2e9a77" not in text
    assert "API_TOKEN=" in text and b"tok-8c1f2e9a77" not in run.log("leak")


def test_a_missing_env_file_is_a_config_error_naming_the_app(tmp_path: Path) -> None:
    app = AppConfig.model_validate({"command": "x", "env_file": "nope.env"})
    with pytest.raises(ConfigError, match=r"apps\.api\.env_file: .*nope\.env is not a file"):
        app_launch("api", app, {}, {}, tmp_path)
