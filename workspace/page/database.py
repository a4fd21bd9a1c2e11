"""The database work of a running workspace, one job at a time in one thread: the
migrations' status, a live migration, validation, fix. Each result goes to the page
(LiveState) and, as a line, to the terminal.

    db = LiveDatabase(config, url, live, say=printer.system)
    db.start()
    db.submit("migrate")          # also "migrations", "validate", "fix"; deduplicated
    db.stop()

A live migration goes through the same runner and validation as `workspace start`: the
files are read (a bad one stops it: nothing applied), the pending ones linted (findings
shown as warnings), then `migrate_project` (an applied file edited since: checksum
mismatch, nothing applied), then the validation. A failure leaves the apps running on
the last good schema: the error is shown, nothing is stopped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from workspace.config.models import Config
from workspace.errors import WorkspaceError
from workspace.output import redact
from workspace.page.state import LiveState

__all__ = ["JOBS", "LiveDatabase"]

JOBS = ("migrations", "migrate", "validate", "fix")


class LiveDatabase:
    def __init__(self, config: Config, url: str, live: LiveState,
                 say: Callable[[str], object]) -> None:
        self._config = config
        self._url = url
        self._live = live
        self._say = say
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="live-db", daemon=True)
        self.idle = threading.Event()  # set while nothing is queued or running (for tests)
        self.idle.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)  # a migration under way finishes (bounded by its timeouts)

    def submit(self, job: str) -> None:
        assert job in JOBS, job
        with self._lock:
            if job in self._queued:
                return
            self._queued.add(job)
            self.idle.clear()
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                self._queued.discard(job)
            self._live.update(action={"job": job, "running": True, "since": time.time()})
            try:
                getattr(self, f"_{job}")()
            except WorkspaceError as exc:
                self._report_error(job, exc)
            except Exception as exc:  # noqa: BLE001 - a bug must not end the page's thread
                self._say(f"{job} failed unexpectedly: {type(exc).__name__}: {exc}")
            finally:
                self._live.update(action={"job": job, "running": False, "at": time.time()})
                with self._lock:
                    if not self._queued:
                        self.idle.set()

    def _report_error(self, job: str, exc: WorkspaceError) -> None:
        text = redact.redact(f"{exc.code}: {exc.message}")
        self._say(f"{job}: {text.splitlines()[0]}")
        for extra in text.splitlines()[1:8]:
            self._say(f"  {extra}")
        if job == "migrate":
            self._say("migrate: not applied; the apps keep running on the last good schema")
            self._live.update(live_migration={"ok": False, "at": time.time(), "error": text,
                                              "code": exc.code, "applied": []})
            self._migrations()
        elif job == "migrations":
            self._live.update(migrations={"rows": [], "error": text})
        else:
            self._live.update(validation={"valid": None, "at": time.time(), "error": text,
                                          "errors": [], "warnings": []})

    # -- the jobs ---------------------------------------------------------------------

    def _files(self) -> list[Any]:
        from workspace.db.files import find_migrations

        return find_migrations(self._config.migrations_dir, layout=self._config.migrations.layout)

    def _migrations(self) -> None:
        from workspace.config.db import runner_settings
        from workspace.db.files import MigrationFile
        from workspace.db.lint import load_leniently
        from workspace.db.runner import read_plan

        files, bad = load_leniently(self._config.migrations_dir, self._config.migrations.layout)
        plan = read_plan(self._url, files, runner_settings(self._config))
        rows: list[dict[str, Any]] = []

        def row(m: MigrationFile | None, state: str, **extra: Any) -> None:
            rows.append({"version": m.version if m else extra.pop("version"),
                         "name": m.name if m else extra.pop("name"), "state": state, **extra})

        for m, r in plan.applied:
            row(m, "applied", applied_at=r.applied_at, execution_ms=r.execution_ms)
        for m, r in plan.modified:
            row(m, "modified", applied_at=r.applied_at, execution_ms=r.execution_ms)
        for m in plan.pending:
            row(m, "pending")
        for r in plan.missing:
            row(None, "missing", version=r.version, name=r.name, applied_at=r.applied_at)
        rows.sort(key=lambda r: r["version"])
        self._live.update(migrations={"rows": rows, "error": None,
                                      "bad_files": [str(f) for f in bad]})

    def _migrate(self) -> None:
        from workspace.config.db import migration_settings, runner_settings
        from workspace.db import migrate_project
        from workspace.db.lint import lint_files
        from workspace.db.runner import read_plan

        files = self._files()  # a bad file raises: nothing applied
        plan = read_plan(self._url, files, runner_settings(self._config))
        if not plan.pending and not plan.modified:
            self._migrations()
            return
        lint = [str(f) for f in lint_files(plan.pending)]
        for finding in lint:
            self._say(f"lint: {finding}")
        began = time.perf_counter()
        result = migrate_project(migration_settings(self._config), self._url, files=files)
        applied = [f"{a.migration.name} ({a.elapsed_ms:.0f} ms)" for a in result.applied]
        self._say("migrations applied live: " + (", ".join(applied) or "none"))
        self._live.update(live_migration={"ok": True, "at": time.time(), "applied": applied,
                                          "lint": lint, "error": None,
                                          "elapsed_ms": (time.perf_counter() - began) * 1000})
        self._migrations()
        self._validate()

    def _validate(self) -> None:
        from workspace.config.db import validation_settings
        from workspace.db.validate import validate

        report = validate(self._url, validation_settings(self._config), self._files())
        self._show(report)

    def _show(self, report: Any) -> None:
        errors = [f.text for f in report.errors]
        warnings = [f.text for f in report.warnings]
        self._live.update(validation={"valid": report.valid, "at": time.time(), "error": None,
                                      "errors": errors, "warnings": warnings,
                                      "recommendations": report.recommendations()})
        if report.valid:
            self._say("schema valid" + (f" ({len(warnings)} warnings)" if warnings else ""))
        else:
            self._say(f"schema INVALID: {len(errors)} problem(s); the apps keep running")
            for text in errors[:20]:
                self._say(f"  {text}")

    def _fix(self) -> None:
        from workspace.config.db import validation_settings
        from workspace.db.fix import apply_fix, plan_fix
        from workspace.db.validate import validate

        files = self._files()
        precheck = validation_settings(self._config)
        report = validate(self._url, precheck, files)
        assert report.expected is not None
        steps = plan_fix(report.expected.catalog, report.drifts, report.live)
        done, failed = apply_fix(self._url, steps,
                                 timeout_s=precheck.runner.connect_timeout_s)
        for step in done:
            self._say(f"fix: created {step.kind} {step.name}")
        for step, failure in failed:
            self._say(f"fix: could not create {step.kind} {step.name}: {failure}")
            if failure.remedy:  # rows in the way: fixing again would fail the same way
                self._say(f"  {failure.remedy}")
        if not steps:
            self._say("fix: nothing missing, nothing to create")
        self._show(validate(self._url, precheck, files))
