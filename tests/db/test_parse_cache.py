"""Parse results cached per file content: a file parsed once is not parsed again, and the
cache never gives back anything the file does not hold."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_MIGRATIONS, query, write
from workspace.db import sqlparse
from workspace.db.files import check_sql, find_migrations
from workspace.db.parse_cache import ParseCache
from workspace.db.runner import RunnerSettings, migrate
from workspace.errors import MigrationFileError


def settings(project: Path) -> RunnerSettings:
    return RunnerSettings(lock_wait_s=5, connect_timeout_s=5,
                          cache_dir=project / ".workspace" / "cache")


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = sqlparse.parse_tree

    def counting(path: Path, text: str) -> object:
        parsed.append(path.name)
        return real(path, text)

    monkeypatch.setattr(sqlparse, "parse_tree", counting)
    return parsed


def cache_files(project: Path) -> list[Path]:
    return sorted((project / ".workspace" / "cache").glob("sql-*.json"))


def test_a_second_database_is_migrated_from_the_cache_without_parsing(
        project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"
                                 "CREATE INDEX a_id ON a (id);\n")
    write(project, "0002_b.sql", "BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n")
    parsed = count_parses(monkeypatch)
    first = migrate(db_url, find_migrations(project / "migrations"), settings(project))
    assert sorted(parsed) == ["0001_a.sql", "0002_b.sql"] and len(cache_files(project)) == 1
    query(db_url, "DROP TABLE a, b, schema_migrations")
    parsed.clear()
    files = find_migrations(project / "migrations")
    second = migrate(db_url, files, settings(project))
    assert parsed == []
    assert [a.migration.version for a in second.applied] == [1, 2]
    assert [m.statements for m in files] == [a.migration.statements for a in first.applied]
    assert [m.notes for m in files] == [a.migration.notes for a in first.applied]
    assert files[1].notes and files[1].statements[0].text == "CREATE TABLE b (id int)"
    assert {r[0] for r in query(db_url, "SELECT tablename FROM pg_tables "
                                        "WHERE schemaname = 'public'")} == {
        "a", "b", "schema_migrations"}


def test_cached_statements_are_those_the_parser_gives(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED_MIGRATIONS, tmp_path / "migrations")
    (tmp_path / "migrations" / "0999_crlf.sql").write_bytes(
        b"-- x\r\nCREATE TABLE crlf (id int);\r\n\r\nCREATE INDEX crlf_id ON crlf (id);\r\n")
    (tmp_path / "migrations" / "1000_lf.sql").write_bytes(
        b"-- x\nCREATE TABLE crlf (id int);\n\nCREATE INDEX crlf_id ON crlf (id);\n")
    parsed = find_migrations(tmp_path / "migrations")
    cache = ParseCache.open(tmp_path / "cache")
    check_sql(parsed, cache)
    cache.save(parsed)
    cached = find_migrations(tmp_path / "migrations")
    check_sql(cached, ParseCache.open(tmp_path / "cache"))
    assert all("parsed" not in m.__dict__ for m in cached)  # all from the cache
    for fresh, hit in zip(parsed, cached, strict=True):
        assert (hit.statements, hit.notes) == (fresh.statements, fresh.notes), hit.name
        assert hit.statements == hit.parsed.statements  # the tree, when asked, agrees
    assert cached[-2].checksum == cached[-1].checksum  # same checksum, other offsets
    assert cached[-2].statements[1].line == 4 and cached[-1].statements[1].line == 4
    assert cached[-2].statements[1].offset != cached[-1].statements[1].offset


def test_a_second_bom_is_not_the_same_text_as_none(tmp_path: Path) -> None:
    """The loader drops one BOM and the checksum another: a file that begins with two
    shares its checksum with the file without them, but not its parse (found by review:
    the cached offsets were read one character off)."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_plain.sql").write_bytes(b"SELECT 10;\nSELECT 20;\n")
    (migrations / "0002_boms.sql").write_bytes("\ufeff\ufeffSELECT 10;\nSELECT 20;\n"
                                               .encode("utf-8"))
    plain, boms = find_migrations(migrations)
    assert plain.checksum == boms.checksum
    cache = ParseCache.open(tmp_path / "cache")
    check_sql([plain], cache)
    cache.save([plain])
    again = find_migrations(migrations)[1]
    with pytest.raises(MigrationFileError):  # a BOM inside the text is not SQL
        check_sql([again], ParseCache.open(tmp_path / "cache"))


def test_a_changed_file_is_parsed_again_and_a_bad_one_never_cached(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    cache_dir = project / "cache"
    files = find_migrations(project / "migrations")
    cache = ParseCache.open(cache_dir)
    check_sql(files, cache)
    cache.save(files)
    write(project, "0001_a.sql", "CREATE TABLE a (id int); CREATE TABLE b (id int);")
    write(project, "0002_bad.sql", "CREATE TABLE (;")
    parsed = count_parses(monkeypatch)
    for _ in range(2):
        files = find_migrations(project / "migrations")
        cache = ParseCache.open(cache_dir)
        with pytest.raises(MigrationFileError, match="syntax error"):
            check_sql(files, cache)
        cache.save(files)
    assert parsed == ["0001_a.sql", "0002_bad.sql", "0002_bad.sql"]
    assert len(files[0].statements) == 2


@pytest.mark.parametrize("tamper", [
    lambda rows: [[10_000, 5, 1, 1, "CreateStmt", None]],  # past the end of the file
    lambda rows: [[30, 24, 2, 1, "CreateStmt", None], [0, 24, 1, 1, "CreateStmt", None]],
    lambda rows: [[rows[0][0], rows[0][1], 1, 1, 7, None]],  # not a kind
    lambda rows: [[0, 0, 1, 1, "CreateStmt", None]],  # empty
    lambda rows: [],  # no statement
    lambda rows: "garbage",
])
def test_a_tampered_entry_is_a_miss(project: Path, tamper: Callable[[Any], Any],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n")
    files = find_migrations(project / "migrations")
    cache = ParseCache.open(project / "cache")
    check_sql(files, cache)
    cache.save(files)
    path, = cache_files_in(project / "cache")
    data = json.loads(path.read_text())
    (key, (rows, notes)), = data["files"].items()
    data["files"][key] = [tamper(rows), notes]
    path.write_text(json.dumps(data))
    parsed = count_parses(monkeypatch)
    again = find_migrations(project / "migrations")
    check_sql(again, ParseCache.open(project / "cache"))
    assert parsed == ["0001_a.sql"]
    assert again[0].statements == files[0].statements


def test_a_cache_file_that_does_not_parse_is_ignored_and_replaced(project: Path) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    files = find_migrations(project / "migrations")
    cache = ParseCache.open(project / "cache")
    check_sql(files, cache)
    cache.save(files)
    path, = cache_files_in(project / "cache")
    path.write_bytes(b"\x00not json")
    again = find_migrations(project / "migrations")
    cache = ParseCache.open(project / "cache")
    check_sql(again, cache)
    cache.save(again)
    assert again[0].statements == files[0].statements
    assert json.loads(path.read_text())["format"] == 1


def cache_files_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("sql-*.json"))
