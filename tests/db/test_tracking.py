"""The tracking table: its name configurable, another tool's recognised with a remedy
that names `db adopt` and `migrations.table`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query, run_cli, write
from workspace.db.files import find_migrations
from workspace.db.runner import RunnerSettings, migrate, read_plan
from workspace.errors import TrackingTableInvalid

FAST = RunnerSettings(lock_wait_s=5, connect_timeout_s=5)
GUIDE = "version text PRIMARY KEY, filename text NOT NULL, applied_at timestamptz DEFAULT now()"
DBMATE = "version varchar(128) PRIMARY KEY"


@pytest.mark.parametrize("columns, owner", [
    (GUIDE, "the guide's original runner's"),
    (DBMATE, "dbmate's"),
    ("version bigint PRIMARY KEY, dirty boolean NOT NULL", "golang-migrate's"),
])
def test_another_tools_table_is_refused_with_adopt_and_table_as_remedy(
        project: Path, db_url: str, columns: str, owner: str) -> None:
    query(db_url, f"CREATE TABLE public.schema_migrations ({columns})")
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with pytest.raises(TrackingTableInvalid) as info:
        migrate(db_url, find_migrations(project / "migrations"), FAST)
    assert owner in info.value.message
    assert "workspace db adopt" in (info.value.remedy or "")
    assert "migrations.table" in (info.value.remedy or "")


def test_our_table_lives_beside_dbmates_under_its_configured_name(project: Path,
                                                                  db_url: str) -> None:
    query(db_url, f"CREATE TABLE public.schema_migrations ({DBMATE}); "
                  "INSERT INTO public.schema_migrations VALUES ('20240101000000')")
    (project / "config.yaml").write_text("migrations:\n  table: workspace.schema_migrations\n")
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);")
    first = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert query(db_url, "SELECT version, name FROM workspace.schema_migrations") == \
        [(1, "0001_a.sql")]
    assert query(db_url, "SELECT version FROM public.schema_migrations") == \
        [("20240101000000",)]  # dbmate's, untouched
    again = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert again.stdout.strip() == "All migrations up to date"
    status = run_cli(project, "db", "status", "--exit-code", "--database-url", db_url)
    assert status.returncode == 0, status.stdout + status.stderr
    settings = RunnerSettings(connect_timeout_s=5, table="workspace.schema_migrations")
    plan = read_plan(db_url, find_migrations(project / "migrations"), settings)
    assert [m.name for m, _ in plan.applied] == ["0001_a.sql"]


def test_a_bad_table_name_is_a_config_error(project: Path) -> None:
    (project / "config.yaml").write_text("migrations:\n  table: schema_migrations; drop\n")
    out = run_cli(project, "db", "status", "--database-url", "postgresql://u@127.0.0.1:1/x")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "migrations.table: 'schema_migrations; drop' is not schema.table " \
           "in lower-case letters, digits and _, e.g. workspace.schema_migrations" \
        in out.stdout + out.stderr
