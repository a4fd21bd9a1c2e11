"""`db fix` on a real PostgreSQL: only what is missing comes back, in its final shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query, write
from tests.db.test_validate import check, config_for
from workspace.config.models import Config
from workspace.db.files import find_migrations
from workspace.db.fix import apply_fix, plan_fix
from workspace.db.runner import RunnerSettings, migrate


@pytest.fixture
def migrated(shipped_project: Path, app_db_url: str) -> tuple[Config, str]:
    db_url = app_db_url
    migrate(db_url, find_migrations(shipped_project / "migrations"), RunnerSettings())
    return config_for(shipped_project), db_url


def fix(config: Config, url: str):  # type: ignore[no-untyped-def]
    report = check(config, url)
    assert report.expected is not None
    steps = plan_fix(report.expected.catalog, report.drifts)
    done, failed = apply_fix(url, steps, timeout_s=10)
    return steps, done, failed


SEED = """
WITH o AS (INSERT INTO core.orgs (name, slug) VALUES ('Acme', 'acme') RETURNING id),
     p AS (INSERT INTO core.projects (org_id, name) SELECT id, 'kb' FROM o RETURNING id)
INSERT INTO kb.documents (project_id, filename) SELECT id, 'a.txt' FROM p RETURNING id
"""


def test_dropped_tags_table_comes_back_with_indexes_and_other_rows_survive(
        migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, SEED)
    indexes_before = query(url, "SELECT indexname, indexdef FROM pg_indexes "
                                "WHERE schemaname = 'kb' AND tablename = 'tags' ORDER BY 1")
    query(url, "DROP TABLE kb.tags CASCADE")
    steps, done, failed = fix(config, url)
    assert failed == [] and len(done) == len(steps)
    assert query(url, "SELECT indexname, indexdef FROM pg_indexes "
                      "WHERE schemaname = 'kb' AND tablename = 'tags' ORDER BY 1") == indexes_before
    assert query(url, "SELECT filename FROM kb.documents") == [("a.txt",)]
    after = check(config, url)
    assert after.valid and after.drifts == [], [f.text for f in after.findings]


def test_function_column_index_and_trigger_are_repaired(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, SEED)
    query(url, "DROP FUNCTION kb.update_tsv() CASCADE")
    query(url, "ALTER TABLE kb.documents DROP COLUMN content_hash")
    query(url, "DROP INDEX kb.chunks_tsv_gin")
    steps, _, failed = fix(config, url)
    assert failed == []
    assert {(s.kind, s.name) for s in steps} >= {
        ("function", "kb.update_tsv()"), ("column", "kb.documents.content_hash"),
        ("index", "kb.chunks_tsv_gin"), ("trigger", "kb.chunks.chunks_update_tsv")}
    assert check(config, url).drifts == []
    assert query(url, "SELECT count(*) FROM kb.documents") == [(1,)]


def test_extra_objects_are_left_alone(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "CREATE TABLE kb.custom_table (id int); INSERT INTO kb.custom_table VALUES (7)")
    steps, done, _ = fix(config, url)
    assert steps == [] and done == []
    assert query(url, "SELECT id FROM kb.custom_table") == [(7,)]


def test_object_altered_by_a_later_migration_comes_back_altered(
        migrated: tuple[Config, str]) -> None:
    config, url = migrated
    write(config.project_dir, "0005_org_tier.sql",
          "ALTER TABLE core.orgs ADD COLUMN IF NOT EXISTS tier int NOT NULL DEFAULT 1;")
    migrate(url, find_migrations(config.migrations_dir), RunnerSettings())
    query(url, "DROP TABLE core.orgs CASCADE")  # takes every foreign key to it along
    _, _, failed = fix(config, url)
    assert failed == []
    assert query(url, "SELECT column_default, is_nullable FROM information_schema.columns "
                      "WHERE table_schema = 'core' AND table_name = 'orgs' "
                      "AND column_name = 'tier'") == [("1", "NO")]
    report = check(config, url)
    assert report.valid and report.drifts == []


def test_a_step_that_cannot_be_repaired_is_reported_and_the_rest_still_lands(
        migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, SEED)
    query(url, "ALTER TABLE kb.documents DROP CONSTRAINT documents_check")
    query(url, "UPDATE kb.documents SET filename = NULL, source_url = NULL")  # violates it now
    query(url, "DROP INDEX kb.chunks_tsv_gin")
    _, done, failed = fix(config, url)
    assert [(s.name, failure.sqlstate) for s, failure in failed] == [
        ("kb.documents.documents_check", "23514")]
    # `db fix` again would fail the same way: the remedy is the rows, found by a query
    remedy = failed[0][1].remedy
    assert remedy.startswith("Table kb.documents has rows that break check constraint "
                             "documents_check: find them with `SELECT * FROM kb.documents "
                             "WHERE NOT ("), remedy
    assert remedy.endswith("`, fix or delete them, then run workspace db fix")
    assert query(url, remedy.split("`")[1]) == query(url, "SELECT * FROM kb.documents")
    assert [s.name for s in done] == ["kb.chunks_tsv_gin"]
    report = check(config, url)
    assert [f.text for f in report.errors] == [
        "Missing constraint: kb.documents.documents_check"]
