"""The multi-tenant fixture schema (tests/db/fixtures/tenant/): a project, databases
migrated from it with rows in every table, and the catalog reader's view of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg

from workspace.config.db import validation_settings
from workspace.config.models import Config, load_config
from workspace.db.catalog import Catalog, read_catalog
from workspace.db.files import find_migrations
from workspace.db.fix import Failure, Step, apply_fix, plan_fix
from workspace.db.runner import RunnerSettings, migrate
from workspace.db.validate import Report, validate

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tenant"
APP_ROLE = "tenant_app"  # named by the migrations; the cluster is this session's own
CONFIG = """\
precheck:
  critical_tables: {kb.documents: 7, kb.projects: 4}
  critical_functions: [kb.search]
  required_extensions: []
"""
# Rows in every table (superuser: row-level security does not apply).
SEED = """
INSERT INTO auth.users (email, display_name) VALUES ('ada@example.org', 'Ada');
INSERT INTO kb.projects (name, owner_email) VALUES ('one', 'ada@example.org');
INSERT INTO kb.documents (project_id, title, author_email) VALUES (1, 'Intro', 'ada@example.org');
INSERT INTO kb.chunks (project_id, document_id, position, content) VALUES (1, 1, 1, 'hello');
INSERT INTO billing.invoices (project_id, total, band) VALUES (1, 12.5, '[1,10)');
INSERT INTO billing.usage_events (project_id, occurred_at, quantity)
    VALUES (1, '2026-01-15', 3), (1, '2026-02-15', 4), (1, '2027-01-01', 5);
INSERT INTO kb.import_staging (project_id, payload) VALUES (1, '{}');
INSERT INTO kb.locked_items VALUES (1, 1);
REFRESH MATERIALIZED VIEW kb.document_stats;
"""
TABLES = ("auth.users", "kb.projects", "kb.documents", "kb.chunks", "billing.invoices",
          "billing.usage_events", "kb.import_staging", "kb.locked_items", "kb.document_stats")


def ensure_app_role(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN; "
                     "EXCEPTION WHEN duplicate_object THEN NULL; END $$")


def make_project(root: Path, migrations: Path = FIXTURE / "migrations") -> Config:
    shutil.copytree(migrations, root / "migrations")
    (root / "config.yaml").write_text(CONFIG)
    return load_config(root, environ={})


def build(config: Config, url: str, *, seed: bool = True) -> None:
    migrate(url, find_migrations(config.migrations_dir), RunnerSettings())
    if seed:
        run(url, SEED)


def run(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql.encode())
        return cur.fetchall() if cur.description else []


def catalog(url: str) -> Catalog:
    with psycopg.connect(url, autocommit=True) as conn:
        return read_catalog(conn)


def check(config: Config, url: str) -> Report:
    return validate(url, validation_settings(config), find_migrations(config.migrations_dir))


def fix(config: Config, url: str) -> tuple[list[Step], list[Step], list[tuple[Step, Failure]]]:
    report = check(config, url)
    assert report.expected is not None
    steps = plan_fix(report.expected.catalog, report.drifts, report.live)
    done, failed = apply_fix(url, steps, timeout_s=10)
    return steps, done, failed


def row_counts(url: str) -> dict[str, int]:
    return {t: int(run(url, f"SELECT count(*) FROM {t}")[0][0]) for t in TABLES}
