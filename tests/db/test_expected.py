"""Scratch databases, the expected-schema cache and the catalog reader, on a real server."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import query, write
from workspace.db import expected as expected_module
from workspace.db.catalog import Catalog, read_catalog
from workspace.db.expected import Expected, expected_catalog, migrations_key
from workspace.db.files import find_migrations
from workspace.db.runner import RunnerSettings
from workspace.db.scratch import PREFIX, scratch_database
from workspace.errors import ValidationUnavailable

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


def test_catalog_without_owners_and_dependents_reads_the_rest_alike(db_url: str) -> None:
    """What validation reads of the live database: neither who owns what (unless owners
    are compared) nor what uses each type (read from the expected schema)."""
    query(db_url, "CREATE DOMAIN public.email AS text CHECK (VALUE LIKE '%@%'); "
                  "CREATE TABLE public.t (id int PRIMARY KEY, mail public.email)")
    with psycopg.connect(db_url, autocommit=True) as conn:
        full = read_catalog(conn)
        light = read_catalog(conn, owners=False, dependents=False)
    assert full.owners["TABLE public.t"] and full.type_dependents["public.email"]
    assert light.owners == {} and light.type_dependents == {}
    light.owners, light.type_dependents = full.owners, full.type_dependents
    assert light == full


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


@pytest.fixture
def empty_catalog(db_url: str) -> Catalog:
    with psycopg.connect(db_url) as conn:
        return read_catalog(conn)


def test_two_cold_validations_at_once_both_publish_a_whole_cache(
        project: Path, empty_catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);")
    migrations = find_migrations(project / "migrations")
    cache = project / ".workspace" / "cache"
    monkeypatch.setattr(expected_module, "build_expected", lambda *_: empty_catalog)
    # both writers reach the rename together, each after writing its temporary file
    both = threading.Barrier(2, timeout=5)
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    results: list[object] = []

    def validate() -> None:
        try:
            results.append(expected_catalog("postgresql://unused", migrations, SETTINGS,
                                            server_major=16, cache_dir=cache,
                                            snapshot=project / "none.json"))
        except Exception as exc:  # noqa: BLE001 -- handed to the test
            results.append(exc)

    threads = [threading.Thread(target=validate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [type(r).__name__ for r in results] == ["Expected", "Expected"], results
    assert [p.name for p in cache.iterdir()] == [
        f"expected-{migrations_key(migrations)}-pg16.json"]  # no temporary file left
    cached = expected_catalog("postgresql://unused", migrations, SETTINGS, server_major=16,
                              cache_dir=cache, snapshot=project / "none.json")
    assert cached.source == "cache" and cached.catalog == empty_catalog


def _no_scratch(*_: object) -> Catalog:
    raise ValidationUnavailable("role 'app' may not create a scratch database")


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "null", '{"migrations_key": 1}'])
def test_a_snapshot_whose_json_is_not_an_object_is_named_not_a_crash(
        project: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    monkeypatch.setattr(expected_module, "build_expected", _no_scratch)
    snapshot = project / "migrations" / "schema.snapshot.json"
    snapshot.write_text(content)
    cache = project / ".workspace" / "cache"
    cache.mkdir(parents=True)
    with pytest.raises(ValidationUnavailable) as caught:
        expected_catalog("postgresql://unused", [], SETTINGS, server_major=16,
                         cache_dir=cache, snapshot=snapshot)
    assert "schema.snapshot.json" in caught.value.message
    assert caught.value.code == "PRECHECK_VALIDATION_UNAVAILABLE"


def test_a_cache_file_whose_json_is_not_an_object_is_rebuilt(
        project: Path, empty_catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expected_module, "build_expected", lambda *_: empty_catalog)
    cache = project / ".workspace" / "cache"
    cache.mkdir(parents=True)
    (cache / f"expected-{migrations_key([])}-pg16.json").write_text("[]")
    rebuilt = expected_catalog("postgresql://unused", [], SETTINGS, server_major=16,
                               cache_dir=cache, snapshot=project / "none.json")
    assert rebuilt.source == "scratch database"


def test_a_fifo_snapshot_is_refused_without_blocking(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expected_module, "build_expected", _no_scratch)
    snapshot = project / "migrations" / "schema.snapshot.json"
    os.mkfifo(snapshot)
    caught: list[BaseException] = []

    def validate() -> None:
        try:
            expected_catalog("postgresql://unused", [], SETTINGS, server_major=16,
                             cache_dir=project / "cache", snapshot=snapshot)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test
            caught.append(exc)

    thread = threading.Thread(target=validate, daemon=True)
    thread.start()
    thread.join(5)
    blocked = thread.is_alive()
    if blocked:  # let the blocked open() return
        with open(snapshot, "w"):
            pass
        thread.join(5)
    assert not blocked, "reading the FIFO snapshot blocked"
    assert isinstance(caught[0], ValidationUnavailable)
    assert "FIFO" in caught[0].message
