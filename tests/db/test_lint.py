"""Lint rules on in-memory SQL, the run-twice proof on a real PostgreSQL, and the
project's own migrations/ held to both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED_MIGRATIONS, write
from workspace.db.files import find_migrations
from workspace.db.lint import lint_files, lint_notes, prove_rerunnable
from workspace.db.runner import RunnerSettings


def rules_for(project: Path, sql: str, first_line: str = "") -> list[tuple[str, str]]:
    write(project, "0001_x.sql", (first_line + "\n" if first_line else "") + sql)
    return [(f.rule, f.message) for f in lint_files(find_migrations(project / "migrations"))]


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE t (id int);", "CREATE TABLE without IF NOT EXISTS"),
    ("CREATE INDEX i ON t (id);", "CREATE INDEX without IF NOT EXISTS"),
    ("CREATE UNIQUE INDEX i ON t (id);", "CREATE INDEX without IF NOT EXISTS"),
    ("CREATE SCHEMA kb;", "CREATE SCHEMA without IF NOT EXISTS"),
    ("CREATE SEQUENCE s;", "CREATE SEQUENCE without IF NOT EXISTS"),
    ("CREATE EXTENSION vector;", "CREATE EXTENSION without IF NOT EXISTS"),
    ("CREATE MATERIALIZED VIEW m AS SELECT 1;", "CREATE MATERIALIZED VIEW without IF NOT EXISTS"),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", "CREATE FUNCTION without OR REPLACE"),
    ("CREATE VIEW v AS SELECT 1;", "CREATE VIEW without OR REPLACE"),
    ("CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();",
     "CREATE TRIGGER without OR REPLACE"),
    ("ALTER TABLE t ADD COLUMN c int;", "ADD COLUMN without IF NOT EXISTS"),
    ("DROP TABLE t;", "DROP without IF EXISTS"),
    ("ALTER TABLE t DROP COLUMN c;", "DROP without IF EXISTS"),
    ("CREATE TYPE mood AS ENUM ('ok');",
     "CREATE TYPE ... AS ENUM fails if it exists (no IF NOT EXISTS in PostgreSQL)"),
    ("ALTER TABLE t RENAME TO u;", "RENAME cannot run twice"),
    ("ALTER TABLE t RENAME COLUMN a TO b;", "RENAME cannot run twice"),
    ("ALTER TABLE IF EXISTS t RENAME TO u;", "RENAME cannot run twice"),
    ("ALTER TYPE mood ADD VALUE 'meh';", "ALTER TYPE ... ADD VALUE without IF NOT EXISTS"),
    ("CREATE ROLE reader;", "CREATE ROLE fails if it exists (no IF NOT EXISTS in PostgreSQL)"),
    ("CREATE TYPE r AS RANGE (subtype = int4);",
     "CREATE TYPE ... AS RANGE fails if it exists (no IF NOT EXISTS in PostgreSQL)"),
    ("CREATE STATISTICS s ON a, b FROM t;", "CREATE STATISTICS without IF NOT EXISTS"),
    ("SELECT 1 INTO t;", "SELECT INTO creates a table and fails when run twice"),
    ("CREATE CONSTRAINT TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();",
     "CREATE CONSTRAINT TRIGGER fails if it exists (it has no OR REPLACE)"),
    ("CREATE INDEX ON t (id);",
     "CREATE INDEX without a name adds another copy of the index on every run"),
])
def test_ddl_that_fails_when_run_twice_is_flagged(project: Path, sql: str, message: str) -> None:
    assert rules_for(project, sql) == [("not-idempotent", message)]


def test_add_constraint_gets_the_do_block_fix(project: Path) -> None:
    write(project, "0001_x.sql", "ALTER TABLE t ADD CONSTRAINT c CHECK (id > 0);")
    (finding,) = lint_files(find_migrations(project / "migrations"))
    assert finding.rule == "not-idempotent" and "pg_constraint" in finding.fix


@pytest.mark.parametrize("sql", [
    "CREATE TABLE IF NOT EXISTS t (id int);",
    "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (id);",
    "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
    "CREATE OR REPLACE VIEW v AS SELECT 1;",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS m AS SELECT 1;",
    "ALTER TABLE t ADD COLUMN IF NOT EXISTS c int;",
    "DROP INDEX IF EXISTS i;",
    "DO $$ BEGIN CREATE TYPE mood AS ENUM ('ok'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING;",
    "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';",
])
def test_idempotent_forms_and_do_blocks_pass(project: Path, sql: str) -> None:
    assert rules_for(project, sql) == []


def test_every_finding_is_reported_not_just_the_first(project: Path) -> None:
    found = rules_for(project, "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY i ON a (id);"
                               "\nCREATE TABLE b (id int);")
    assert [r for r, _ in found] == ["not-idempotent", "outside-transaction", "not-idempotent",
                                     "not-idempotent"]


def test_every_problem_of_one_alter_table_is_reported(project: Path) -> None:
    found = rules_for(project, "ALTER TABLE t ADD COLUMN c int, DROP COLUMN d;")
    assert [r for r, _ in found] == ["not-idempotent", "not-idempotent"]


def test_the_fix_names_the_object(project: Path) -> None:
    write(project, "0001_x.sql", "CREATE TABLE kb.x (id int);")
    (finding,) = lint_files(find_migrations(project / "migrations"))
    assert finding.fix.endswith("IF NOT EXISTS kb.x")


def test_an_outer_begin_commit_pair_is_a_note_not_a_finding(project: Path) -> None:
    write(project, "0001_x.sql", "BEGIN;\nCREATE TABLE IF NOT EXISTS a (id int);\nCOMMIT;")
    migrations = find_migrations(project / "migrations")
    assert lint_files(migrations) == []
    (note,) = lint_notes(migrations)
    assert (note.rule, note.line) == ("note", 1)
    assert "BEGIN (line 1) and COMMIT (line 3) are left out" in note.message


def test_begin_and_commit_are_to_be_removed_not_moved(project: Path) -> None:
    write(project, "0001_x.sql", "BEGIN;\nCREATE TABLE IF NOT EXISTS a (id int);\nCOMMIT;\n"
                                 "BEGIN;\nCREATE TABLE IF NOT EXISTS b (id int);\nCOMMIT;")
    findings = lint_files(find_migrations(project / "migrations"))
    assert [(f.rule, f.line) for f in findings] == [("outside-transaction", line)
                                                    for line in (1, 3, 4, 6)]
    assert all(f.fix.startswith("Remove it") for f in findings)


def test_a_file_of_comments_only_is_a_bad_file(project: Path) -> None:
    assert [r for r, _ in rules_for(project, "-- nothing yet\n")] == ["bad-file"]


def test_concurrent_index_in_a_no_transaction_file_is_fine(project: Path) -> None:
    assert rules_for(project, "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);",
                     "-- workspace: no-transaction") == []


def test_syntax_error_is_a_bad_file_finding(project: Path) -> None:
    assert rules_for(project, "CREAT TABLE t (id int);")[0][0] == "bad-file"


def test_run_twice_proof_catches_what_rules_miss(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);\n"
                                 "CREATE UNIQUE INDEX IF NOT EXISTS a_id ON a (id);\n"
                                 "INSERT INTO a VALUES (1);")
    migrations = find_migrations(project / "migrations")
    assert lint_files(migrations) == []
    (finding,) = prove_rerunnable(db_url, migrations, RunnerSettings())
    assert (finding.rule, finding.line) == ("fails-twice", 3) and "23505" in finding.message


def test_run_twice_proof_keeps_set_local_for_the_whole_migration(project: Path,
                                                                  db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE SCHEMA IF NOT EXISTS kb;\n"
                                 "CREATE TABLE IF NOT EXISTS kb.x (id int PRIMARY KEY);\n"
                                 "SET LOCAL search_path = kb;\n"
                                 "INSERT INTO x VALUES (1) ON CONFLICT DO NOTHING;\n"
                                 "SELECT 1 AS id INTO y;")
    migrations = find_migrations(project / "migrations")
    (finding,) = prove_rerunnable(db_url, migrations, RunnerSettings())
    assert (finding.rule, finding.line) == ("fails-twice", 5) and "42P07" in finding.message


def test_run_twice_proof_reports_every_failing_statement(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"
                                 "INSERT INTO a VALUES (1);\n"
                                 "CREATE INDEX IF NOT EXISTS a_i ON a (id);")
    write(project, "0002_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);\nCREATE VIEW v AS SELECT 1;")
    findings = prove_rerunnable(db_url, find_migrations(project / "migrations"), RunnerSettings())
    assert [(f.file.rsplit("/", 1)[-1], f.line) for f in findings] == [
        ("0001_a.sql", 1), ("0001_a.sql", 2), ("0002_b.sql", 2)]


def test_the_projects_own_migrations_are_lint_clean_and_run_twice(db_url: str) -> None:
    migrations = find_migrations(SHIPPED_MIGRATIONS)
    assert lint_files(migrations) == []
    assert prove_rerunnable(db_url, migrations, RunnerSettings()) == []


def test_run_twice_proof_starts_each_file_from_a_fresh_session(project: Path,
                                                               db_url: str) -> None:
    write(project, "0001_baseline.sql", "SELECT pg_catalog.set_config('search_path', '', false);\n"
                                        "SET client_min_messages = warning;\n"
                                        "CREATE TABLE IF NOT EXISTS public.base (id integer);")
    write(project, "0002_t.sql", "CREATE TABLE IF NOT EXISTS t (id int);")
    assert prove_rerunnable(db_url, find_migrations(project / "migrations"),
                            RunnerSettings()) == []
