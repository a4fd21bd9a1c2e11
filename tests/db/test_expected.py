"""Scratch databases, the expected-schema cache and the catalog reader, on a real server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.conftest import query, write
from workspace.db.catalog import Catalog, read_catalog
from workspace.db.expected import Expected, expected_catalog, migrations_key
from workspace.db.files import find_migrations
from workspace.db.runner import RunnerSettings
from workspace.db.scratch import PREFIX, scratch_database

SETTINGS = RunnerSettings(connect_timeout_s=5)


def scratch_count(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                     (PREFIX + "%",))[0][0])


def test_scratch_database_is_dropped_even_when_the_work_fails(db_url: str) -> None:
    before = scratch_count(db_url)
    with pytest.raises(RuntimeError), scratch_database(db_url, timeout_s=5) as url:
        assert query(url, "SELECT current_database()")[0][0].startswith(PREFIX)
        raise RuntimeError("boom")
    assert scratch_count(db_url) == before


def test_catalog_leaves_out_extension_objects_and_the_tracking_table(db_url: str) -> None:
    query(db_url, "CREATE EXTENSION vector; CREATE TABLE public.schema_migrations (version int); "
                  "CREATE TABLE public.t (id int)")
    with psycopg.connect(db_url, autocommit=True) as conn:
        cat = read_catalog(conn)
    assert list(cat.tables) == ["public.t"]
    assert cat.extensions.keys() == {"vector"}
    assert not any("vector" in f for f in cat.functions)  # pgvector's own functions
    assert Catalog.from_json(cat.to_json()) == cat


def test_expected_schema_is_cached_by_migration_checksums(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);")
    cache = project / ".workspace" / "cache"
    snapshot = project / "migrations" / "schema.snapshot.json"

    def expected() -> Expected:
        return expected_catalog(db_url, find_migrations(project / "migrations"), SETTINGS,
                                server_major=16, cache_dir=cache, snapshot=snapshot)

    first = expected()
    assert first.source == "scratch database" and "public.a" in first.catalog.tables
    assert expected().source == "cache"
    write(project, "0002_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);")
    changed = expected()
    assert changed.source == "scratch database" and "public.b" in changed.catalog.tables
    (cache / f"expected-{migrations_key(find_migrations(project / 'migrations'))}-pg16.json"
     ).write_text("{not json")
    assert expected().source == "scratch database"  # a damaged cache is rebuilt


def test_expected_schema_of_a_pg_dump_baseline_and_a_later_migration(project: Path,
                                                                     db_url: str) -> None:
    write(project, "0001_baseline.sql", "SELECT pg_catalog.set_config('search_path', '', false);\n"
                                        "SET check_function_bodies = false;\n"
                                        "CREATE TABLE public.base (id integer);")
    write(project, "0002_t.sql", "CREATE TABLE IF NOT EXISTS t (id int);")
    expected = expected_catalog(db_url, find_migrations(project / "migrations"), SETTINGS,
                                server_major=16, cache_dir=project / "cache",
                                snapshot=project / "none.json")
    assert {"public.base", "public.t"} <= set(expected.catalog.tables)
