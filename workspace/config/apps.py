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
        depends_on: {server: ready, seed: completed}   # a list means "ready" for each
        profiles: [ui]             # started only with `--profile ui` (or when named)
      seed:
        kind: task                 # runs to completion; exit 0 lets its dependants start
        command: python -m seed --url ${DATABASE_URL}
        shell: false               # true: the command runs through `sh -c`
        env_file: [.env.seed]      # read after .env and .env.local

Restart policies are compose's: `no` (the default), `on-failure`, `always`,
`unless-stopped` (as `always`: workspace has no per-app stop); `on_exit` says what an
exit the policy does not restart means for the others: `stop-all` (the default) or
`keep-running`. `liveness` probes a ready app every `interval_s`; `failures` failures in
a row kill it, and its restart policy decides what follows.

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

from workspace.config.types import MAX_ATTEMPTS, HostName, HttpUrl, Seconds
from workspace.errors import ConfigError

__all__ = ["APP_NAME", "APP_NAME_RULE", "AppConfig", "Condition", "LivenessProbe", "ReadyProbe",
           "SupervisorConfig", "WatchConfig", "check_apps", "dependents"]

Condition = Literal["ready", "completed"]
# compose's long names for the same conditions
_COMPOSE_CONDITIONS = {"service_healthy": "ready", "service_started": "ready",
                       "service_completed_successfully": "completed"}

# as compose's service names, less the dot (config paths are dotted: apps.<name>.port)
APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", re.ASCII)
APP_NAME_RULE = "letters, digits, _ or -, starting with a letter or digit"
# the supervisor's own prefix, and the combined log's file name (run/session.py)
RESERVED_NAMES = frozenset({"workspace"})


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


class LivenessProbe(_Section):
    """Exactly one of http, tcp, command, probed every interval_s once the app is ready:
    LivenessProbe(http="http://127.0.0.1:3002/health", interval_s=10, failures=3)."""

    http: HttpUrl | None = Field(default=None, pattern=r"^https?://")
    tcp: int | None = Field(default=None, ge=1, le=65535)
    command: list[str] | None = Field(default=None, min_length=1)
    host: HostName = Field(default="127.0.0.1", description="for tcp")
    interval_s: Seconds = Field(default=10.0, gt=0)
    timeout_s: Seconds = Field(default=2.0, gt=0)
    failures: int = Field(default=3, ge=1, le=MAX_ATTEMPTS,
                          description="Failed probes in a row before the app is killed.")

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_command(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> LivenessProbe:
        if sum(getattr(self, k) is not None for k in ("http", "tcp", "command")) != 1:
            raise ValueError("give exactly one of http, tcp, command")
        return self


def _split_command(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:  # unbalanced quotes
            raise ValueError(f"cannot split command: {exc}") from None
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
    depends_on: dict[str, Condition] = Field(default_factory=dict)
    kind: Literal["service", "task"] = Field(
        default="service", description="task: runs to completion (seed data, codegen).")
    restart: Literal["no", "on-failure", "always", "unless-stopped"] = "no"
    on_exit: Literal["stop-all", "keep-running"] = Field(
        default="stop-all", description="An exit not restarted: stop every app, or not.")
    liveness: LivenessProbe | None = None
    profiles: list[str] = Field(default_factory=list)
    shell: bool = Field(default=False, description="Run the command through `sh -c`.")
    env_file: list[Path] = Field(default_factory=list, description="Relative to the project.")
    backoff_s: Seconds = Field(default=1.0, gt=0,
                               description="First restart delay, doubled each time.")
    backoff_max_s: Seconds = Field(default=30.0, gt=0)
    max_restarts: int = Field(default=5, ge=0, le=MAX_ATTEMPTS)
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"] = Field(
        default="SIGTERM", description="Sent to the app's group to stop it (compose's stop_signal).")
    stop_grace_s: Seconds | None = Field(
        default=None, ge=0, description="Before SIGKILL; unset: supervisor.stop_grace_s.")
    watch: WatchConfig | None = Field(default=None, description="Restart on file changes.")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        """A string command is shlex-split, unless it is for `sh -c` (shell: true)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        command = data.get("command")
        if data.get("shell") is True and isinstance(command, (str, list)) and command:
            data["command"] = [command if isinstance(command, str) else shlex.join(command)]
        elif "command" in data:
            data["command"] = _split_command(command)
        if data.get("restart") is False:  # YAML reads a bare `no` as false
            data["restart"] = "no"
        if data.get("restart") == "never":  # the name before compose's
            data["restart"] = "no"
        if isinstance(data.get("env_file"), (str, Path)):
            data["env_file"] = [data["env_file"]]
        depends = data.get("depends_on")
        if isinstance(depends, (list, tuple)):
            data["depends_on"] = {name: "ready" for name in depends}
        elif isinstance(depends, dict):
            data["depends_on"] = {name: _condition(how) for name, how in depends.items()}
        return data

    @property
    def argv(self) -> list[str]:
        """What is executed: the command, or `sh -c` with it."""
        return ["sh", "-c", self.command[0]] if self.shell else list(self.command)

    @property
    def run_always(self) -> bool:
        return self.restart in ("always", "unless-stopped")

    def backoff(self, restarts: int) -> float:
        """Delay before restart number `restarts` (1-based): backoff_s doubled, capped."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(0, restarts - 1)))


def _condition(how: Any) -> Any:
    """`ready`, `completed`, compose's names, or compose's `{condition: ...}`."""
    if isinstance(how, dict) and set(how) == {"condition"}:
        how = how["condition"]
    return _COMPOSE_CONDITIONS.get(how, how) if isinstance(how, str) else how


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
        if name in RESERVED_NAMES:
            raise ConfigError(f"apps: the name {name!r} is workspace's own (the launcher's "
                              "lines and the combined log, workspace.log)",
                              remedy="Give the app another name.")
    for name in apps:
        visit(name)
    return order
