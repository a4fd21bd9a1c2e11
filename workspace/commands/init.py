"""`workspace init [DIR]`: a project, new or existing, made ready for `workspace start`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from workspace.output.console import Console

EXIT_USAGE = 2  # as argparse: say which directory

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init", help="make a project ready: config.yaml, migrations/, docker/, .gitignore",
        description="Write what is missing (a commented config.yaml with what this project "
                    "needs, migrations/ unless the project has its own directory, the Docker "
                    "backend's files, .gitignore lines for .workspace/ and docker/.env); never "
                    "overwrite. With DATABASE_URL set, report the database's migration history "
                    "and the command that adopts it.")
    p.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR",
                   help="the project directory (default: the current directory; inside "
                        "another project, give it: `.`; made when missing)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_init)


def _init(args: argparse.Namespace, console: Console) -> int:
    from workspace.project.init import init_project
    from workspace.project.root import enclosing_root

    # DIR or the current directory, as `git init`: never the project found above it (its
    # files are not ours to write). Inside one, a nested project must be asked for by
    # name: it would split this directory off (every command here would be about it).
    root = args.dir or args.project_dir or Path.cwd()
    enclosing = enclosing_root(root)
    if enclosing is not None and args.dir is None and args.project_dir is None:
        console.line(f"error: {root.resolve()} is inside the project {enclosing} (its "
                     "config.yaml); nothing was written", "error")
        console.line(f"  Remedy: run `workspace init` in {enclosing} to add what it lacks, "
                     "or `workspace init .` to make this directory a project of its own.")
        return EXIT_USAGE
    report = init_project(root, environ=os.environ)
    db = report.database
    if console.json_mode:
        console.json({
            "ok": True, "project_dir": str(report.root),
            "enclosing_project": None if enclosing is None else str(enclosing),
            "written": report.written,
            "kept": report.kept, "migrations_dir": report.migrations_dir.as_posix(),
            "apps": report.apps,
            "database": None if db is None else {
                "url": db.url, "problem": db.problem, "tables": db.tables,
                "tracking": [{"owner": f.owner, "table": f.table, "rows": f.rows,
                              "ours": f.ours} for f in db.tracking],
                "proposal": db.proposal()}})
        return 0
    console.ok(f"Project {report.root}")
    if enclosing is not None:
        console.info(f"This is a project of its own, inside the project {enclosing}: "
                     "commands run here are about this one")
    for name in report.written:
        console.ok(f"Wrote {name}")
    if report.kept:
        console.info(f"Kept (yours, not changed): {', '.join(report.kept)}")
    if report.migrations_found:
        console.info(f"Migrations: {report.migrations_dir.as_posix()}/ (found)")
    if report.apps:
        console.info(f"Apps from the Procfile: {', '.join(report.apps)}")
    if db is not None:
        _show_database(console, db)
    console.line("Next: `workspace start` (or `workspace db new NAME` for a first migration)")
    return 0


def _show_database(console: Console, db: Any) -> None:
    if db.problem is not None:
        console.warn(f"DATABASE_URL {db.url}: could not look at it: {db.problem}")
        return
    console.info(f"DATABASE_URL {db.url}: {db.tables} table(s) besides migration history")
    for f in db.tracking:
        rows = f"{f.rows} row(s)" if f.rows is not None else "rows unknown"
        console.info(f"  {f.owner} migration history: {f.table} ({rows})")
    proposal = db.proposal()
    if proposal == "workspace db adopt":
        console.line(f"To take over its history (applied times kept): {proposal}")
    elif proposal is not None:
        console.line(f"A schema without a migration history: mark it as applied up to a "
                     f"version with `{proposal}`")
    elif not db.tracking:
        console.info("  empty: `workspace start` migrates it")
