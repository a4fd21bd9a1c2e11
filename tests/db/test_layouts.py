"""Migration layouts: each accepted one applied, shown and found up to date on a real
PostgreSQL; detection, mixed layouts and Flyway's version order without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import query, run_cli, write
from workspace.db.files import find_migrations
from workspace.errors import MigrationFileError

# Each file logs its name; a down file would drop the log (and break the rerun).
LOG = "CREATE TABLE IF NOT EXISTS public.log (name text);\n"
DOWN = "DROP TABLE public.log;\n"

LAYOUTS: dict[str, tuple[dict[str, str], list[object]]] = {
    "numbered": ({"0001_a.sql": "a", "0002_b.sql": "b", "10_c.sql": "c"}, [1, 2, 10]),
    "timestamp": ({"20240101120000_a.sql": "a", "20240102090000_b.sql": "b"},
                  [20240101120000, 20240102090000]),
    "flyway": ({"V1__a.sql": "a", "V1.1__b.sql": "b", "V1.10__d.sql": "d", "V1.2__c.sql": "c",
                "V2_1__e.sql": "e"}, ["1", "1.1", "1.2", "1.10", "2.1"]),
    "golang-migrate": ({"000001_a.up.sql": "a", "000001_a.down.sql": None,
                        "000002_b.up.sql": "b", "000002_b.down.sql": None}, [1, 2]),
    "diesel": ({"00000000000000_diesel_initial_setup/up.sql": "a",
                "00000000000000_diesel_initial_setup/down.sql": None,
                "2024-01-01-120000_b/up.sql": "b", "2024-01-01-120000_b/down.sql": None},
               [0, 20240101120000]),
}


def lay_out(project: Path, files: dict[str, str | None]) -> None:
    for name, tag in files.items():
        (project / "migrations" / name).parent.mkdir(parents=True, exist_ok=True)
        write(project, name, DOWN if tag is None else f"{LOG}INSERT INTO public.log VALUES ('{tag}');\n")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_applies_in_order_shows_status_and_is_then_up_to_date(
        project: Path, db_url: str, layout: str) -> None:
    files, versions = LAYOUTS[layout]
    lay_out(project, files)
    first = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert first.returncode == 0, first.stdout + first.stderr
    ups = [n for n, tag in files.items() if tag is not None]
    assert [n for (n,) in query(db_url, "SELECT name FROM public.log")] == \
        sorted((files[n] for n in ups), key=lambda t: t or "")
    tracked = query(db_url, "SELECT version, name FROM public.schema_migrations")
    assert sorted(v for v, _ in tracked) == sorted(versions)  # type: ignore[type-var]
    status = json.loads(run_cli(project, "db", "status", "--json", "--database-url",
                                db_url).stdout)
    assert status["counts"] == {"applied": len(versions), "pending": 0, "modified": 0,
                                "missing": 0}
    assert [m["version"] for m in status["migrations"]] == versions
    again = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert (again.returncode, again.stdout.strip()) == (0, "All migrations up to date")


def test_numbered_versions_stay_bigints_as_existing_databases_have_them(
        project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "SELECT 1;")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    assert query(db_url, "SELECT version, pg_typeof(version)::text FROM "
                         "public.schema_migrations") == [(1, "bigint")]


def test_flyway_versions_compare_numerically_by_parts(project: Path) -> None:
    for name in ("V1.10__d.sql", "V2__e.sql", "V1.2__c.sql", "V1_1__b.sql", "V01__a.sql"):
        write(project, name, "SELECT 1;")
    found = find_migrations(project / "migrations")
    assert [m.version for m in found] == ["1", "1.1", "1.2", "1.10", "2"]


def test_flyway_1_and_1_0_are_one_version(project: Path) -> None:
    write(project, "V1__a.sql", "SELECT 1;")
    write(project, "V1.0__b.sql", "SELECT 1;")
    with pytest.raises(MigrationFileError, match="duplicate version 1"):
        find_migrations(project / "migrations")


def test_mixed_layouts_are_an_error_naming_a_file_of_each(project: Path) -> None:
    write(project, "0001_a.sql", "SELECT 1;")
    write(project, "V2__b.sql", "SELECT 1;")
    with pytest.raises(MigrationFileError, match="mixed migration layouts") as info:
        find_migrations(project / "migrations")
    assert "0001_a.sql is numbered" in info.value.message
    assert "V2__b.sql is flyway" in info.value.message
    assert "migrations.layout" in (info.value.remedy or "")


def test_a_configured_layout_refuses_names_of_another(project: Path) -> None:
    write(project, "0001_a.sql", "SELECT 1;")
    with pytest.raises(MigrationFileError, match="naming rule of the flyway layout") as info:
        find_migrations(project / "migrations", layout="flyway")
    assert "V1__init.sql" in (info.value.remedy or "")


def test_configured_layout_from_config_yaml(project: Path, db_url: str) -> None:
    (project / "config.yaml").write_text("migrations:\n  layout: timestamp\n")
    write(project, "0001_a.sql", "SELECT 1;")
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 6, out.stdout + out.stderr
    assert "0001_a.sql: file name does not follow the naming rule of the timestamp layout" \
        in out.stdout + out.stderr


def test_flyway_repeatable_migrations_are_refused_with_a_reason(project: Path) -> None:
    write(project, "V1__a.sql", "SELECT 1;")
    write(project, "R__views.sql", "SELECT 1;")
    with pytest.raises(MigrationFileError, match="repeatable migrations"):
        find_migrations(project / "migrations")


def test_a_diesel_directory_without_up_sql_is_named(project: Path) -> None:
    (project / "migrations" / "2024-01-01-120000_a").mkdir()
    (project / "migrations" / "2024-01-01-120000_a" / "down.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationFileError, match=r"2024-01-01-120000_a/up.sql"):
        find_migrations(project / "migrations")


def test_dbmate_files_run_their_up_section_only(project: Path, db_url: str) -> None:
    write(project, "20240101120000_a.sql", "-- migrate:up\nCREATE TABLE IF NOT EXISTS a (id int);"
                                           "\n\n-- migrate:down\nDROP TABLE a;\n")
    write(project, "20240102120000_b.sql", "-- migrate:up transaction:false\nCREATE INDEX "
                                           "CONCURRENTLY IF NOT EXISTS a_id ON a (id);\n"
                                           "-- migrate:down\nDROP INDEX CONCURRENTLY a_id;\n")
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert query(db_url, "SELECT to_regclass('public.a') IS NOT NULL, "
                         "to_regclass('public.a_id') IS NOT NULL") == [(True, True)]
    assert [m.transactional for m in find_migrations(project / "migrations")] == [True, False]
    again = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert again.stdout.strip() == "All migrations up to date"
