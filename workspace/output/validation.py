"""The guide's rendering of a validation report, shared by `db validate` and `start`.

    show_report(console, validate(url, precheck, migrations))
    # VALIDATION PASSED / 8/8 tables exist / ... / Recommendation: Run workspace db fix
"""

from __future__ import annotations

from workspace.db.validate import Report
from workspace.output.console import Console

__all__ = ["show_report"]


def show_report(console: Console, report: Report) -> None:
    """The guide's output: a verdict, the counts, one problem a line, a recommendation."""
    if report.valid:
        console.ok("VALIDATION PASSED")
    else:
        console.fail("VALIDATION FAILED")
    for label, (ok, total) in (("tables exist", report.tables),
                               ("functions exist", report.functions),
                               ("extensions present", report.extensions),
                               ("migrations tracked", report.migrations)):
        console.line(f"{ok}/{total} {label}")
    for f in report.errors:
        console.line(f.text, "fail")
    for f in report.warnings:
        console.line(f"{f.text} (warning)", "warn")
    if report.valid and not report.drifts:
        source = report.expected.source if report.expected else "?"
        console.line(f"No drift from the migrations (expected schema from {source})")
    for rec in report.recommendations():
        console.line(f"Recommendation: {rec}")
