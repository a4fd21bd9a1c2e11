"""Validation on a real PostgreSQL, through the guide's scenarios."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.conftest import query, write
from workspace.config.db import validation_settings
from workspace.config.models import Config, load_config
from workspace.db.expected import write_snapshot
from workspace.db.files import find_migrations
from workspace.db.runner import RunnerSettings, migrate
from workspace.db.validate import CRITICAL, EXTRA, MISSING, TRACKING, validate
from workspace.errors import ValidationUnavailable


def config_for(project: Path, yaml: str = "") -> Config:
    if yaml:
        (project / "config.yaml").write_text(yaml)
    return load_config(project, environ={})


@pytest.fixture
def migrated(shipped_project: Path, app_db_url: str) -> tuple[Config, str]:
    db_url = app_db_url
    migrate(db_url, find_migrations(shipped_project / "migrations"), RunnerSettings())
    return config_for(shipped_project), db_url


def check(config: Config, url: str):  # type: ignore[no-untyped-def]
    return validate(url, validation_settings(config), find_migrations(config.migrations_dir))


def texts(report, group: int | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.text for f in report.findings if group is None or f.group == group]


def test_schema_built_by_the_migrations_has_no_drift_at_all(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    report = check(config, url)
    assert report.valid and report.findings == [] and report.drifts == []
    assert (report.tables, report.functions, report.migrations) == ((8, 8), (2, 2), (3, 3))
    assert report.expected is not None and report.expected.source == "scratch database"
    again = check(config, url)
    assert again.valid and again.expected is not None and again.expected.source == "cache"


def test_missing_critical_table_is_named_first(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "DROP TABLE kb.tags CASCADE")
    report = check(config, url)
    assert not report.valid
    assert report.findings[0].group == CRITICAL
    assert "Missing critical table: kb.tags" in texts(report, CRITICAL)
    assert report.tables == (7, 8)
    # the foreign keys that pointed at it went with it, and are reported as missing
    assert "Missing constraint: kb.document_tags.document_tags_tag_id_fkey" in texts(report, MISSING)
    assert not any("Missing table: kb.tags" == t for t in texts(report))  # said once


def test_missing_function_column_and_index_are_each_reported(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "DROP FUNCTION kb.update_tsv() CASCADE")
    query(url, "ALTER TABLE kb.documents DROP COLUMN content_hash")
    query(url, "DROP INDEX kb.chunks_tsv_gin")
    found = texts(check(config, url))
    assert "Missing critical function: kb.update_tsv()" in found
    assert "Critical table kb.documents has 7 columns, expected 8" in found
    assert "Missing column: kb.documents.content_hash" in found
    assert "Missing index: kb.chunks_tsv_gin" in found
    assert "Missing trigger: kb.chunks.chunks_update_tsv" in found


def test_extra_table_fails_by_default_and_can_be_a_warning_or_ignored(
        migrated: tuple[Config, str], shipped_project: Path) -> None:
    config, url = migrated
    query(url, "CREATE TABLE kb.custom_table (id int)")
    report = check(config, url)
    assert texts(report, EXTRA) == ["Table kb.custom_table exists but not in migrations (extra)"]
    assert not report.valid
    lowered = check(config_for(shipped_project, "precheck:\n  drift:\n    extra: warning\n"), url)
    assert lowered.valid and [f.severity for f in lowered.findings] == ["warning"]
    ignored = check(config_for(shipped_project, "precheck:\n  ignore: [kb.custom_table]\n"), url)
    assert ignored.valid and ignored.findings == []


def test_changed_column_type_and_function_body_are_reported(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "ALTER TABLE kb.tags ALTER COLUMN color TYPE varchar(7)")
    query(url, "CREATE OR REPLACE FUNCTION kb.refresh_revision_counts() RETURNS void "
               "LANGUAGE sql AS 'SELECT 1'")
    found = texts(check(config, url))
    assert any(t.startswith("Column kb.tags.color differs from migrations: type character "
                            "varying(7), expected text") for t in found), found
    assert any(t.startswith("Function kb.refresh_revision_counts() differs") for t in found)


def test_deleted_tracking_rows_are_untracked_migrations(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "DELETE FROM schema_migrations WHERE version IN (2, 4)")
    report = check(config, url)
    assert report.migrations == (1, 3)
    assert texts(report, TRACKING) == [
        "Migration 0002_populate_materialized_views.sql is not tracked (untracked)",
        "Migration 0004_auth_introspection_cache.sql is not tracked (untracked)"]


def test_missing_tracking_table_is_reported(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    query(url, "DROP TABLE schema_migrations")
    assert "Migration tracking table public.schema_migrations is missing" in texts(check(config, url))


def test_expected_schema_follows_the_migrations(migrated: tuple[Config, str]) -> None:
    config, url = migrated
    write(config.project_dir, "0005_notes.sql", "CREATE TABLE IF NOT EXISTS kb.notes (id int);")
    report = check(config, url)
    assert "Missing table: kb.notes" in texts(report, MISSING)
    assert "Migration 0005_notes.sql is not tracked (untracked)" in texts(report, TRACKING)


def test_role_without_createdb_uses_the_committed_snapshot(migrated: tuple[Config, str],
                                                           admin_url: str) -> None:
    config, url = migrated
    dbname = url.rsplit("/", 1)[1]
    role = f"{dbname}_app"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass-123' NOCREATEDB")
        conn.execute(f"GRANT pg_read_all_data TO {role}")
    app_url = url.replace(url.split("@")[0], f"postgresql://{role}:app-pass-123")
    try:
        with pytest.raises(ValidationUnavailable) as info:
            check(config, app_url)
        assert info.value.code == "PRECHECK_VALIDATION_UNAVAILABLE"
        assert f"ALTER ROLE {role} CREATEDB" in info.value.remedy
        expected = check(config, url).expected  # the admin builds it once
        assert expected is not None
        migrations = find_migrations(config.migrations_dir)
        write_snapshot(config.path(config.precheck.snapshot), expected.catalog, migrations)
        for cached in (config.state_dir / "cache").iterdir():
            cached.unlink()
        report = check(config, app_url)
        assert report.valid and report.expected is not None
        assert report.expected.source.startswith("snapshot")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


TODOS = ("CREATE TABLE IF NOT EXISTS todos (id bigint PRIMARY KEY, title text NOT NULL);\n"
         "CREATE OR REPLACE FUNCTION todo_count() RETURNS bigint LANGUAGE sql\n"
         "  AS 'SELECT count(*) FROM todos';\n")


@pytest.fixture
def todo_project(project: Path, db_url: str) -> tuple[Path, str]:
    """A project of its own (one migration, no config) on a database the environment
    handed over with extensions the project never uses (the embedded server, init.sql)."""
    write(project, "0001_todos.sql", TODOS)
    query(db_url, "CREATE EXTENSION IF NOT EXISTS vector")
    query(db_url, "CREATE EXTENSION IF NOT EXISTS pgcrypto")
    migrate(db_url, find_migrations(project / "migrations"), RunnerSettings())
    return project, db_url


def test_a_fresh_project_validates_with_the_defaults(todo_project: tuple[Path, str]) -> None:
    project, url = todo_project
    report = check(config_for(project), url)
    assert report.valid and not report.drifts, texts(report)
    assert (report.tables, report.functions) == ((0, 0), (0, 0))
    query(url, "DROP TABLE public.todos")
    report = check(config_for(project), url)
    assert texts(report) == ["Missing table: public.todos"]


def test_an_unqualified_critical_table_resolves_along_the_search_path(
        todo_project: tuple[Path, str]) -> None:
    project, url = todo_project
    report = check(config_for(project, "precheck:\n  critical_tables: {todos: 2}\n"
                                       "  critical_functions: [todo_count()]\n"), url)
    assert report.valid, texts(report)
    assert report.tables == (1, 1) and report.functions == (1, 1)
    report = check(config_for(project, "precheck:\n  critical_tables: {todos: 3}\n"), url)
    assert texts(report, CRITICAL) == ["Critical table public.todos has 2 columns, expected 3"]


def test_an_unknown_unqualified_name_says_where_it_looked_and_to_qualify_it(
        todo_project: tuple[Path, str]) -> None:
    project, url = todo_project
    query(url, "CREATE SCHEMA app; CREATE TABLE app.notes (id int)")  # not on search_path
    report = check(config_for(project, "precheck:\n  critical_tables: {notes: null}\n"
                                       "  drift: {extra: warning}\n"), url)
    assert texts(report, CRITICAL) == [
        "Missing critical table: notes (looked in public: qualify it as schema.name)"]
    assert report.recommendations() == [
        "Create notes in a migration, or remove it from precheck (config.yaml)"]


def test_a_critical_table_the_migrations_do_not_define_is_not_for_db_fix(
        todo_project: tuple[Path, str]) -> None:
    project, url = todo_project
    report = check(config_for(project, "precheck:\n  critical_tables: {kb.chunks: 7}\n"), url)
    assert texts(report, CRITICAL) == ["Missing critical table: kb.chunks"]
    assert report.recommendations() == [
        "Create kb.chunks in a migration, or remove it from precheck (config.yaml)"]
    query(url, "DROP TABLE public.todos")
    report = check(config_for(project, "precheck:\n  critical_tables: {todos: 2}\n"), url)
    assert texts(report, CRITICAL) == ["Missing critical table: public.todos"]
    assert report.recommendations() == ["Run workspace db fix"]
