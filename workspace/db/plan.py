"""What a run would do: the migration files compared with the tracking rows.

Pure data, no database: `make_plan(files, rows)` sorts every version into applied,
pending, modified (file changed since it ran) and missing (tracked, file gone).
"""

from __future__ import annotations

from datetime import datetime

from workspace.db.files import MigrationFile
from workspace.db.layouts import order_of

__all__ = ["AppliedRow", "Plan", "make_plan", "version_order"]


class AppliedRow:
    """A tracking row. (Plain classes here: a dataclass costs about 3M instructions to
    define, and this module loads at every start.)"""

    __slots__ = ("applied_at", "applied_by", "checksum", "execution_ms", "name", "repaired_at",
                 "version")

    def __init__(self, version: int | str, name: str, checksum: str,
                 applied_at: datetime | None = None, execution_ms: float | None = None,
                 applied_by: str | None = None, repaired_at: datetime | None = None) -> None:
        self.version = version  # an int; text in Flyway's layout
        self.name = name
        self.checksum = checksum
        self.applied_at = applied_at
        self.execution_ms = execution_ms
        self.applied_by = applied_by
        self.repaired_at = repaired_at


class Plan:
    __slots__ = ("applied", "missing", "modified", "pending")

    def __init__(self) -> None:
        self.applied: list[tuple[MigrationFile, AppliedRow]] = []
        self.pending: list[MigrationFile] = []
        self.modified: list[tuple[MigrationFile, AppliedRow]] = []
        self.missing: list[AppliedRow] = []

    @property
    def out_of_order(self) -> list[MigrationFile]:
        """Pending files numbered below the newest applied one (e.g. from a merged branch)."""
        newest = max((m.order for m, _ in self.applied), default=None)
        return [m for m in self.pending if newest is not None and m.order < newest]

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.modified


def make_plan(files: list[MigrationFile], rows: list[AppliedRow]) -> Plan:
    tracked = {row.version: row for row in rows}
    plan = Plan()
    for migration in files:
        row = tracked.pop(migration.version, None)
        if row is None:
            plan.pending.append(migration)
        elif row.checksum != migration.checksum:
            plan.modified.append((migration, row))
        else:
            plan.applied.append((migration, row))
    plan.missing.extend(sorted(tracked.values(), key=lambda r: version_order(r.version)))
    return plan


def version_order(version: int | str) -> tuple[int, ...]:
    """Sort key of a tracked version (Flyway's dotted ones by their numeric parts)."""
    try:
        return order_of(version)
    except ValueError:  # a row written by hand: last
        return (2**63,)
