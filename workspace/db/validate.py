"""The precheck's second layer: is the live schema what the migrations define?

Checks, critical ones first: the critical tables (with their column counts), functions
and extensions from config.yaml's precheck section (as `db.settings.ValidationSettings`);
the tracking table and every migration tracked; then drift against the expected schema
(expected.py), compared by drift.py. Missing objects are errors; extra and changed ones
are errors too unless the config lowers them to warnings.

    report = validate(url, precheck, migrations)  # precheck: ValidationSettings
    report.valid, report.findings
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from workspace.db import tracking
from workspace.db.catalog import Catalog, read_catalog
from workspace.db.connect import connection, map_psycopg_errors
from workspace.db.drift import TYPE_KINDS, Drift, compare, kind_rank
from workspace.db.expected import Expected, expected_catalog
from workspace.db.files import MigrationFile
from workspace.db.plan import make_plan
from workspace.db.settings import Severity, ValidationSettings
from workspace.errors import TrackingTableInvalid

__all__ = ["Finding", "Report", "validate"]

# Groups, in the order they are shown.
CRITICAL, TRACKING, MISSING, CHANGED, EXTRA = range(5)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    group: int
    text: str
    drift: Drift | None = None
    fixable: bool = True  # False: a critical object the migrations do not define
    subject: str = ""  # the critical object a CRITICAL finding is about



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
        if MISSING in groups or any(f.group == CRITICAL and f.fixable for f in self.errors):
            out.append("Run workspace db fix")
        undefined = [f.subject for f in self.errors if f.group == CRITICAL and not f.fixable]
        if undefined:  # `db fix` only recreates what the migrations define
            out.append(f"Create {', '.join(undefined)} in a migration, or remove "
                       f"{'it' if len(undefined) == 1 else 'them'} from precheck (config.yaml)")
        if TRACKING in groups:
            out.append("Run workspace db migrate (the migrations are idempotent)")
        if groups & {CHANGED, EXTRA}:
            out.append("Add the extra or changed objects to a migration, or remove them "
                       "from the database")
        return out


def validate(url: str, precheck: ValidationSettings, migrations: list[MigrationFile]) -> Report:
    settings = precheck.runner
    with map_psycopg_errors("validation"):
        with connection(url, timeout_s=settings.connect_timeout_s) as conn:
            major = (conn.info.server_version or 0) // 10000
            search_path = _search_path(conn)
            # what uses a type is read from the expected schema; owners only when compared
            live = read_catalog(conn, owners=precheck.compare_owners, dependents=False)
            tracking_findings, tracked = _tracking(conn, migrations, settings.table)
        expected = expected_catalog(url, migrations, settings, server_major=major,
                                    cache_dir=precheck.cache_dir, snapshot=precheck.snapshot)
    report = Report(expected=expected, live=live)
    # a required extension is the environment's (docker/init.sql, the embedded server),
    # never "extra"; a missing one is its own critical finding below
    report.drifts = [d for d in compare(expected.catalog, live,
                                        [*precheck.ignore, *precheck.required_extensions],
                                        owners=precheck.compare_owners)
                     if not (d.kind == "extension" and d.problem == "extra")]
    report.findings = _critical(precheck, live, expected.catalog, search_path,
                                report) + tracking_findings
    report.migrations = (tracked, len(migrations))
    covered = {f.drift for f in report.findings if f.drift}
    for d in report.drifts:
        if d in covered or _covered_by_critical(d, report.findings):
            continue
        if d.problem in ("missing", "invalid"):
            report.findings.append(Finding("error", MISSING, str(d), d))
        elif d.problem == "changed":
            report.findings.append(Finding(precheck.changed, CHANGED, str(d), d))
        else:
            report.findings.append(Finding(precheck.extra, EXTRA, str(d), d))
    # Missing objects in dependency order: a root (a type, a sequence) before what went
    # with it (its columns, functions, defaults). A missing schema, or a type whose loss
    # took columns or functions with it, comes first of all: a critical table short of a
    # column is its consequence, and the root is what to read first.
    report.findings.sort(key=lambda f: (not _is_root(f), f.group,
                                        kind_rank(f.drift.kind) if f.drift else -1, f.text))
    return report


def _is_root(f: Finding) -> bool:
    d = f.drift
    return d is not None and d.problem == "missing" and (
        d.kind == "schema" or (d.kind in TYPE_KINDS and bool(d.detail)))


def _covered_by_critical(d: Drift, findings: list[Finding]) -> bool:
    return any(f.group == CRITICAL and f.drift is None and d.name in f.text
               and d.problem == "missing" for f in findings)


def _search_path(conn: psycopg.Connection[Any]) -> list[str]:
    """The schemas an unqualified name is looked up in, as the server resolves it."""
    row = conn.execute("SELECT current_schemas(false)").fetchone()
    return list(row[0]) if row and row[0] else []


def _qualified(name: str, search_path: list[str], exists: Any) -> tuple[str, bool]:
    """`name` as schema.name: an unqualified one resolved along the search_path, as
    PostgreSQL does (the first schema holding it); (name, False) when none does."""
    if "." in name.split("(")[0]:
        return name, bool(exists(name))
    for schema in search_path:
        if exists(f"{schema}.{name}"):
            return f"{schema}.{name}", True
    return name, False


def _critical(pre: ValidationSettings, live: Catalog, expected: Catalog, search_path: list[str],
              report: Report) -> list[Finding]:
    out: list[Finding] = []
    where = (f" (looked in {', '.join(search_path) or 'an empty search_path'}: "
             "qualify it as schema.name)")
    for given, count in pre.critical_tables.items():
        name, found = _qualified(given, search_path, live.tables.__contains__)
        if not found:  # where the migrations would put it
            name, _ = _qualified(given, search_path, expected.tables.__contains__)
        table = live.tables.get(name)
        if table is None:
            out.append(Finding("error", CRITICAL, f"Missing critical table: {name}"
                               + (where if "." not in name else ""),
                               fixable=name in expected.tables, subject=name))
        elif count is not None and len(table.columns) != count:
            out.append(Finding("error", CRITICAL, f"Critical table {name} has "
                               f"{len(table.columns)} columns, expected {count}"))
    report.tables = (len(pre.critical_tables) - len(out), len(pre.critical_tables))
    missing_functions = []
    for given in pre.critical_functions:
        if not _qualified(given, search_path, lambda f: _has_function(live, f))[1]:
            name, defined = _qualified(given, search_path, lambda f: _has_function(expected, f))
            missing_functions.append(given)
            out.append(Finding("error", CRITICAL, f"Missing critical function: {name}"
                               + (where if "." not in name.split("(")[0] else ""),
                               fixable=defined, subject=name))
    report.functions = (len(pre.critical_functions) - len(missing_functions),
                        len(pre.critical_functions))
    missing_ext = [e for e in pre.required_extensions if e not in live.extensions]
    out += [Finding("error", CRITICAL, f"Missing required extension: {e}",
                    fixable=e in expected.extensions, subject=e) for e in missing_ext]
    report.extensions = (len(pre.required_extensions) - len(missing_ext),
                         len(pre.required_extensions))
    return out


def _has_function(live: Catalog, wanted: str) -> bool:
    wanted = "".join(wanted.split())
    if wanted.endswith(")"):
        return any("".join(sig.split()) == wanted for sig in live.functions)
    return any(sig.startswith(wanted + "(") for sig in live.functions)


def _tracking(conn: psycopg.Connection[Any], migrations: list[MigrationFile],
              table: str = tracking.TABLE) -> tuple[list[Finding], int]:
    try:
        if not tracking.check_shape(conn, table):
            return [Finding("error", TRACKING, "Migration tracking table "
                            f"{table} is missing")], 0
    except TrackingTableInvalid as exc:
        return [Finding("error", TRACKING, exc.message)], 0
    plan = make_plan(migrations, tracking.read_rows(conn, table))
    out = [Finding("error", TRACKING, f"Migration {m.name} is not tracked (untracked)")
           for m in plan.pending]
    out += [Finding("error", TRACKING, f"Migration {m.name} changed since it was applied "
                    "(checksum mismatch)") for m, _ in plan.modified]
    out += [Finding("warning", TRACKING, f"Migration {r.name} is tracked but its file is gone")
            for r in plan.missing]
    return out, len(plan.applied) + len(plan.modified)
