"""Guard: hostile or mistaken input (migration files, config, environment, URLs) fed to the
real CLI never reaches exit 70 ("a bug in workspace") or prints a traceback; it gets its
documented code, names the file, field or variable, and leaves the database untouched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import query, run_cli, write

FILE_INVALID, CONFIG_INVALID, UNREACHABLE = 6, 3, 4
UNREACHABLE_URL = "postgresql://nobody@127.0.0.1:1/db"  # well-formed, nothing listens


def check(result: subprocess.CompletedProcess[str], code: int, *named: str) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == code, out
    assert "Traceback" not in out and "bug in workspace" not in out, out
    for name in named:
        assert name in out, out
    return out


def assert_untouched(url: str) -> None:
    assert query(url, "SELECT to_regclass('public.schema_migrations')") == [(None,)]
    assert query(url, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                      "c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                      "'information_schema', 'pg_toast')") == [(0,)]


def migrate(project: Path, url: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return run_cli(project, "db", "migrate", "--database-url", url, **kw)  # type: ignore[arg-type]


# --- migration files (exit 6, before anything runs) ------------------------------------

def test_nul_byte_is_refused_at_its_position_and_nothing_runs(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE ok (id int);")
    write(project, "0002_nul.sql",
          b"CREATE TABLE a (id int);\0\nCREATE TABLE b (id int);\nDROP TABLE a;")
    out = check(migrate(project, db_url), FILE_INVALID, "migrations/0002_nul.sql:1:25", "NUL")
    assert "PRECHECK_MIGRATION_FILE_INVALID" in out
    assert_untouched(db_url)


def test_carriage_return_only_line_endings_count_as_lines(project: Path, db_url: str) -> None:
    write(project, "0001_mac.sql", b"SELECT 1;\rSELECT 2;\rSELEC 3;\r")
    check(migrate(project, db_url), FILE_INVALID, "migrations/0001_mac.sql:3:1",
          "syntax error")
    assert_untouched(db_url)


def test_bom_inside_the_file_is_seen_by_the_parser(project: Path, db_url: str) -> None:
    write(project, "0001_bom.sql", "\ufeffCREATE TABLE a (id int);\n\ufeffCREATE TABLE b (id int);\n")
    check(migrate(project, db_url), FILE_INVALID, "migrations/0001_bom.sql:2:1", "syntax error")
    assert_untouched(db_url)


@pytest.mark.parametrize("kind, says", [
    ("directory", "is a directory"),
    ("fifo", "is a FIFO, not a regular file"),
    ("dangling", "is a dangling symlink to /nonexistent/0009_target.sql"),
    ("loop", "is a symlink loop"),
    ("device", "is a character device, not a regular file"),
])
def test_migration_that_is_not_a_regular_file_says_what_it_is(
        project: Path, db_url: str, kind: str, says: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    path = project / "migrations" / "0009_x.sql"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling":
        path.symlink_to("/nonexistent/0009_target.sql")
    elif kind == "loop":
        path.symlink_to(path.name)
    else:
        path.symlink_to("/dev/zero")
    out = check(migrate(project, db_url, timeout=30), FILE_INVALID,
                "migrations/0009_x.sql", says)
    assert "naming rule" not in out
    assert_untouched(db_url)


def test_file_that_cannot_be_read_even_by_root_is_a_file_error(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    # a regular file whose read fails with EIO, whoever reads it
    (project / "migrations" / "0002_mem.sql").symlink_to("/proc/self/mem")
    check(migrate(project, db_url), FILE_INVALID, "migrations/0002_mem.sql", "cannot be read",
          "Input/output error")
    assert_untouched(db_url)


def test_version_past_bigint_is_a_file_error_before_anything_runs(
        project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "9223372036854775808_big.sql", "CREATE TABLE b (id int);")
    check(migrate(project, db_url), FILE_INVALID, "9223372036854775808_big.sql",
          "9223372036854775807")
    assert_untouched(db_url)


def test_non_ascii_digits_are_not_a_version(project: Path, db_url: str) -> None:
    write(project, "\u0660\u0660\u0661_arabic.sql", "CREATE TABLE a (id int);")
    check(migrate(project, db_url), FILE_INVALID, "naming rule")
    assert_untouched(db_url)


def test_directive_timeout_past_the_servers_limit_is_a_file_error(
        project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    write(project, "0002_slow.sql", "-- workspace: statement_timeout=99999999999s\nSELECT 1;")
    check(migrate(project, db_url), FILE_INVALID, "migrations/0002_slow.sql:1",
          "statement_timeout=99999999999s")
    assert_untouched(db_url)


def test_migrations_path_that_is_a_file_says_so(project: Path) -> None:
    (project / "migrations").rmdir()
    (project / "migrations").write_text("not a directory")
    check(migrate(project, UNREACHABLE_URL), FILE_INVALID, "migrations", "not a directory")


def test_migrations_directory_symlink_loop_says_so(project: Path) -> None:
    (project / "migrations").rmdir()
    (project / "migrations").symlink_to("migrations")
    check(migrate(project, UNREACHABLE_URL), FILE_INVALID, "migrations", "symlink loop")


# --- configuration (exit 3, every command) ---------------------------------------------

def status(project: Path, *args: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    return run_cli(project, "db", "status", *args, env=env, timeout=60)


def test_yaml_nested_500_deep(project: Path) -> None:
    (project / "config.yaml").write_text(
        "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 500)) + "  " * 500 + "c: 1\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "nested too deeply")


def test_yaml_flow_nested_500_deep(project: Path) -> None:
    (project / "config.yaml").write_text("apps: " + "[" * 500 + "]" * 500 + "\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "nested too deeply")


def test_yaml_integer_too_long_to_convert(project: Path) -> None:
    (project / "config.yaml").write_text("embedded:\n  port: " + "9" * 5000 + "\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml")


@pytest.mark.parametrize("field, value", [
    ("database.connect_timeout_s", ".inf"), ("database.connect_timeout_s", "1e999"),
    ("migrations.lock_wait_s", ".inf"), ("migrations.statement_timeout_s", ".inf"),
    ("migrations.lock_timeout_s", ".nan"), ("migrations.lock_wait_s", "1e30"),
    ("readiness.poll_s", "1e30"), ("supervisor.stop_grace_s", ".inf"),
])
def test_durations_are_finite_and_bounded_with_the_limit_said(
        project: Path, field: str, value: str) -> None:
    section, name = field.split(".")
    (project / "config.yaml").write_text(f"{section}:\n  {name}: {value}\n")
    out = check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID,
                f"config.yaml line 2: {field}")
    assert "86400" in out or value == ".nan"


def test_infinite_lock_wait_from_environment_names_the_variable(project: Path) -> None:
    check(status(project, "--database-url", UNREACHABLE_URL,
                 env={"WORKSPACE_MIGRATIONS__LOCK_WAIT_S": "inf"}),
          CONFIG_INVALID, "WORKSPACE_MIGRATIONS__LOCK_WAIT_S", "migrations.lock_wait_s")


@pytest.mark.parametrize("variable", ["WORKSPACE_MIGRATIONS__STATEMENT_TIMEOUT_S",
                                      "WORKSPACE_MIGRATIONS__LOCK_TIMEOUT_S",
                                      "WORKSPACE_MIGRATIONS__LOCK_WAIT_S"])
def test_infinite_timeout_stops_migrate_before_the_database(
        project: Path, db_url: str, variable: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    check(migrate(project, db_url, env={variable: "inf"}), CONFIG_INVALID, variable)
    assert_untouched(db_url)


def test_huge_counts_are_bounded(project: Path) -> None:
    (project / "config.yaml").write_text(
        "supervisor:\n  tail_lines: 100000000000000000000000\n"
        "readiness:\n  database_attempts: 100000000000000000000000\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID,
          "supervisor.tail_lines", "readiness.database_attempts")


def test_unknown_workspace_variable_is_named(project: Path) -> None:
    out = check(status(project, "--database-url", UNREACHABLE_URL,
                       env={"WORKSPACE_FOO__BAR": "1"}), CONFIG_INVALID, "WORKSPACE_FOO__BAR")
    assert "defaults" not in out


def test_database_url_with_a_non_utf8_byte(project: Path) -> None:
    # subprocess encodes the lone surrogate back to the raw byte 0xff (os.environb)
    out = check(status(project, env={"DATABASE_URL": "postgresql://u:secret@h\udcff/db"}),
                CONFIG_INVALID, "DATABASE_URL", "UTF-8")
    assert "secret" not in out


def test_database_url_flag_with_a_non_utf8_byte(project: Path) -> None:
    check(status(project, "--database-url", "postgresql://u@127.0.0.1:1/d\udcff"),
          CONFIG_INVALID, "command-line option for database.url", "UTF-8")


@pytest.mark.parametrize("url, says", [
    ("postgresql://u:secret@" + "a" * 64 + ".example/db", "label"),
    ("postgresql://u:secret@[::1", "IPv6"),
    ("postgresql://u:secret@127.0.0.1:0/db", "port"),
    ("postgresql://u:secret@127.0.0.1:99999/db", "port"),
    ("postgresql://u:secret@127.0.0.1:-1/db", "port"),
    ("postgresql://u:secret@127.0.0.1:5432,127.0.0.1:x/db", "port"),
    ("postgresql://u:secret@h/db?sslmode=sometimes", "sslmode"),
    ("postgresql://u:secret%zz@h/db", "percent-encoded"),
    ("mysql://u:secret@h/db", "not a valid connection URL"),
])
def test_malformed_database_url_is_a_config_error_naming_its_source(
        project: Path, url: str, says: str) -> None:
    out = check(status(project, env={"DATABASE_URL": url}), CONFIG_INVALID,
                "environment variable DATABASE_URL", says)
    assert "secret" not in out
    (project / "config.yaml").write_text(f"database:\n  url: '{url}'\n")
    out = check(status(project), CONFIG_INVALID, "config.yaml line 2: database.url", says)
    assert "secret" not in out


def test_unicode_hostname_is_well_formed_so_merely_unreachable(project: Path) -> None:
    check(status(project, "--database-url", "postgresql://u@b\u00fccher.invalid/db"),
          UNREACHABLE, "PRECHECK_DATABASE_UNREACHABLE")


def test_config_yaml_that_is_a_directory(project: Path) -> None:
    (project / "config.yaml").mkdir()
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "is a directory")


def test_config_yaml_that_is_a_fifo_never_blocks(project: Path) -> None:
    os.mkfifo(project / "config.yaml")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "is a FIFO")


def test_config_yaml_that_cannot_be_read(project: Path) -> None:
    (project / "config.yaml").symlink_to("/proc/self/mem")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "cannot be read")


@pytest.mark.parametrize("content", [b"a: 1\x00\n", b"database:\n  url: \xff\n",
                                     b"? [a, b]\n: 1\n", b"apps: {x: {command: [\xc3]}}\n"])
def test_bad_bytes_in_config_yaml(project: Path, content: bytes) -> None:
    (project / "config.yaml").write_bytes(content)
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml")


def test_dotenv_that_cannot_be_read(project: Path) -> None:
    (project / ".env").symlink_to("/proc/self/mem")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, ".env",
          "cannot be read")


@pytest.mark.parametrize("url, says", [
    ("http://[::1", "oidc.issuer"), ("http://" + "a" * 64 + ".example", "label"),
    ("http://h:99999", "port"), ("ftp://h", "http"),
])
def test_malformed_oidc_issuer_is_a_config_error(project: Path, url: str, says: str) -> None:
    check(status(project, "--database-url", UNREACHABLE_URL, env={"OIDC_ISSUER": url}),
          CONFIG_INVALID, "environment variable OIDC_ISSUER: oidc.issuer", says)


def test_malformed_readiness_url_names_the_app(project: Path) -> None:
    (project / "config.yaml").write_text(
        "apps:\n  api:\n    command: run\n    ready: {http: 'http://[::1'}\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID,
          "apps.api.ready.http")


@pytest.mark.parametrize("yaml_text, field", [
    ('migrations:\n  dir: "mig\\0rations"\n', "migrations.dir"),
    ('embedded:\n  host: "127.0.0.1\\0"\n', "embedded.host"),
    ('apps:\n  api:\n    command: ["run\\0"]\n', "apps.api.command"),
])
def test_nul_escape_in_yaml_is_refused(project: Path, yaml_text: str, field: str) -> None:
    (project / "config.yaml").write_text(yaml_text)
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, field, "NUL")


def test_impossible_date_in_yaml(project: Path) -> None:
    (project / "config.yaml").write_text("oidc:\n  client_id: 2020-02-30\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "day is out of range")


def test_deep_but_parseable_yaml_value(project: Path) -> None:
    depth = 250
    (project / "config.yaml").write_text(
        "apps:\n  api:\n    command: run\n    env: " + "[" * depth + "]" * depth + "\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "apps.api.env")


@pytest.mark.parametrize("yaml_text", ["precheck:\n  ignore: &x [*x]\n",
                                       "apps: &x {a: *x}\n", "foo: &x {a: *x}\n",
                                       'precheck:\n  ignore: &x [*x, "a\\0"]\n'])
def test_yaml_anchor_cycles(project: Path, yaml_text: str) -> None:
    (project / "config.yaml").write_text(yaml_text)
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml")


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "bad host", ""])
def test_malformed_embedded_host_is_a_config_error(project: Path, host: str) -> None:
    (project / "config.yaml").write_text(f"embedded:\n  host: '{host}'\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID,
          "config.yaml line 2: embedded.host")


def test_file_name_with_control_characters_is_shown_escaped(project: Path) -> None:
    write(project, "0001_a\x1b[31mred\nPRECHECK_FAKE.sql", "SELECT 1;")
    out = check(migrate(project, UNREACHABLE_URL), FILE_INVALID, "naming rule",
                "0001_a\\x1b[31mred\\nPRECHECK_FAKE.sql")
    assert "\x1b" not in out and "\nPRECHECK_FAKE" not in out


def test_migration_larger_than_the_server_accepts(project: Path, db_url: str) -> None:
    write(project, "0001_a.sql", "CREATE TABLE a (id int);")
    with (project / "migrations" / "0002_huge.sql").open("wb") as fh:
        fh.truncate(2**30)  # sparse: one byte past PostgreSQL's 1 GB query limit
    check(migrate(project, db_url), FILE_INVALID, "0002_huge.sql", "too large",
          "1,073,741,823")
    assert_untouched(db_url)


def test_huge_config_yaml_is_refused_unread(project: Path) -> None:
    with (project / "config.yaml").open("wb") as fh:
        fh.truncate(2**40)  # sparse terabyte
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID, "config.yaml",
          "too large")


@pytest.mark.parametrize("name", ["../../evil", "a b", ".hidden", "api.v2"])
def test_app_name_that_would_escape_the_log_directory(project: Path, name: str) -> None:
    (project / "config.yaml").write_text(f"apps:\n  '{name}':\n    command: run\n")
    check(status(project, "--database-url", UNREACHABLE_URL), CONFIG_INVALID,
          f"config.yaml line 2: apps: the name '{name}'")


@pytest.mark.parametrize("variable, field", [("DATABASE_URL", "database.url"),
                                             ("MIGRATIONS_DIR", "migrations.dir")])
def test_empty_variable_is_refused_not_read_as_something_else(
        project: Path, variable: str, field: str) -> None:
    # an empty MIGRATIONS_DIR was the project directory; an empty DATABASE_URL, libpq's
    # defaults (a local socket)
    args = () if variable == "DATABASE_URL" else ("--database-url", UNREACHABLE_URL)
    check(status(project, *args, env={variable: ""}), CONFIG_INVALID,
          f"environment variable {variable}: {field}: is empty")
