"""`workspace up`: the first half of `workspace start`, as a named sequence.

    config valid (migration files read) -> backend chosen -> ports free -> PostgreSQL up -> database ready
    -> Zitadel up and ready -> OAuth configuration -> migrations -> validation

Each step is reported as it ends (events.py). Any failure (Ctrl-C included) raises
its PRECHECK_* error, what this run started is stopped again, last first (a signal during
that teardown waits for its end), and nothing more starts. On success the dependencies
are left running for the apps: `UpResult` says where they are, and its `started` names
what this run started, for `stop_started`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from workspace.config.db import migration_settings, validation_settings
from workspace.config.models import Config
from workspace.db import migrate_project
from workspace.db.files import MigrationFile, find_migrations
from workspace.deps import backend_for, choose_backend
from workspace.deps.base import Backend
from workspace.deps.ports import require_free
from workspace.deps.ref import DOCKER_ZITADEL, DepRef, Instance
from workspace.errors import (
    ConfigError,
    OAuthClientMissing,
    SchemaInvalid,
    WorkspaceError,
)
from workspace.output import redact
from workspace.output.events import Steps
from workspace.signals import deferred, interruptible

__all__ = ["UpResult", "down", "stop_started", "up"]


@dataclass
class UpResult:
    database_url: str = ""
    backend: str = ""
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None  # configured, or made by the Zitadel bootstrap
    started: list[DepRef] = field(default_factory=list)  # what this run started
    identities: list[Instance] = field(default_factory=list)  # theirs, once up
    migrations_applied: int = 0
    validation_warnings: list[str] = field(default_factory=list)
    validated: bool = False
    timings_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpResult:
        """As `asdict()` gave it (the detached supervisor's hand-off)."""
        return cls(**{**data, "started": [DepRef.from_json(r) for r in data.get("started", [])],
                      "identities": [Instance.from_json(i) for i in data.get("identities", [])]})


def up(config: Config, steps: Steps,
       on_started: Callable[[UpResult], object] | None = None, *,
       with_apps: bool = False) -> UpResult:
    """The sequence; `on_started(result)` is called each time a dependency was started by
    this run (so a launcher can record it before anything else can go wrong).
    `with_apps`: config.apps will start next, so their variables and ports are checked
    too, before anything starts."""
    result = UpResult()
    with deferred():  # the teardown below is never cut short, by a second Ctrl-C either
        try:
            with interruptible():  # the waits: a signal cuts them short
                _up(config, steps, result, on_started or (lambda r: None), with_apps)
        except BaseException as exc:
            stop_started(config, result.started, during=exc)
            if on_started is not None:
                on_started(result)  # what could not be stopped stays recorded
            raise
    return result


def _up(config: Config, steps: Steps, result: UpResult,
        on_started: Callable[[UpResult], object], with_apps: bool = False) -> None:
    with steps.step("config", "Configuration valid") as step:
        choice = config.deps.postgres.backend  # the user's: "auto" decides below
        zitadel = _zitadel_mode(config, with_postgres=None if choice == "auto"
                                else choice == "docker")
        _require_client_id(config, zitadel)
        if with_apps:  # an undefined ${VAR} in an app: before anything starts
            from workspace.supervisor.environment import check_apps_env

            check_apps_env(config.apps, config.project_dir)
        # read once, for migrations and validation, and before anything starts
        migrations = find_migrations(config.migrations_dir, layout=config.migrations.layout)
        step.detail = f"zitadel: {zitadel}"
    with steps.step("backend", "Backend chosen") as step:
        backend, why = choose_backend(config)
        step.detail = f"PostgreSQL: {backend.name} ({why})"
        if zitadel == "auto":  # with Docker chosen, Zitadel runs there too
            zitadel = _zitadel_mode(config, with_postgres=backend.runs_zitadel)
            _require_client_id(config, zitadel)
        step.detail += f"; Zitadel: {zitadel}"
    with steps.step("ports", "Ports free") as step:
        if with_apps:
            _check_app_ports(config)
        _check_ports(config, backend, zitadel)
    with steps.step("postgres", "PostgreSQL started") as step:
        result.backend = backend.name
        with _recorded(result, DepRef("postgres", backend.name), backend, on_started):
            url = result.database_url = backend.start()
        if not backend.started_by_us:  # not ours: left running after this run, too
            step.label = "PostgreSQL already running, reused"
            step.data["reused"] = True
        step.detail = redact.mask_url(url)
    with steps.step("database", "Database ready") as step:
        result.timings_s["database_ready"] = _wait_database(config, url, backend, steps)
    if zitadel == "skip":
        steps.note("zitadel", "Zitadel skipped: no OIDC issuer configured "
                              "(set oidc.issuer, or run with Docker)")
    else:
        result.oidc_issuer = _zitadel(config, zitadel, steps, result, on_started)
    _migrate(config, url, migrations, steps, result)
    result.validation_warnings = _validate(config, url, migrations, steps)
    result.validated = True


@contextlib.contextmanager
def _recorded(result: UpResult, key: DepRef, dependency: Backend,
              on_started: Callable[[UpResult], object]) -> Iterator[None]:
    """`key` stays in result.started when `dependency` was started by this run, also when
    its start is cut short (a failure, Ctrl-C): what it left must be stopped. It is
    recorded before the start, so a launcher killed meanwhile leaves the record, and
    again once it is up, now with the identity its backend gives (e.g. the postmaster's
    pid and start), so a launcher killed later (during the migrations) leaves a record
    naming that server, not whatever runs on its data directory by the time the record
    is cleaned up."""
    result.started.append(key)
    on_started(result)
    try:
        yield
    finally:
        if not dependency.started_by_us:  # it was running already: not ours to stop
            result.started.remove(key)
        else:  # also when its start was cut short: what came up is named
            identity = None
            with contextlib.suppress(Exception):  # unknown: stopped by its data dir / name
                identity = dependency.identity()
            result.identities = [*(i for i in result.identities if i.ref != key),
                                 *([Instance(key, identity)] if identity is not None else [])]
        on_started(result)


def stop_started(config: Config, started: list[DepRef], *,
                 during: BaseException | None = None) -> list[str]:
    """Stop what `up` started (UpResult.started), last first, each by its backend; return
    the names stopped. Each one dealt with is removed from `started`: what is left could
    not be stopped, and must stay recorded. A failure raises, unless `during` (the error
    ending the run) is given: it is then noted on that error, which stays the one reported."""
    stopped = []
    for ref in reversed(list(started)):
        try:
            stopped += backend_for(config, ref).stop()
        except WorkspaceError as exc:
            if during is None:
                raise
            during.add_note(f"Could not stop {ref} afterwards: {exc.code}: {exc.message}")
            continue
        started.remove(ref)
    return stopped


def _zitadel_mode(config: Config, *, with_postgres: bool | None) -> str:
    """docker | external | skip, or auto while the PostgreSQL backend is undecided
    (`with_postgres` None; else whether that backend runs Zitadel too, as Docker does)."""
    choice = config.deps.zitadel.backend
    if choice != "auto":
        return choice
    if config.oidc.issuer:
        return "external"
    if with_postgres is None:
        return "auto"
    return "docker" if with_postgres else "skip"


def _require_client_id(config: Config, zitadel: str) -> None:
    if zitadel == "docker":  # its first run makes the client (deps/zitadel_bootstrap.py)
        from workspace.deps.zitadel_bootstrap import check_masterkey

        check_masterkey(config)
    elif zitadel == "external" and not config.oidc.client_id:
        raise OAuthClientMissing("no OAuth client ID is configured for Zitadel")


def _check_ports(config: Config, backend: Backend, zitadel: str) -> None:
    """Configured ports free, or held by our own server or containers (reused): the
    backend's, and Zitadel's when it runs on Docker (which checks it with PostgreSQL's
    when that backend runs it too; a backend that does not ignores it)."""
    backend.check_ports(["zitadel"] if zitadel == "docker" else [])


def _check_app_ports(config: Config) -> None:
    """Each app's port free on localhost, where its probes look for it, and its own."""
    owners: dict[int, str] = {}
    for name, app in config.apps.items():
        if app.port is not None and app.port in owners:
            raise ConfigError(f"apps.{name}.port: {app.port} is apps.{owners[app.port]}.port "
                              "too", remedy="Give each app a port of its own.")
        if app.port is not None:
            owners[app.port] = name
            require_free("127.0.0.1", app.port, setting=f"apps.{name}.port")


def _wait_database(config: Config, url: str, backend: Backend, steps: Steps) -> float:
    from workspace.deps.readiness import wait_for_database

    ready = wait_for_database(url, config.readiness, config.precheck.required_extensions,
                              alive=backend.check_alive,
                              progress=lambda p: steps.progress(
                                  "database", str(p), attempt=p.attempt, attempts=p.attempts,
                                  reason=p.reason))
    return ready.elapsed_s


def _zitadel(config: Config, mode: str, steps: Steps, result: UpResult,
             on_started: Callable[[UpResult], object]) -> str:
    from workspace.deps.readiness import wait_for_zitadel
    from workspace.deps.zitadel import check_oauth_app
    from workspace.deps.zitadel_bootstrap import ensure_oidc_client, needs_bootstrap

    alive = None
    with steps.step("zitadel", "Zitadel is reachable and ready") as step:
        if mode == "docker":
            from workspace.deps.docker import DockerZitadel

            zitadel = DockerZitadel(config)
            with _recorded(result, DOCKER_ZITADEL, zitadel, on_started):
                issuer = zitadel.start()
            alive = zitadel.check_alive
        else:
            issuer = config.oidc.issuer or ""
        first_boot = mode == "docker" and zitadel.first_boot  # new container, or stale PAT
        if first_boot:
            steps.note("zitadel", "Zitadel's first boot (fresh volume): this takes one to "
                                  "three minutes")
        wait_for_zitadel(issuer, config.readiness, first_boot=first_boot,
                         debug_ready=mode == "docker", alive=alive,
                         progress=lambda p: steps.progress(
                             "zitadel", str(p), attempt=p.attempt, attempts=p.attempts,
                             reason=p.reason))
        step.detail = issuer
    with steps.step("oauth", "OAuth configuration validated") as step:
        result.oidc_client_id = config.oidc.client_id
        if mode == "docker" and needs_bootstrap(config):
            client = ensure_oidc_client(config, issuer, container_created_at=zitadel.created_at)
            result.oidc_client_id, step.detail = client.client_id, client.describe()
            return issuer
        warning = check_oauth_app(config, issuer)
        if warning:
            step.status, step.detail = "warning", warning
    return issuer


def _migrate(config: Config, url: str, migrations: list[MigrationFile], steps: Steps,
             result: UpResult) -> None:
    with steps.step("migrations", "Migrations applied") as step:
        if config.migrations.skip:
            step.status = "skipped"
            step.detail = "SKIP_MIGRATIONS is set: the validation is the only guard"
            return
        began = time.perf_counter()
        applied = migrate_project(migration_settings(config), url, files=migrations).applied
        result.migrations_applied = len(applied)
        result.timings_s["migrations"] = time.perf_counter() - began
        result.timings_s["migration_sql"] = sum(a.elapsed_ms for a in applied) / 1000
        step.detail = (f"{len(applied)} applied" if applied else "all up to date")


def _validate(config: Config, url: str, migrations: list[MigrationFile],
              steps: Steps) -> list[str]:
    from workspace.db.validate import validate
    from workspace.output.validation import show_report

    with steps.step("validation", "Database schema validated") as step:
        report = validate(url, validation_settings(config), migrations)
        if not report.valid:
            if not steps.console.json_mode:
                show_report(steps.console, report)
            raise SchemaInvalid(
                "\n".join(f.text for f in report.errors) + "\nServices will NOT start",
                [f.text for f in report.errors], remedy="; ".join(report.recommendations()) or None)
        if report.warnings:
            step.status = "warning"
            step.detail = "; ".join(f.text for f in report.warnings)
        return [f.text for f in report.warnings]


def down(config: Config) -> list[str]:
    """Stop what the launcher starts: the embedded server, our containers (volumes kept)."""
    from workspace.deps import embedded_server
    from workspace.deps.docker import engine_problem

    stopped = []
    if embedded_server(config).stop():
        stopped.append("embedded PostgreSQL")
    if engine_problem() is None:
        from workspace.deps.compose import ComposeProject

        stopped += ComposeProject(config).stop()
    return stopped
