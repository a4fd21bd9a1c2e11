"""The precheck's second layer: is the live schema what the migrations define?

Checks, critical ones first: the critical tables (with their column counts), functions
and extensions from config.yaml's precheck section; the tracking table and every
migration tracked; then drift against the expected schema (expected.py), compared by
drift.py. Missing objects are errors; extra and changed ones are errors too unless the
config lowers them to warnings.

    report = validate(url, config, migrations)
    report.valid, report.findings
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import psycopg

from workspace.db import runner_settings, tracking
from workspace.db.catalog import Catalog, read_catalog
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.drift import Drift, compare, kind_rank
from workspace.db.expected import Expected, expected_catalog
from workspace.db.files import MigrationFile
from workspace.db.plan import make_plan
from workspace.errors import TrackingTableInvalid

if TYPE_CHECKING:
    from workspace.config import Config, PrecheckConfig

__all__ = ["Finding", "Report", "validate"]

Severity = Literal["error", "warning"]
# Groups, in the order they are shown.
CRITICAL, TRACKING, MISSING, CHANGED, EXTRA = range(5)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    group: int
    text: str
    drift: Drift | None = None


@dataclass
class Report:
    tables: tuple[int, int] = (0, 0)
    functions: tuple[int, int] = (0, 0)
    extensions: tuple[int, int] = (0, 0)
    migrations: tuple[int, int] = (0, 0)
    findings: list[Finding] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    expected: Expected | None = None
    live: Catalog | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def recommendations(self) -> list[str]:
        groups = {f.group for f in self.errors}
        out = []
        if groups & {CRITICAL, MISSING}:
            out.append("Run workspace db fix")
        if TRACKING in groups:
            out.append("Run workspace db migrate (the migrations are idempotent)")
        if groups & {CHANGED, EXTRA}:
            out.append("Add the extra or changed objects to a migration, or remove them "
                       "from the database")
        return out


def validate(url: str, config: Config, migrations: list[MigrationFile]) -> Report:
    settings = runner_settings(config)
    with map_psycopg_errors("validation"):
        with connection(url, timeout_s=settings.connect_timeout_s) as conn:
            major = (conn.info.server_version or 0) // 10000
            live = read_catalog(conn)
            tracking_findings, tracked = _tracking(conn, migrations)
        expected = expected_catalog(url, migrations, settings, server_major=major,
                                    cache_dir=config.state_dir / "cache",
                                    snapshot=config.path(config.precheck.snapshot))
    report = Report(expected=expected, live=live)
    # a required extension is the environment's (docker/init.sql, the embedded server),
    # never "extra"; a missing one is its own critical finding below
    report.drifts = compare(expected.catalog, live,
                            [*config.precheck.ignore, *config.precheck.required_extensions],
                            owners=config.precheck.compare_owners)
    report.findings = _critical(config.precheck, live, report) + tracking_findings
    report.migrations = (tracked, len(migrations))
    covered = {f.drift for f in report.findings if f.drift}
    policy = config.precheck.drift
    for d in report.drifts:
        if d in covered or _covered_by_critical(d, report.findings):
            continue
        if d.problem in ("missing", "invalid"):
            report.findings.append(Finding("error", MISSING, str(d), d))
        elif d.problem == "changed":
            report.findings.append(Finding(policy.changed, CHANGED, str(d), d))
        else:
            report.findings.append(Finding(policy.extra, EXTRA, str(d), d))
    # Missing objects in dependency order: a root (a type, a sequence) before what went
    # with it (its columns, functions, defaults).
    report.findings.sort(key=lambda f: (f.group, kind_rank(f.drift.kind) if f.drift else -1,
                                        f.text))
    return report


def _covered_by_critical(d: Drift, findings: list[Finding]) -> bool:
    return any(f.group == CRITICAL and f.drift is None and d.name in f.text
               and d.problem == "missing" for f in findings)


def _critical(pre: PrecheckConfig, live: Catalog, report: Report) -> list[Finding]:
    out: list[Finding] = []
    for name, count in pre.critical_tables.items():
        table = live.tables.get(name)
        if table is None:
            out.append(Finding("error", CRITICAL, f"Missing critical table: {name}"))
        elif count is not None and len(table.columns) != count:
            out.append(Finding("error", CRITICAL, f"Critical table {name} has "
                               f"{len(table.columns)} columns, expected {count}"))
    report.tables = (len(pre.critical_tables) - len(out), len(pre.critical_tables))
    missing_functions = [f for f in pre.critical_functions if not _has_function(live, f)]
    out += [Finding("error", CRITICAL, f"Missing critical function: {f}")
            for f in missing_functions]
    report.functions = (len(pre.critical_functions) - len(missing_functions),
                        len(pre.critical_functions))
    missing_ext = [e for e in pre.required_extensions if e not in live.extensions]
    out += [Finding("error", CRITICAL, f"Missing required extension: {e}") for e in missing_ext]
    report.extensions = (len(pre.required_extensions) - len(missing_ext),
                         len(pre.required_extensions))
    return out


def _has_function(live: Catalog, wanted: str) -> bool:
    wanted = "".join(wanted.split())
    if wanted.endswith(")"):
        return any("".join(sig.split()) == wanted for sig in live.functions)
    return any(sig.startswith(wanted + "(") for sig in live.functions)


def _tracking(conn: psycopg.Connection[Any],
              migrations: list[MigrationFile]) -> tuple[list[Finding], int]:
    try:
        if not tracking.check_shape(conn):
            return [Finding("error", TRACKING, "Migration tracking table "
                            f"{tracking.TABLE} is missing")], 0
    except TrackingTableInvalid as exc:
        return [Finding("error", TRACKING, exc.message)], 0
    plan = make_plan(migrations, tracking.read_rows(conn))
    out = [Finding("error", TRACKING, f"Migration {m.name} is not tracked (untracked)")
           for m in plan.pending]
    out += [Finding("error", TRACKING, f"Migration {m.name} changed since it was applied "
                    "(checksum mismatch)") for m, _ in plan.modified]
    out += [Finding("warning", TRACKING, f"Migration {r.name} is tracked but its file is gone")
            for r in plan.missing]
    return out, len(plan.applied) + len(plan.modified)
