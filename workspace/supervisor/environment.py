"""What an app is started with: its argv, cwd and environment, variables interpolated.

    variables = base_variables(project_dir)
    launch = app_launch("server", config.apps["server"], variables,
                        {"DATABASE_URL": url}, project_dir)
    launch.argv, launch.cwd, launch.env

Variables, lowest first: `.env`, `.env.local` (over `.env`), the process environment,
the app's `env_file`s (in order), what the launcher injects (DATABASE_URL, PORT, ...).
They fill `${VAR}` in command, cwd and env (interpolate.py), and are the app's
environment, its own `env:` on top. Values of the files that look like secrets (a name
with PASSWORD, SECRET, TOKEN, KEY, ...; a URL's password) are registered with `redact`,
so they are masked wherever workspace prints or logs them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workspace.config.apps import AppConfig
from workspace.config.interpolate import Undefined, interpolate
from workspace.config.sources import read_dotenv, read_text
from workspace.errors import ConfigError
from workspace.output import redact

__all__ = ["DOTENV_FILES", "INJECTED", "Launch", "app_launch", "base_variables", "check_apps_env"]

DOTENV_FILES = (".env", ".env.local")
# What the launcher may inject: known before it runs, for checking the config early.
INJECTED = ("DATABASE_URL", "OIDC_ISSUER", "OIDC_CLIENT_ID", "PORT", "WORKSPACE_PROJECT_DIR",
            "PATH", "PYTHONUNBUFFERED")
_SECRET_WORDS = ("PASSW", "SECRET", "TOKEN", "KEY", "PAT", "CREDENTIAL", "AUTH", "PRIVATE")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file's values (python-dotenv's parser), its secrets registered."""
    values = read_dotenv(read_text(path))
    for name, value in values.items():
        if "://" in value:
            redact.register_url(value)
        if any(word in name.upper() for word in _SECRET_WORDS):
            redact.register(value)
    return values


def base_variables(project_dir: Path,
                   environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env`, `.env.local` over it, the process environment over both."""
    variables: dict[str, str] = {}
    for name in DOTENV_FILES:
        path = project_dir / name
        if path.is_file():  # `.env` may also be a virtualenv's directory
            variables.update(read_env_file(path))
    variables.update(os.environ if environ is None else environ)
    return variables


def app_launch(name: str, app: AppConfig, variables: Mapping[str, str],
               injected: Mapping[str, str], project_dir: Path) -> Launch:
    """The app's argv, cwd and env; ConfigError naming app, field and variable for an
    undefined variable, or a missing env_file."""
    own: dict[str, str] = {}
    for file in app.env_file:
        path = file if file.is_absolute() else project_dir / file
        if not path.is_file():
            raise ConfigError(f"apps.{name}.env_file: {path} is not a file",
                              remedy="Create it, or remove it from env_file.")
        own.update(read_env_file(path))
    scope = {**variables, **own, **injected}
    if app.port is not None:
        scope["PORT"] = str(app.port)

    def fill(text: str, field: str) -> str:
        try:
            return interpolate(text, scope)
        except Undefined as exc:
            raise ConfigError(
                f"apps.{name}.{field}: the variable `{exc.name}` is not set and has no "
                "default",
                remedy=f"Set {exc.name} in the environment, .env or .env.local, or write "
                       f"${{{exc.name}:-default}} (a literal $ is $$).") from None

    argv = [fill(part, "command") for part in app.command]
    if app.shell:
        argv = ["sh", "-c", argv[0]]
    cwd = Path(fill(str(app.cwd), "cwd"))
    env = {**scope, **{key: fill(value, f"env.{key}") for key, value in app.env.items()}}
    return Launch(argv, cwd if cwd.is_absolute() else project_dir / cwd, env)


def check_apps_env(apps: Mapping[str, AppConfig], project_dir: Path) -> None:
    """Every app's interpolation possible before anything starts: the injected variables
    stand in for what only the launcher will know."""
    variables = base_variables(project_dir)
    stand_ins = {k: "" for k in INJECTED if k != "PORT"}  # PORT: only with apps.<name>.port
    for name, app in apps.items():
        app_launch(name, app, variables, stand_ins, project_dir)
