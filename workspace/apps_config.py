"""The apps `workspace start` runs and supervises, as config.yaml describes them.

    apps:
      server:
        command: python -m server --port 3002      # or a list; a string is shlex-split
        port: 3002
        ready: {http: "http://127.0.0.1:3002/health"}
        depends_on: []
        restart: on-failure
        stop_signal: SIGINT        # what it stops cleanly on; SIGKILL after stop_grace_s
      admin:
        command: [npm, run, dev]
        cwd: admin
        ready: {log: "ready in \\d+ ms"}
        depends_on: [server]

A probe is one of `http` (a URL answering 2xx), `tcp` (a port accepting connections) or
`log` (a regular expression some output line matches); without one, an app counts as
ready once started. `check_apps` validates the names in `depends_on` and returns the
start order.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workspace.config_types import MAX_ATTEMPTS, HostName, HttpUrl, Seconds
from workspace.errors import ConfigError

__all__ = ["APP_NAME", "APP_NAME_RULE", "AppConfig", "ReadyProbe", "SupervisorConfig",
           "WatchConfig", "check_apps", "dependents"]

# as compose's service names, less the dot (config paths are dotted: apps.<name>.port)
APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", re.ASCII)
APP_NAME_RULE = "letters, digits, _ or -, starting with a letter or digit"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadyProbe(_Section):
    """Exactly one of http, tcp, log: ReadyProbe(http="http://127.0.0.1:3002/health")."""

    http: HttpUrl | None = Field(default=None, pattern=r"^https?://")
    tcp: int | None = Field(default=None, ge=1, le=65535)
    log: str | None = None
    host: HostName = Field(default="127.0.0.1", description="for tcp")

    @model_validator(mode="after")
    def _exactly_one(self) -> ReadyProbe:
        chosen = [k for k in ("http", "tcp", "log") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of http, tcp, log")
        if self.log is not None:
            try:
                re.compile(self.log)
            except re.error as exc:
                raise ValueError(f"log: invalid regular expression: {exc}") from None
        return self


class WatchConfig(_Section):
    """Files whose change restarts the app (and the apps depending on it):
    WatchConfig(paths=["apps/server", "lib/**/*.py"], ignore=["*.log"]). A list or a
    string in config.yaml is taken as `paths`."""

    paths: list[str] = Field(min_length=1, description="Files, directories or globs "
                             "(`*`, `?`, `**`), relative to the project.")
    ignore: list[str] = Field(default_factory=list, description="Globs left out; one "
                              "without `/` matches any file or directory name.")
    debounce_s: Seconds = Field(default=0.3, ge=0, description="Quiet time before the "
                                "restart: a burst of saves restarts once.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"paths": [value]}
        if isinstance(value, list):
            return {"paths": value}
        return value


class AppConfig(_Section):
    """One app: AppConfig(command="python -m http.server 8000", port=8000,
    ready=ReadyProbe(tcp=8000), restart="on-failure")."""

    command: list[str] = Field(min_length=1)
    cwd: Path = Field(default=Path("."), description="Relative to the project.")
    env: dict[str, str] = Field(default_factory=dict)
    port: int | None = Field(default=None, ge=1, le=65535)
    ready: ReadyProbe | None = None
    ready_timeout_s: Seconds = Field(default=60.0, gt=0)
    depends_on: list[str] = Field(default_factory=list)
    restart: Literal["never", "on-failure"] = "never"
    backoff_s: Seconds = Field(default=1.0, gt=0,
                               description="First restart delay, doubled each time.")
    backoff_max_s: Seconds = Field(default=30.0, gt=0)
    max_restarts: int = Field(default=5, ge=0, le=MAX_ATTEMPTS)
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"] = Field(
        default="SIGTERM", description="Sent to the app's group to stop it (compose's stop_signal).")
    stop_grace_s: Seconds | None = Field(
        default=None, ge=0, description="Before SIGKILL; unset: supervisor.stop_grace_s.")
    watch: WatchConfig | None = Field(default=None, description="Restart on file changes.")

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return shlex.split(value)
            except ValueError as exc:  # unbalanced quotes
                raise ValueError(f"cannot split command: {exc}") from None
        return value

    def backoff(self, restarts: int) -> float:
        """Delay before restart number `restarts` (1-based): backoff_s doubled, capped."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(0, restarts - 1)))


class SupervisorConfig(_Section):
    stop_grace_s: Seconds = Field(default=5.0, ge=0,
                                  description="SIGTERM to SIGKILL, as honcho's KILL_WAIT.")
    log_dir: Path = Field(default=Path(".workspace/logs"), description="One <app>.log each.")
    tail_lines: int = Field(default=20, ge=0, le=MAX_ATTEMPTS,
                            description="Log lines shown when an app fails.")


def dependents(apps: Mapping[str, AppConfig], name: str) -> set[str]:
    """`name` and every app depending on it, directly or not (what a restart of `name`
    restarts)."""
    found = {name}
    grew = True
    while grew:
        more = {n for n, app in apps.items() if n not in found and found & set(app.depends_on)}
        found |= more
        grew = bool(more)
    return found


def check_apps(apps: Mapping[str, AppConfig]) -> list[str]:
    """The start order (dependencies first, else config order), or ConfigError for an
    unknown name in depends_on or a cycle."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = " -> ".join(visiting[visiting.index(name):] + [name])
            raise ConfigError(f"apps: depends_on forms a cycle: {cycle}")
        visiting.append(name)
        for dep in apps[name].depends_on:
            if dep not in apps:
                raise ConfigError(f"apps.{name}.depends_on: unknown app `{dep}` "
                                  f"(known: {', '.join(apps)})")
            visit(dep)
        visiting.pop()
        order.append(name)

    for name in apps:
        if not APP_NAME.match(name):  # it names the app's log file, and its `logs` argument
            raise ConfigError(f"apps: the name {name!r} is not {APP_NAME_RULE}")
    for name in apps:
        visit(name)
    return order
