"""Roles the migrations name must exist: PRECHECK_ROLE_MISSING before anything runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import query, run_cli, write
from workspace.db.files import find_migrations
from workspace.db.roles import roles_used
from workspace.db.runner import RunnerSettings, migrate
from workspace.errors import RoleMissing


def unique_role() -> str:
    return f"app_{uuid.uuid4().hex[:10]}"


def test_every_way_of_naming_a_role_is_found(project: Path) -> None:
    write(project, "0001_a.sql", (
        "CREATE TABLE t (id int);\n"
        "GRANT SELECT ON t TO reader, PUBLIC;\n"
        "REVOKE INSERT ON t FROM writer;\n"
        "ALTER TABLE t OWNER TO owner_role;\n"
        "CREATE POLICY p ON t TO tenant USING (true);\n"
        "ALTER DEFAULT PRIVILEGES FOR ROLE migrator GRANT SELECT ON TABLES TO reader;\n"
        "GRANT parent_role TO child_role;\n"
        "CREATE ROLE made_here;\n"
        "GRANT SELECT ON t TO made_here, CURRENT_USER;\n"
        "DO $$ BEGIN CREATE ROLE \"Made In Do\"; EXCEPTION WHEN duplicate_object THEN NULL; "
        "END $$;\n"))
    uses, created = roles_used(find_migrations(project / "migrations"))
    assert sorted({u.role for u in uses}) == sorted({
        "reader", "writer", "owner_role", "tenant", "migrator", "parent_role", "child_role",
        "made_here"})
    assert created == {"made_here", "Made In Do"}
    assert {(u.role, u.line, u.column) for u in uses if u.role in ("reader", "writer")} == {
        ("reader", 2, 22), ("writer", 3, 25), ("reader", 6, 70)}


def test_missing_role_stops_the_run_before_anything_is_applied(project: Path,
                                                               db_url: str) -> None:
    role = unique_role()
    write(project, "0001_table.sql", "CREATE TABLE IF NOT EXISTS t (id int);")
    write(project, "0002_grants.sql", f"-- grants\nGRANT SELECT ON t TO {role};\n")
    with pytest.raises(RoleMissing) as info:
        migrate(db_url, find_migrations(project / "migrations"), RunnerSettings())
    assert info.value.code == "PRECHECK_ROLE_MISSING" and info.value.exit_code == 27
    assert info.value.roles == [role]
    assert [p.rsplit("/", 1)[-1] for p in info.value.places] == ["0002_grants.sql:2:22"]
    assert query(db_url, "SELECT to_regclass('public.t') IS NULL") == [(True,)]
    assert f"CREATE ROLE {role} NOLOGIN" in info.value.remedy


def test_role_a_pending_migration_creates_is_not_asked_for(project: Path, db_url: str,
                                                           admin_url: str) -> None:
    role = unique_role()
    write(project, "0001_role.sql", f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; "
                                    "EXCEPTION WHEN duplicate_object THEN NULL; END $$;")
    write(project, "0002_grants.sql", f"CREATE TABLE t (id int);\nGRANT SELECT ON t TO {role};")
    try:
        result = migrate(db_url, find_migrations(project / "migrations"), RunnerSettings())
        assert len(result.applied) == 2
    finally:
        query(db_url, f"DROP OWNED BY {role}")
        query(admin_url, f"DROP ROLE IF EXISTS {role}")


def test_cli_names_the_role_and_the_line_with_exit_27(project: Path, db_url: str) -> None:
    role = unique_role()
    write(project, "0001_policy.sql",
          "CREATE TABLE t (id int);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
          f"CREATE POLICY p ON t FOR SELECT TO {role} USING (true);\n")
    out = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert out.returncode == 27, out.stdout + out.stderr
    assert "PRECHECK_ROLE_MISSING" in out.stderr and role in out.stderr
    assert "0001_policy.sql:3:36" in out.stderr
