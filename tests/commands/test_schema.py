"""`workspace db validate | fix | snapshot` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import query, run_cli

GUIDE_PASSED = ["VALIDATION PASSED", "8/8 tables exist", "2/2 functions exist",
                "3/3 migrations tracked"]


@pytest.fixture
def migrated(shipped_project: Path, app_db_url: str) -> str:
    out = run_cli(shipped_project, "db", "migrate", "--database-url", app_db_url)
    assert out.returncode == 0, out.stderr
    return app_db_url


def test_validate_passes_with_the_guides_lines_in_plain_text(shipped_project: Path,
                                                              migrated: str) -> None:
    out = run_cli(shipped_project, "db", "validate", "--database-url", migrated)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert all(line in lines for line in GUIDE_PASSED), lines
    assert "✓" not in out.stdout and "\x1b[" not in out.stdout  # not a terminal: plain


def test_validate_fails_names_the_table_and_recommends_fix(shipped_project: Path,
                                                           migrated: str) -> None:
    query(migrated, "DROP TABLE kb.tags CASCADE")
    out = run_cli(shipped_project, "db", "validate", "--database-url", migrated)
    assert out.returncode == 12
    lines = out.stdout.splitlines()
    assert lines[0] == "VALIDATION FAILED"
    assert "Missing critical table: kb.tags" in lines
    assert "Recommendation: Run workspace db fix" in lines
    assert "PRECHECK_DATABASE_SCHEMA_INVALID" in out.stderr


def test_validate_json_for_scripts(shipped_project: Path, migrated: str) -> None:
    query(migrated, "CREATE TABLE kb.custom_table (id int)")
    out = run_cli(shipped_project, "db", "validate", "--json", "--database-url", migrated)
    assert out.returncode == 12
    doc = json.loads(out.stdout)
    assert doc["valid"] is False and doc["tables"] == {"ok": 8, "total": 8}
    assert doc["problems"] == [{"severity": "error", "kind": "table", "object": "kb.custom_table",
                                "problem": "extra", "text": "Table kb.custom_table exists but "
                                "not in migrations (extra)"}]


def test_could_not_check_has_its_own_exit_code(shipped_project: Path) -> None:
    out = run_cli(shipped_project, "db", "validate", "--database-url",
                  "postgresql://u:topsecret-pw@127.0.0.1:9/x")
    assert out.returncode == 13
    assert "PRECHECK_VALIDATION_UNAVAILABLE" in out.stderr and "topsecret-pw" not in out.stderr


def test_fix_prints_its_plan_repairs_and_validates_again(shipped_project: Path,
                                                         migrated: str) -> None:
    query(migrated, "DROP TABLE kb.tags CASCADE")
    dry = run_cli(shipped_project, "db", "fix", "--dry-run", "--database-url", migrated)
    assert dry.returncode == 0 and "Would create table kb.tags" in dry.stdout
    assert query(migrated, "SELECT to_regclass('kb.tags') IS NULL") == [(True,)]
    out = run_cli(shipped_project, "db", "fix", "--database-url", migrated)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Creating table kb.tags..." in out.stdout and "Created table kb.tags" in out.stdout
    assert out.stdout.splitlines()[-1] == "Schema is now valid!"


def test_fix_says_what_it_could_not_repair(shipped_project: Path, migrated: str) -> None:
    query(migrated, "CREATE TABLE kb.custom_table (id int)")
    out = run_cli(shipped_project, "db", "fix", "--database-url", migrated)
    assert out.returncode == 12
    assert "Table kb.custom_table exists but not in migrations (extra)" in out.stdout
    assert "never rewrites or drops" in out.stderr
    assert query(migrated, "SELECT to_regclass('kb.custom_table') IS NOT NULL") == [(True,)]


def test_snapshot_is_written_for_commit(shipped_project: Path, migrated: str) -> None:
    out = run_cli(shipped_project, "db", "snapshot", "--database-url", migrated)
    assert out.returncode == 0, out.stderr
    snapshot = json.loads((shipped_project / "migrations" / "schema.snapshot.json").read_text())
    assert "kb.tags" in snapshot["catalog"]["tables"]


def test_tenant_schema_root_first_then_fix_restores_it_and_prints_sql_for_the_rest(
        admin_url: str, db_url: str, tmp_path: Path) -> None:
    from tests.db.tenant import build, ensure_app_role, make_project

    ensure_app_role(admin_url)
    config = make_project(tmp_path)
    build(config, db_url)
    query(db_url, "DROP DOMAIN auth.email CASCADE; "
                  "COMMENT ON TABLE kb.projects IS 'Customers'")
    out = run_cli(tmp_path, "db", "validate", "--database-url", db_url)
    assert out.returncode == 12
    lines = out.stdout.splitlines()
    root = lines.index("Missing domain: auth.email (3 columns and 1 function depend on it)")
    # the root is the first problem: before the critical table that lost its column
    first_problem = next(i for i, line in enumerate(lines) if line.endswith("migrations tracked"))
    assert root == first_problem + 1, lines
    assert root < lines.index("Critical table kb.documents has 6 columns, expected 7")
    assert root < lines.index("Missing column: auth.users.email")
    assert root < lines.index("Missing function: auth.normalize_email(address auth.email)")
    out = run_cli(tmp_path, "db", "fix", "--database-url", db_url)
    assert out.returncode == 12, out.stdout + out.stderr
    assert "Created domain auth.email" in out.stdout
    assert "    COMMENT ON TABLE kb.projects IS 'Tenants';" in out.stdout.splitlines()
    assert "Schema is still invalid:" in out.stdout and "42704" not in out.stdout
    assert query(db_url, "SELECT obj_description('kb.projects'::regclass)") == [("Customers",)]
    assert query(db_url, "SELECT count(*) FROM auth.users") == [(1,)]
    again = run_cli(tmp_path, "db", "validate", "--json", "--database-url", db_url)
    problems = json.loads(again.stdout)["problems"]
    assert [p["text"] for p in problems] == [
        "Comment TABLE kb.projects differs from migrations: the text is not the one the "
        "migrations set (changed)"]


def test_fix_does_not_recommend_itself_for_what_no_migration_defines(
        project: Path, db_url: str) -> None:
    """The reference schema's table is critical, this project's migrations do not define
    it: `db fix` has nothing to create and says what to do instead of "Run db fix"."""
    (project / "migrations" / "0001_todos.sql").write_text(
        "CREATE TABLE IF NOT EXISTS todos (id bigint PRIMARY KEY);\n")
    (project / "config.yaml").write_text("precheck:\n  critical_tables: {kb.chunks: 7}\n")
    assert run_cli(project, "db", "migrate", "--database-url", db_url).returncode == 0
    out = run_cli(project, "db", "validate", "--database-url", db_url)
    assert out.returncode == 12 and "workspace db fix" not in out.stdout + out.stderr
    assert "Remedy: Create kb.chunks in a migration" in out.stderr, out.stderr
    out = run_cli(project, "db", "fix", "--database-url", db_url)
    assert out.returncode == 12, out.stdout + out.stderr
    assert "Nothing missing" in out.stdout
    assert "Run workspace db fix" not in out.stdout + out.stderr
    assert "Create kb.chunks in a migration, or remove it from precheck (config.yaml)" \
        in out.stderr


def test_fix_that_rows_prevent_names_the_table_the_constraint_and_the_rows_to_fix(
        admin_url: str, db_url: str, tmp_path: Path) -> None:
    """A dropped table comes back empty: the foreign key of the table that referenced it
    cannot, for its rows now point at nothing (23503). Running `db fix` again would fail
    the same way: the remedy names the table and the constraint, with a query that
    finds the rows; once they are gone, `db fix` restores the rest."""
    from tests.db.tenant import build, ensure_app_role, make_project

    ensure_app_role(admin_url)
    config = make_project(tmp_path)
    build(config, db_url)
    query(db_url, "DROP TABLE kb.documents CASCADE")
    out = run_cli(tmp_path, "db", "fix", "--database-url", db_url)
    assert out.returncode == 12, out.stdout + out.stderr
    assert "Could not create foreign key kb.chunks.chunks_document_id_fkey: 23503" in out.stdout
    remedy = next(line for line in out.stderr.splitlines() if "Remedy:" in line)
    assert "Run workspace db fix" not in remedy
    assert "kb.chunks" in remedy and "chunks_document_id_fkey" in remedy, remedy
    assert remedy.endswith("then run workspace db fix"), remedy
    select = remedy.split("`")[1]
    assert select.startswith("SELECT ") and query(db_url, select) == query(
        db_url, "SELECT * FROM kb.chunks")  # the one chunk's document is gone
    query(db_url, select.replace("SELECT * FROM", "DELETE FROM", 1))
    again = run_cli(tmp_path, "db", "fix", "--database-url", db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert query(db_url, "SELECT count(*) FROM kb.projects") == [(1,)]
