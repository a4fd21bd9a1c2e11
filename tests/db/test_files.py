"""Discovery and the checks that run before the database is touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write
from workspace.db.files import checksum, find_migrations
from workspace.errors import MigrationFileError


def test_sorted_numerically_other_files_ignored(project: Path) -> None:
    write(project, "10_ten.sql", "SELECT 10;")
    write(project, "0002_two.sql", "SELECT 2;")
    write(project, "README.md", "not a migration")
    (project / "migrations" / ".0003_hidden.sql").write_text("SELECT 3;")
    assert [(m.version, m.name) for m in find_migrations(project / "migrations")] == [
        (2, "0002_two.sql"), (10, "10_ten.sql")]


def test_checksum_ignores_bom_and_line_endings_but_not_content() -> None:
    base = checksum("SELECT 1;\nSELECT 2;\n")
    assert checksum("\ufeffSELECT 1;\r\nSELECT 2;\r\n") == base
    assert checksum("SELECT 1;\rSELECT 2;\r") == base
    assert checksum("SELECT 1;\nSELECT 3;\n") != base


@pytest.mark.parametrize("name", ["0003-dash.sql", "add_users.sql", "0003_.sql",
                                  "0003_add users.sql", "0003_upper.SQL"])
def test_misnamed_sql_file_is_refused(project: Path, name: str) -> None:
    write(project, name, "SELECT 1;")
    with pytest.raises(MigrationFileError, match="naming rule") as info:
        find_migrations(project / "migrations")
    assert "NNNN_description.sql" in info.value.remedy


def test_duplicate_version_names_both_files(project: Path) -> None:
    write(project, "0002_a.sql", "SELECT 1;")
    write(project, "2_b.sql", "SELECT 2;")
    with pytest.raises(MigrationFileError, match="duplicate version 2") as info:
        find_migrations(project / "migrations")
    assert "0002_a.sql" in info.value.message and "2_b.sql" in info.value.message


def test_empty_file_is_refused(project: Path) -> None:
    write(project, "0001_a.sql", "  \n\n")
    with pytest.raises(MigrationFileError, match="0001_a.sql: the file is empty"):
        find_migrations(project / "migrations")


def test_invalid_utf8_names_line_and_column(project: Path) -> None:
    write(project, "0001_a.sql", b"SELECT 1;\nSELECT '\xff';\n")
    with pytest.raises(MigrationFileError, match="not valid UTF-8") as info:
        find_migrations(project / "migrations")
    assert (info.value.line, info.value.column) == (2, 9)


def test_missing_directory_says_how_to_configure_it(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="not found") as info:
        find_migrations(tmp_path / "nope")
    assert "migrations.dir" in info.value.remedy


def test_nul_byte_is_refused_with_its_position(project: Path) -> None:
    write(project, "0001_a.sql", b"SELECT 1;\r\nSELECT '\xc3\xa9\0';\n")
    with pytest.raises(MigrationFileError, match="NUL byte") as info:
        find_migrations(project / "migrations")
    assert (info.value.line, info.value.column) == (2, 10)


def test_read_error_is_a_file_error(project: Path) -> None:
    # a regular file whose read fails (EIO) whoever reads it, root included
    (project / "migrations" / "0001_a.sql").symlink_to("/proc/self/mem")
    with pytest.raises(MigrationFileError, match="0001_a.sql: cannot be read: Input/output error"):
        find_migrations(project / "migrations")


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "is a FIFO, not a regular file"),
    (lambda p: p.symlink_to("gone.sql"), "is a dangling symlink to gone.sql"),
    (lambda p: p.symlink_to(p.name), "is a symlink loop"),
])
def test_what_is_not_a_regular_file_is_named_as_what_it_is(
        project: Path, make: Callable[[Path], None], says: str) -> None:
    make(project / "migrations" / "0009_x.sql")
    with pytest.raises(MigrationFileError) as info:
        find_migrations(project / "migrations")
    assert info.value.message.endswith(f"0009_x.sql: {says}")


def test_version_must_fit_the_tracking_table(project: Path) -> None:
    write(project, "9223372036854775807_max.sql", "SELECT 1;")
    assert find_migrations(project / "migrations")[0].version == 2**63 - 1
    write(project, "9223372036854775808_big.sql", "SELECT 1;")
    with pytest.raises(MigrationFileError, match="too large"):
        find_migrations(project / "migrations")
