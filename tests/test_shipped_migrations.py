"""The project's own migrations/: the guide's schema, idempotent statement by statement."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import SHIPPED_MIGRATIONS, query
from workspace.db.files import find_migrations
from workspace.db.runner import RunnerSettings, migrate

CRITICAL_TABLES = {
    "documents": 8, "chunks": 7, "object_extraction_jobs": 31, "graph_embedding_jobs": 11,
    "auth_introspection_cache": 4, "tags": 8, "graph_objects": 30, "graph_relationships": 18,
}


@pytest.fixture
def migrated(db_url: str) -> str:
    migrate(db_url, find_migrations(SHIPPED_MIGRATIONS), RunnerSettings())
    return db_url


def test_versions_follow_the_guide() -> None:
    assert [m.name for m in find_migrations(SHIPPED_MIGRATIONS)] == [
        "0001_init.sql", "0002_populate_materialized_views.sql",
        "0004_auth_introspection_cache.sql"]


def test_45_tables_in_core_and_kb(migrated: str) -> None:
    rows = query(migrated, "SELECT count(*) FROM pg_tables WHERE schemaname IN ('core', 'kb')")
    assert rows == [(45,)]
    assert query(migrated, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(1,)]


@pytest.mark.parametrize("table, columns", sorted(CRITICAL_TABLES.items()))
def test_critical_table_has_the_guides_column_count(migrated: str, table: str, columns: int) -> None:
    rows = query(migrated, "SELECT count(*) FROM information_schema.columns "
                           "WHERE table_schema = 'kb' AND table_name = %s", (table,))
    assert rows == [(columns,)]


def test_critical_functions_work(migrated: str) -> None:
    with psycopg.connect(migrated, autocommit=True) as conn:
        chunk = conn.execute(
            "WITH o AS (INSERT INTO core.orgs (name, slug) VALUES ('Acme', 'acme') RETURNING id),"
            " p AS (INSERT INTO core.projects (org_id, name) SELECT id, 'kb' FROM o RETURNING id),"
            " d AS (INSERT INTO kb.documents (project_id, filename) SELECT id, 'a.txt' FROM p"
            "       RETURNING id)"
            " INSERT INTO kb.chunks (document_id, chunk_index, text) SELECT id, 0, 'Quick foxes'"
            " FROM d RETURNING tsv::text").fetchone()
        assert chunk is not None and "'fox" in chunk[0]  # kb.update_tsv() filled it
        conn.execute("SELECT kb.refresh_revision_counts()")
        assert conn.execute("SELECT ispopulated FROM pg_matviews "
                            "WHERE schemaname = 'kb'").fetchall() == [(True,)]


def test_every_file_can_run_twice(db_url: str) -> None:
    """The guide's first best practice: each statement is idempotent, so re-running any
    file (as a repair or a half-finished manual run would) succeeds."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(2):
            for m in find_migrations(SHIPPED_MIGRATIONS):
                with conn.transaction():
                    for statement in m.statements:
                        conn.execute(statement.text.encode())


def test_files_use_no_unsafe_ddl() -> None:
    for m in find_migrations(SHIPPED_MIGRATIONS):
        for s in m.statements:
            upper = " ".join(s.text.split()).upper()
            if upper.startswith(("CREATE TABLE", "CREATE SCHEMA", "CREATE INDEX",
                                 "CREATE UNIQUE INDEX", "CREATE EXTENSION",
                                 "CREATE MATERIALIZED VIEW")):
                assert "IF NOT EXISTS" in upper, f"{m.name}:{s.line}"
            if upper.startswith(("CREATE FUNCTION", "CREATE VIEW", "CREATE TRIGGER")):
                raise AssertionError(f"{m.name}:{s.line}: use CREATE OR REPLACE")
