"""`workspace db lint`: the guide's best practices over the migration files."""

from __future__ import annotations

import argparse
from typing import Any

from workspace.commands.common import add_common, config_from
from workspace.errors import LintFailed
from workspace.output.console import Console

__all__ = ["register"]


def register(dbsub: Any) -> None:
    p = dbsub.add_parser("lint", help="check migrations against the guide's best practices",
                         description="Static rules over every file, then (unless --no-run) "
                                     "apply every migration twice in a scratch database. "
                                     "Exit 0 when clean, 19 when there are findings.")
    add_common(p)
    p.add_argument("--no-run", action="store_true",
                   help="static rules only: no database needed")
    p.set_defaults(handler=_lint)


def _lint(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import runner_settings
    from workspace.db.lint import lint_files, lint_notes, load_leniently, prove_rerunnable
    from workspace.run.running_db import database_url

    config = config_from(args)
    migrations, findings = load_leniently(config.migrations_dir, config.migrations.layout)
    findings += lint_files(migrations)
    notes = lint_notes(migrations)
    proved = False
    # The runner refuses files with these findings: the proof could not apply them.
    blocked = any(f.rule in ("bad-file", "outside-transaction") for f in findings)
    if not args.no_run and not blocked:
        findings += prove_rerunnable(database_url(config), migrations, runner_settings(config))
        proved = True
    if args.json:
        console.json({"ok": not findings, "ran_twice": proved, "files": len(migrations),
                      "findings": [vars(f) for f in findings],
                      "notes": [vars(n) for n in notes]})
        return LintFailed.code_info.exit_code if findings else 0
    for n in notes:
        console.info(f"{n.file}:{n.line}:{n.column}: note: {n.message}")
    for f in findings:
        console.line(str(f), "fail")
    if blocked and not args.no_run:
        console.warn("run-twice proof skipped: fix the bad-file and outside-transaction "
                     "findings first")
    if not findings:
        console.ok(f"{len(migrations)} migrations follow the best practices"
                   + (" and run twice" if proved else ""))
    if findings:
        raise LintFailed(f"{len(findings)} finding(s) in {len(migrations)} migrations")
    return 0
