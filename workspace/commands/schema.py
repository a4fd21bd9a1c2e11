"""`workspace db validate`, `db fix` and `db snapshot`: the schema against the migrations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workspace.commands.common import add_common, config_from
from workspace.errors import (
    DatabaseUnreachable,
    MigrationError,
    SchemaInvalid,
    ValidationUnavailable,
    display_path,
)
from workspace.output import redact

if TYPE_CHECKING:
    from workspace.config.models import Config
    from workspace.db.validate import Report
    from workspace.output.console import Console

__all__ = ["register"]


def register(dbsub: Any) -> None:
    p = dbsub.add_parser("validate", help="check the schema against the migrations",
                         description="Check critical objects, tracking and drift. Exit 0 "
                                     "when valid, 12 when invalid, 13 when it could not check.")
    add_common(p)
    p.set_defaults(handler=_validate, models=False)  # pydantic only on a config cache miss
    p = dbsub.add_parser("fix", help="recreate missing objects (never drops or rewrites)")
    add_common(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.set_defaults(handler=_fix)
    p = dbsub.add_parser("snapshot", help="write the expected schema to precheck.snapshot "
                                          "(for roles that may not create databases)")
    add_common(p)
    p.set_defaults(handler=_snapshot)


def _checked(config: Config, url: str) -> Report:
    from workspace.config.db import validation_settings
    from workspace.db.files import find_migrations
    from workspace.db.validate import validate  # the schema modules load only when used

    migrations = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    try:
        return validate(url, validation_settings(config), migrations)
    except (DatabaseUnreachable, MigrationError) as exc:
        # For scripts: 13 means "could not check", whatever stopped it.
        raise ValidationUnavailable(f"could not check the schema: {exc.code}: {exc.message}",
                                    remedy=exc.remedy) from None


def _validate(args: argparse.Namespace, console: Console) -> int:
    from workspace.run.running_db import database_url

    config = config_from(args)
    url = database_url(config)
    report = _checked(config, url)
    if args.json:
        console.json(_report_json(report, url))
        return 0 if report.valid else SchemaInvalid.code_info.exit_code
    from workspace.output.validation import show_report

    show_report(console, report)
    if not report.valid:
        raise SchemaInvalid(f"{len(report.errors)} problem(s) in {redact.mask_url(url)}",
                            [f.text for f in report.errors],
                            remedy="; ".join(report.recommendations()) or None)
    return 0


def _report_json(report: Report, url: str) -> dict[str, Any]:
    def pair(p: tuple[int, int]) -> dict[str, int]:
        return {"ok": p[0], "total": p[1]}

    return {
        "ok": True, "valid": report.valid, "database": redact.mask_url(url),
        "tables": pair(report.tables), "functions": pair(report.functions),
        "extensions": pair(report.extensions), "migrations": pair(report.migrations),
        "problems": [{"severity": f.severity, "text": f.text,
                      "kind": f.drift.kind if f.drift else "critical",
                      "object": f.drift.name if f.drift else None,
                      "problem": f.drift.problem if f.drift else None} for f in report.findings],
        "expected_from": report.expected.source if report.expected else None,
        "recommendations": report.recommendations(),
    }


def _fix(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import runner_settings
    from workspace.run.running_db import database_url

    config = config_from(args)
    url = database_url(config)
    from workspace.db.fix import apply_fix, plan_fix

    report = _checked(config, url)
    assert report.expected is not None
    steps = plan_fix(report.expected.catalog, report.drifts, report.live)
    if not args.json:
        if not steps:
            console.ok("Nothing missing: nothing to create")
        for step in steps:
            console.info(f"Would create {step.kind} {step.name}" if args.dry_run
                         else f"Creating {step.kind} {step.name}...")
    if args.dry_run:
        if args.json:
            console.json({"ok": True, "dry_run": True,
                          "plan": [{"kind": s.kind, "name": s.name, "sql": s.sql} for s in steps],
                          "left_alone": _left_alone(report)})
        else:
            _show_left_alone(console, report)
        return 0
    done, failed = apply_fix(url, steps, timeout_s=runner_settings(config).connect_timeout_s)
    after = _checked(config, url)
    # Done means the live catalog reads as the expected one, not merely "valid".
    unrepaired = [d for d in after.drifts if d.problem in ("missing", "invalid")]
    if args.json:
        ok = after.valid and not unrepaired
        console.json({"ok": ok, "created": [{"kind": s.kind, "name": s.name} for s in done],
                      "failed": [{"kind": s.kind, "name": s.name, "reason": r.reason,
                                  "remedy": r.remedy or None} for s, r in failed],
                      "left_alone": _left_alone(after), "after": _report_json(after, url)})
        return 0 if ok else SchemaInvalid.code_info.exit_code
    for step in done:
        console.ok(f"Created {step.kind} {step.name}")
    for step, reason in failed:
        console.fail(f"Could not create {step.kind} {step.name}: {reason}")
    _show_left_alone(console, after)
    if after.valid and not unrepaired:
        console.ok("Schema is now valid!")
        return 0
    console.fail("Schema is still invalid:")
    for f in after.errors:
        console.line(f"  {f.text}")
    for d in unrepaired:
        if not any(f.drift == d for f in after.errors):  # a warning-level leftover
            console.line(f"  {d}")
    untouched = [f.text for f in after.errors if f.drift and f.drift.problem
                 in ("changed", "extra")]
    # Rows in the way (a foreign key to rows that are gone): `db fix` again would fail
    # the same way, so the remedy is to deal with those rows first.
    rows_first = [r.remedy for _, r in failed if r.remedy]
    raise SchemaInvalid(
        f"{len(after.errors) or len(unrepaired)} problem(s) remain" + (
            f"; fix never rewrites or drops objects ({len(untouched)} changed or extra)"
            if untouched else ""), [f.text for f in after.errors],
        remedy="; ".join(rows_first) if rows_first else
        after.recommendations()[0] if after.recommendations() else None)


def _left_alone(report: Report) -> list[dict[str, str]]:
    """Changed and extra objects, each with the SQL that would reconcile it (not run)."""
    from workspace.db.reconcile import reconcile_sql

    if report.expected is None or report.live is None:
        return []
    return [{"kind": d.kind, "name": d.name, "problem": d.problem, "text": str(d),
             "sql": reconcile_sql(report.expected.catalog, report.live, d)}
            for d in report.drifts if d.problem in ("changed", "extra")]


def _show_left_alone(console: Console, report: Report) -> None:
    left = _left_alone(report)
    if not left:
        return
    console.warn(f"Left alone ({len(left)}): fix never drops, rewrites or alters what exists. "
                 "To reconcile, put this SQL in a migration, or run it knowingly:")
    for entry in left:
        console.line(f"  {entry['text']}")
        for statement in entry["sql"].split(";\n") if entry["sql"] else ():
            console.line(f"    {statement.rstrip(';')};")


def _snapshot(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import runner_settings
    from workspace.db.files import find_migrations
    from workspace.run.running_db import database_url

    config = config_from(args)
    url = database_url(config)
    from workspace.db.expected import build_expected, write_snapshot

    migrations = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    catalog = build_expected(url, migrations, runner_settings(config))
    path = config.path(config.precheck.snapshot)
    write_snapshot(path, catalog, migrations)
    if args.json:
        console.json({"ok": True, "snapshot": str(path)})
    else:
        console.ok(f"Wrote the expected schema of {len(migrations)} migrations to "
                   f"{display_path(path)}; commit it")
    return 0
