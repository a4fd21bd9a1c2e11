"""`workspace db ...`: migrate, status, wait, repair, and the embedded server."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from workspace.commands import history, lint, schema
from workspace.commands.common import add_common, config_from
from workspace.errors import CHECKSUM_MISMATCH, MIGRATIONS_PENDING
from workspace.output import redact

if TYPE_CHECKING:
    from workspace.config.models import Config
    from workspace.db.files import MigrationFile
    from workspace.db.plan import Plan
    from workspace.output.console import Console

# The database side (psycopg, the runner, the backends) is imported by each handler, so
# that `--help`, `--version` and the other commands do not pay for it.

__all__ = ["EXIT_MODIFIED", "EXIT_PENDING", "register"]

# `db status --exit-code` (unreachable: PRECHECK_DATABASE_UNREACHABLE's 4, as any command)
EXIT_PENDING = 1  # dbmate's `status --exit-code`
EXIT_MODIFIED = CHECKSUM_MISMATCH.exit_code  # 8: modified or missing, `db migrate` would refuse
WAIT_TIMEOUT_S = 60.0


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database migrations and the embedded server")
    dbsub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, handler: Any, *, url: bool = True) -> Any:
        p = dbsub.add_parser(name, help=help_text, description=help_text)
        add_common(p, url=url)
        p.set_defaults(handler=handler, models=False)  # pydantic only on a config cache miss
        return p

    p = command("migrate", "apply pending migrations", _migrate)
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p = command("status", "applied, pending, modified and missing migrations", _status)
    p.add_argument("--exit-code", action="store_true",
                   help=f"exit {EXIT_PENDING} when migrations are pending, {EXIT_MODIFIED} when "
                        "an applied one is modified or missing (4: unreachable)")
    p = command("wait", "wait until the database is migrated by someone else (nothing "
                        "pending, no runner holding the migration lock); never migrates", _wait)
    p.add_argument("--timeout", type=float, default=WAIT_TIMEOUT_S, metavar="S",
                   help=f"give up after S seconds with exit {MIGRATIONS_PENDING.exit_code} "
                        f"(default {WAIT_TIMEOUT_S:g})")
    p = command("repair", "accept the current content of changed, applied migrations "
                          "(records who did it and the old checksum)", _repair)
    p.add_argument("versions", nargs="*", metavar="VERSION",
                   help="only these versions (default: every modified one)")
    p = command("server", "the embedded PostgreSQL: start, stop or show it; upgrade a "
                          "cluster made by an older major version in place", _server, url=False)
    p.add_argument("action", choices=("start", "stop", "status", "upgrade"))
    schema.register(dbsub)
    lint.register(dbsub)
    from workspace.commands import db_daily

    db_daily.register(dbsub)
    history.register(dbsub)


def _migrate(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import migration_settings
    from workspace.db import migrate_project
    from workspace.db.files import find_migrations
    from workspace.run.running_db import database_url

    config = config_from(args)
    # every file checked before connecting
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    url = database_url(config)

    def report(event: str, m: MigrationFile, elapsed_ms: float | None) -> None:
        if event == "applying":
            console.info(f"Applying: {m.name}")
            for note in m.notes:
                console.info(f"  note: {m.name}:{note.line}: {note.text}")
        else:
            console.ok(f"Applied: {m.name} in {_ms(elapsed_ms)}")

    result = migrate_project(migration_settings(config), url, dry_run=args.dry_run,
                             report=None if args.json else report, files=files)
    plan = result.plan
    if args.json:
        console.json({
            "ok": True, "database": redact.mask_url(url), "dry_run": args.dry_run,
            "applied": [{"version": a.migration.version, "name": a.migration.name,
                         "elapsed_ms": round(a.elapsed_ms, 1)} for a in result.applied],
            "pending": [] if not args.dry_run else [_file(m) for m in plan.pending],
            "missing": [{"version": r.version, "name": r.name} for r in plan.missing],
        })
        return 0
    for row in plan.missing:
        console.warn(f"{row.name} is recorded as applied but its file is gone")
    if args.dry_run:
        if not plan.pending:
            console.ok("All migrations up to date")
        for m in plan.pending:
            mode = "" if m.transactional else " (no transaction)"
            console.info(f"Would apply: {m.name} ({len(m.statements)} statements){mode}")
            for note in m.notes:
                console.info(f"  note: {m.name}:{note.line}: {note.text}")
        return 0
    if not result.applied:
        console.ok("All migrations up to date")
    else:
        total = result.elapsed_ms or sum(a.elapsed_ms for a in result.applied)
        console.ok(f"{len(result.applied)} migration{'s' if len(result.applied) != 1 else ''} "
                   f"applied in {_ms(total)}")
    return 0


def _status(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import runner_settings
    from workspace.db.files import find_migrations
    from workspace.db.runner import read_plan
    from workspace.run.running_db import database_url

    config = config_from(args)
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    url = database_url(config)
    plan = read_plan(url, files, runner_settings(config))
    rows = _status_rows(plan)
    if args.json:
        console.json({"ok": True, "database": redact.mask_url(url), "migrations": rows,
                      "counts": {state: sum(r["state"] == state for r in rows)
                                 for state in ("applied", "pending", "modified", "missing")}})
    else:
        console.line(f"Database: {redact.mask_url(url)}")
        width = max((len(r["name"]) for r in rows), default=4)
        for r in rows:
            when = f"{r['applied_at']:%Y-%m-%d %H:%M:%S}  {_ms(r['execution_ms'])}" \
                if r["applied_at"] else ""
            kind = {"applied": "ok", "pending": "info", "modified": "fail",
                    "missing": "warn"}[r["state"]]
            console.line(f"{r['state']:<9} {r['name']:<{width}}  {when}".rstrip(), kind)
        counts = {s: sum(r["state"] == s for r in rows) for s in ("applied", "pending")}
        console.line(f"{counts['applied']} applied, {counts['pending']} pending, "
                     f"{len(plan.modified)} modified, {len(plan.missing)} missing")
        if plan.modified:
            console.warn("modified files: restore them, or `workspace db repair` to accept "
                         "the change")
    if not args.exit_code:
        return 0
    if plan.modified or plan.missing:
        return EXIT_MODIFIED
    return EXIT_PENDING if plan.pending else 0


def _wait(args: argparse.Namespace, console: Console) -> int:
    from workspace.db.files import find_migrations
    from workspace.db.wait import check_timeout, wait_for_migrations
    from workspace.run.running_db import database_url

    check_timeout(args.timeout, "db wait --timeout")
    config = config_from(args)
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    url = database_url(config)
    started = time.monotonic()
    plan = wait_for_migrations(
        url, files, timeout_s=args.timeout, connect_timeout_s=config.database.connect_timeout_s,
        report=None if args.json else lambda reason: console.info(f"Waiting: {reason}"),
        table=config.migrations.table)
    waited = time.monotonic() - started
    if args.json:
        console.json({"ok": True, "database": redact.mask_url(url), "waited_s": round(waited, 3),
                      "applied": len(plan.applied)})
    else:
        console.ok(f"All migrations up to date ({len(plan.applied)} applied; waited "
                   f"{waited:.1f}s)")
    return 0


def _status_rows(plan: Plan) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for state, pairs in (("applied", plan.applied), ("modified", plan.modified)):
        for m, row in pairs:
            rows.append({**_file(m), "state": state, "applied_at": row.applied_at,
                         "execution_ms": row.execution_ms, "applied_by": row.applied_by,
                         "repaired_at": row.repaired_at})
    rows += [{**_file(m), "state": "pending", "applied_at": None, "execution_ms": None,
              "applied_by": None, "repaired_at": None} for m in plan.pending]
    rows += [{"version": r.version, "name": r.name, "state": "missing",
              "applied_at": r.applied_at, "execution_ms": r.execution_ms,
              "applied_by": r.applied_by, "repaired_at": r.repaired_at} for r in plan.missing]
    from workspace.db.plan import version_order

    return sorted(rows, key=lambda r: version_order(r["version"]))


def _repair(args: argparse.Namespace, console: Console) -> int:
    from workspace.config.db import runner_settings
    from workspace.db.files import find_migrations
    from workspace.db.runner import repair
    from workspace.run.running_db import database_url

    config = config_from(args)
    files = find_migrations(config.migrations_dir, layout=config.migrations.layout)
    url = database_url(config)
    done = repair(url, files, runner_settings(config), set(args.versions) or None)
    if args.json:
        console.json({"ok": True, "repaired": [_file(m) for m in done]})
    elif not done:
        console.ok("Nothing to repair: every applied migration matches its file")
    for m in done if not args.json else ():
        console.ok(f"Accepted the current content of {m.name} (old checksum kept in "
                   "previous_checksum)")
    return 0


def _server(args: argparse.Namespace, console: Console) -> int:
    from workspace.deps import embedded_server
    from workspace.deps.embedded import PG_MAJOR

    config = config_from(args)
    server = embedded_server(config)
    if args.action == "start":
        url = server.start(ensure_database=True)
        message = f"Embedded PostgreSQL running at {redact.mask_url(url)}"
    elif args.action == "stop":
        from workspace.run.state import RunLock

        lock = RunLock(config.state_dir)  # held throughout, as `down`: no `start` meanwhile
        if not lock.acquire():
            _refuse_under_running_apps(config)
        try:
            stopped = server.stop()
        finally:
            lock.release()
        message = "Embedded PostgreSQL stopped" if stopped else "Embedded PostgreSQL was not running"
    elif args.action == "upgrade":
        from workspace.deps.pg_upgrade import upgrade

        kept = upgrade(server, progress=lambda step: None if args.json else console.info(step))
        message = (f"Embedded PostgreSQL upgraded to {PG_MAJOR}; the old cluster is kept in "
                   f"{kept} (remove it once you are satisfied)" if kept
                   else f"Embedded PostgreSQL is already {PG_MAJOR}: nothing to upgrade")
    else:
        message = ""
    status = server.status()
    if args.json:
        console.json({"ok": True, "running": status.running, "pid": status.pid,
                      "port": status.port, "url": status.url,
                      "data_dir": str(status.data_dir), "initialised": status.initialised})
        return 0
    if message:
        console.ok(message)
    if args.action == "status":
        if status.running:
            console.ok(f"Embedded PostgreSQL running: pid {status.pid}, {status.url}")
        else:
            console.info("Embedded PostgreSQL not running"
                         + ("" if status.initialised else " (no cluster yet)"))
        console.line(f"Data directory: {status.data_dir}")
    return 0


def _refuse_under_running_apps(config: Config) -> None:
    """A workspace runs (it holds the run lock): its apps use the embedded server unless
    it runs on another backend."""
    from workspace.errors import AlreadyRunning
    from workspace.run.state import StateStore

    state = StateStore(config.state_dir).read()
    if state is None or state.backend in ("", "embedded"):
        raise AlreadyRunning("a workspace is running, and its apps use the embedded PostgreSQL",
                             remedy="`workspace stop` stops the apps, then the server it started.")


def _file(m: MigrationFile) -> dict[str, Any]:
    return {"version": m.version, "name": m.name}


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"
