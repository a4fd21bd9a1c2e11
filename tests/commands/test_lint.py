"""`workspace db lint` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write


def test_clean_project_exits_0_after_running_twice(shipped_project: Path, db_url: str) -> None:
    out = run_cli(shipped_project, "db", "lint", "--database-url", db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "3 migrations follow the best practices and run twice"


def test_findings_one_per_line_with_the_fix_and_exit_19(project: Path) -> None:
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);\nCREATE TABLE b (id int);")
    out = run_cli(project, "db", "lint", "--no-run")
    assert out.returncode == 19
    assert out.stdout.splitlines() == [
        "migrations/0001_a.sql:2:1: not-idempotent: CREATE TABLE without IF NOT EXISTS → "
        "write CREATE TABLE IF NOT EXISTS b"]
    assert "PRECHECK_MIGRATION_LINT_FAILED" in out.stderr


def test_json_for_scripts(project: Path) -> None:
    write(project, "0001_a.sql", "DROP TABLE a;")
    out = run_cli(project, "db", "lint", "--no-run", "--json")
    assert out.returncode == 19
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and doc["findings"][0]["rule"] == "not-idempotent"


def test_every_bad_file_is_a_finding_and_the_proof_waits_for_them(project: Path) -> None:
    write(project, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);")
    write(project, "0001_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);")
    write(project, "2_x.sql", "-- workspace: bogus\nSELECT 1;")
    write(project, "0003_c.sql", "-- only a comment\n")
    out = run_cli(project, "db", "lint", "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert out.returncode == 19, out.stderr
    assert [line.split(": ")[1] for line in out.stdout.splitlines()] == ["bad-file"] * 3
    assert "run-twice proof skipped" in out.stderr
