"""`workspace db adopt`, `db baseline` and `db new`: another runner's history taken over,
a database with no history baselined, the next migration file written."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workspace.commands.common import add_common, config_from
from workspace.errors import display_path

if TYPE_CHECKING:
    from workspace.db.adopt import AdoptResult
    from workspace.output.console import Console

__all__ = ["register"]

SOURCES = ("auto", "guide", "dbmate", "golang-migrate", "flyway")  # as db.adopt.SOURCES


def register(dbsub: Any) -> None:
    p = dbsub.add_parser(
        "adopt", help="import another runner's migration history into workspace's table",
        description="Read the guide's original runner's, dbmate's, golang-migrate's or "
                    "Flyway's tracking table, match its versions to the migration files and "
                    "record them as applied (their times kept). One transaction; running it "
                    "again changes nothing; refuses when workspace's table disagrees.")
    add_common(p)
    p.add_argument("--from", dest="source", choices=SOURCES, default="auto",
                   help="whose history (default: the one found)")
    p.set_defaults(handler=_adopt)
    p = dbsub.add_parser(
        "baseline", help="record every migration up to VERSION as applied, without running it",
        description="For a database that already has the schema of the migrations up to "
                    "VERSION and no history: record them as applied. One transaction; "
                    "running it again changes nothing; refuses when a history is there.")
    add_common(p)
    p.add_argument("version", metavar="VERSION", help="the last migration the database has "
                                                      "(e.g. 0003, 20240101120000, 1.1)")
    p.set_defaults(handler=_baseline)
    p = dbsub.add_parser(
        "new", help="write the next migration file, in the project's layout",
        description="Write the next migration (next number, UTC timestamp, V<n>__, the "
                    "golang-migrate pair or the diesel directory, as the project's files "
                    "are named) from a template of idempotent examples; prints its path.")
    add_common(p, url=False)
    p.add_argument("name", metavar="NAME", help="what it does, e.g. add_tags")
    p.set_defaults(handler=_new)


def _adopt(args: argparse.Namespace, console: Console) -> int:
    from workspace.db.adopt import adopt

    return _take_over(args, console, "adopted",
                      lambda *common, **kw: adopt(*common, **kw, source=args.source))


def _baseline(args: argparse.Namespace, console: Console) -> int:
    from workspace.db.adopt import baseline

    return _take_over(args, console, "baselined",
                      lambda *common, **kw: baseline(*common, **kw, version=args.version))


def _take_over(args: argparse.Namespace, console: Console, done: str,
               record: Callable[..., AdoptResult]) -> int:
    """What adopt and baseline share: the project's files in its layout, the database,
    the runner's settings; `record(url, files, settings, layout=...)` does the work."""
    from workspace.config.db import runner_settings
    from workspace.db.files import detect_layout, find_migrations
    from workspace.run.running_db import database_url

    config = config_from(args)
    layout = detect_layout(config.migrations_dir, config.migrations.layout)
    files = find_migrations(config.migrations_dir, layout=layout)
    result = record(database_url(config), files, runner_settings(config), layout=layout)
    return _report(args, console, result, config.migrations.table, done)


def _report(args: argparse.Namespace, console: Console, result: AdoptResult, table: str,
            done: str) -> int:
    source = result.source
    if args.json:
        console.json({
            "ok": True, "source": {"tool": source.tool, "table": source.table} if source else None,
            "table": table, "already": result.already, "set_aside": result.set_aside,
            done: [{"version": m.version, "name": m.name,
                    "applied_at": at.isoformat() if at else None} for m, at in result.adopted],
            "no_file": result.no_file,
            "pending": [{"version": m.version, "name": m.name} for m in result.pending]})
        return 0
    whose = f" from {source.table} ({source.tool})" if source else ""
    if result.already:
        console.ok(f"Nothing to do: {table} already records this history{whose}")
    else:
        console.ok(f"{len(result.adopted)} migration(s) {done} into {table}{whose}")
    for m, at in result.adopted:
        console.line(f"  {done} {m.name}" + (f" (applied {at:%Y-%m-%d %H:%M:%S})" if at else ""))
    if result.set_aside:
        console.info(f"The other tool's table is kept as {result.set_aside}")
    for label in result.no_file:
        console.warn(f"{label} is recorded by the other tool but has no migration file here")
    for m in result.pending:
        console.info(f"pending: {m.name} (`workspace db migrate` applies it)")
    return 0


def _new(args: argparse.Namespace, console: Console) -> int:
    from workspace.db.files import detect_layout
    from workspace.db.newfile import new_migration

    config = config_from(args)
    layout = detect_layout(config.migrations_dir, config.migrations.layout)
    paths = new_migration(config.migrations_dir, args.name, layout=layout)
    if args.json:
        console.json({"ok": True, "layout": layout, "path": str(paths[0]),
                      "paths": [str(p) for p in paths]})
        return 0
    for path in paths:
        console.line(display_path(path))
    return 0
