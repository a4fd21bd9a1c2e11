"""The apps' configuration model and the start order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workspace.config.apps import AppConfig, ReadyProbe, check_apps
from workspace.errors import ConfigError


def test_a_string_command_is_split_like_a_shell_would() -> None:
    app = AppConfig.model_validate({"command": "python -m server --name 'two words'"})
    assert app.command == ["python", "-m", "server", "--name", "two words"]


def test_unknown_fields_and_empty_commands_are_refused() -> None:
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"command": "x", "restart_policy": "always"})
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"command": ""})
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"command": "x", "restart": "sometimes"})


@pytest.mark.parametrize("probe", [{}, {"http": "http://x", "tcp": 80}, {"log": "("},
                                   {"http": "ftp://x"}, {"tcp": 0}])
def test_a_probe_is_exactly_one_valid_kind(probe: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReadyProbe.model_validate(probe)


def test_backoff_doubles_and_is_capped() -> None:
    app = AppConfig(command=["x"], backoff_s=0.5, backoff_max_s=3)
    assert [app.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_the_start_order_puts_dependencies_first() -> None:
    apps = {"admin": AppConfig(command=["a"], depends_on=["server"]),
            "server": AppConfig(command=["s"], depends_on=["db"]),
            "db": AppConfig(command=["d"]), "other": AppConfig(command=["o"])}
    assert check_apps(apps) == ["db", "server", "admin", "other"]


def test_an_unknown_dependency_or_a_cycle_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown app `nope`") as caught:
        check_apps({"a": AppConfig(command=["a"], depends_on=["nope"])})
    assert caught.value.code == "PRECHECK_CONFIG_INVALID"
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        check_apps({"a": AppConfig(command=["a"], depends_on=["b"]),
                    "b": AppConfig(command=["b"], depends_on=["a"])})


def test_depends_on_takes_a_list_conditions_or_compose_long_form() -> None:
    app = AppConfig.model_validate({"command": "x", "depends_on": {
        "a": "ready", "b": "completed", "c": {"condition": "service_completed_successfully"},
        "d": "service_healthy"}})
    assert app.depends_on == {"a": "ready", "b": "completed", "c": "completed", "d": "ready"}
    assert AppConfig.model_validate({"command": "x", "depends_on": ["a"]}).depends_on == {
        "a": "ready"}
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"command": "x", "depends_on": {"a": "started-ish"}})


def test_shell_keeps_the_command_whole_for_sh() -> None:
    app = AppConfig.model_validate({"command": "echo $PORT && ls 'a b'", "shell": True})
    assert app.command == ["echo $PORT && ls 'a b'"]
    assert app.argv == ["sh", "-c", "echo $PORT && ls 'a b'"]


@pytest.mark.parametrize(("given", "policy"), [(False, "no"), ("never", "no"),
                                               ("always", "always")])
def test_restart_policies_take_compose_names(given: object, policy: str) -> None:
    assert AppConfig.model_validate({"command": "x", "restart": given}).restart == policy


@pytest.mark.parametrize("probe", [{}, {"http": "http://x", "tcp": 80},
                                   {"command": "true", "failures": 0}])
def test_a_liveness_probe_is_exactly_one_kind(probe: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"command": "x", "liveness": probe})
