"""`workspace db new NAME`: the next file in each layout, the template, bad names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli, write
from workspace.db.files import find_migrations
from workspace.db.newfile import new_migration
from workspace.db.sqlparse import read_migration, split_migration
from workspace.errors import MigrationFileError

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize("layout, existing, expected", [
    ("numbered", ["0001_a.sql", "0007_b.sql"], ["0008_add_tags.sql"]),
    ("numbered", [], ["0001_add_tags.sql"]),
    ("timestamp", ["20240101120000_a.sql"], ["20250304050607_add_tags.sql"]),
    ("timestamp", ["20300101000000_a.sql"], ["20300101000001_add_tags.sql"]),
    ("flyway", ["V1__a.sql", "V2.5__b.sql"], ["V3__add_tags.sql"]),
    ("golang-migrate", ["000001_a.up.sql", "000001_a.down.sql"],
     ["000002_add_tags.up.sql", "000002_add_tags.down.sql"]),
    ("diesel", ["2024-01-01-120000_a/up.sql"],
     ["2025-03-04-050607_add_tags/up.sql", "2025-03-04-050607_add_tags/down.sql"]),
])
def test_the_next_file_in_each_layout(project: Path, layout: str, existing: list[str],
                                      expected: list[str]) -> None:
    directory = project / "migrations"
    for name in existing:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        write(project, name, "SELECT 1;")
    paths = new_migration(directory, "add_tags", layout=layout, now=NOW)
    assert [str(p.relative_to(directory)) for p in paths] == expected
    found = find_migrations(directory, layout=layout)
    assert found[-1].path == paths[0]  # the new one sorts last, in the same layout


def test_the_template_is_only_comments_with_idempotent_examples(project: Path) -> None:
    (path,) = new_migration(project / "migrations", "x", layout="numbered", now=NOW)
    text = path.read_text()
    assert "CREATE TABLE IF NOT EXISTS" in text
    assert "-- workspace: no-transaction" in text
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS" in text
    assert read_migration(path, text).tree == ()
    uncommented = "\n".join(line.removeprefix("-- ").removeprefix("--   ")
                            for line in text.splitlines()
                            if line.startswith("-- ") and ";" in line
                            and "CONCURRENTLY" not in line)
    assert uncommented.count(";") >= 5
    split_migration(path, "CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE IF NOT EXISTS "
                          "app.tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                          "name text NOT NULL UNIQUE);\n")


@pytest.mark.parametrize("name", ["", "add tags", "../evil", "-x", "a" * 101, "tags;"])
def test_a_bad_name_is_refused(project: Path, name: str) -> None:
    with pytest.raises(MigrationFileError, match="cannot name a migration") as info:
        new_migration(project / "migrations", name, layout="numbered", now=NOW)
    assert "letters, digits and underscores" in (info.value.remedy or "")
    assert list((project / "migrations").iterdir()) == []


def test_db_new_prints_the_path_in_the_detected_layout(project: Path) -> None:
    write(project, "V1__a.sql", "SELECT 1;")
    out = run_cli(project, "db", "new", "add_tags")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "migrations/V2__add_tags.sql"
    assert (project / "migrations" / "V2__add_tags.sql").is_file()
    bad = run_cli(project, "db", "new", "add tags")
    assert bad.returncode == 6 and "'add tags' cannot name a migration" in bad.stdout + bad.stderr
