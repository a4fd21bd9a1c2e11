"""Passwords, tokens and PATs never reach the screen or a file, in every shape a user can
type; a short common password is masked where it stands as a password, not everywhere."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from tests.conftest import free_port, run_cli
from workspace.deps.embedded import EmbeddedPostgres
from workspace.output import redact
from workspace.urls import database_url_problem

MASK = redact.MASK


def test_mask_url_hides_the_password_and_keeps_the_rest() -> None:
    assert redact.mask_url("postgresql://app:s3cr%40t@db:5432/x?sslmode=require") == \
        "postgresql://app:********@db:5432/x?sslmode=require"


def test_registered_secrets_are_masked_anywhere_in_text() -> None:
    redact.register_url("postgresql://app:pa%24%24word-1@db/x")
    text = 'FATAL: password authentication failed, tried "pa$$word-1" and pa%24%24word-1'
    out = redact.redact(text)
    assert "pa$$word-1" not in out and "pa%24%24word-1" not in out


def test_unregistered_url_and_keyword_passwords_are_masked() -> None:
    out = redact.redact("dsn=postgres://u:zz-top-99@h/d and host=h password='x y z' user=u")
    assert "zz-top-99" not in out and "x y z" not in out
    assert "postgres://u:********@h/d" in out and "password='********'" in out


# -- every shape, unregistered: what the text itself says is a password ------------------

SHAPES = [
    # (text, what must not appear, what must stay readable)
    ("cannot connect to postgresql://u:S3cr3t/x@host/db: refused",
     ["S3cr3t"], ["postgresql://u:********@host/db: refused"]),
    ("cannot connect to postgresql://u:p@ss@word@host/db", ["p@ss", "ss@word", "word@host"],
     ["postgresql://u:********@host/db"]),
    ('missing "=" after "postgres//u:pw-9x@host" in connection info string',
     ["pw-9x"], ['"postgres//u:********@host"']),
    ("postgresql:/u:pw-9x@host/db", ["pw-9x"], ["@host/db"]),
    ("at postgresql://u:pw-9x@h1,h2:5433/db", ["pw-9x"], ["postgresql://u:********@h1,h2:5433/db"]),
    ("host=h password=s3cret-kv user=u", ["s3cret-kv"], ["host=h password=******** user=u"]),
    ("host=h password='se cret' user=u", ["se cret", "cret"], ["password='********' user=u"]),
    (r"host=h password='se \'cr et' user=u", ["cr et", "se "], ["password='********' user=u"]),
    (r"host=h password=se\ cret-esc user=u", ["cret-esc"], ["password=******** user=u"]),
    ("host=h password = 'open quote and more", ["open", "quote"], ["host=h password"]),
    ("postgresql://u@h/db?sslmode=disable&password=q-secret-1&x=y", ["q-secret-1"],
     ["?sslmode=disable&password=********&x=y"]),
    ("postgresql://u:p%40ss%2Fw0rd@h/db", ["p%40ss%2Fw0rd"], ["postgresql://u:********@h/db"]),
    ('{"database": "postgresql://u:js-pw-1@h/db", "ok": false}', ["js-pw-1"],
     ['"postgresql://u:********@h/db"']),
    ('{"password": "json-secret-1", "user": "u"}', ["json-secret-1"],
     ['{"password": "********", "user": "u"}']),
    ("PGPASSWORD=env-secret-1 psql", ["env-secret-1"], ["PGPASSWORD=******** psql"]),
    ("Authorization: Bearer tok.abc-123.xyz", ["tok.abc-123.xyz"], ["Authorization: Bearer ********"]),
    ("File \"x.py\", line 3\n    connect('postgresql://u:tb-pw-1@h/db')\nValueError: bad",
     ["tb-pw-1"], ["connect('postgresql://u:********@h/db')"]),
]


@pytest.mark.parametrize(("text", "secrets", "kept"), SHAPES, ids=[s[0][:40] for s in SHAPES])
def test_every_shape_of_password_is_masked(text: str, secrets: list[str], kept: list[str]) -> None:
    out = redact.redact(text)
    for secret in secrets:
        assert secret not in out, out
    for part in kept:
        assert part in out, out


def test_ordinary_text_is_left_alone() -> None:
    for text in ("ssh git@github.com:org/repo.git", "mail admin@example.com about it",
                 "max_tokens=12 token_type=bearer", "12:03:04 server | listening on :3002",
                 "run `workspace db migrate` again", "FATAL: password authentication failed"):
        assert redact.redact(text) == text


def test_masking_twice_changes_nothing_more() -> None:
    once = redact.redact(f"cannot connect to {redact.mask_url('host=h password=abc-123-xy')}: "
                         "connection refused")
    assert once == "cannot connect to host=h password=********: connection refused"
    assert redact.redact(once) == once


# -- issue 13: a short common password is masked where it stands as a password ----------

def test_a_weak_password_is_masked_in_its_url_not_in_ordinary_words() -> None:
    warnings: list[str] = []
    redact.on_weak_password(warnings.append)
    try:
        url = "postgresql://workspace:workspace@localhost/workspace"
        assert redact.mask_url(url) == "postgresql://workspace:********@localhost/workspace"
        redact.register_url(url)
        text = "Fix the file, then run `workspace db migrate` again (workspace 0.1)"
        assert redact.redact(text) == text
        assert redact.redact_bytes(b"workspace log: ready\n") == b"workspace log: ready\n"
        assert redact.redact("PGPASSWORD=workspace psql") == "PGPASSWORD=******** psql"
    finally:
        redact.on_weak_password(None)
    assert len(warnings) == 1 and "weak" in warnings[0] and "workspace:********@" in warnings[0]


@pytest.mark.parametrize(("password", "reason"), [
    ("abc-12", "shorter than 8"), ("appuser", "shorter than 8"), ("appuser1", "user name"),
    ("appdata1", "database name"), ("migrations", "letters only"), ("12345678", "digits only"),
    ("Tr0ub4dor&3", None)])
def test_the_weak_password_rule(password: str, reason: str | None) -> None:
    found = redact.weakness(password, user="appuser1", database="appdata1")
    assert (found is None) if reason is None else (found is not None and reason in found)


def test_a_weak_password_with_a_space_is_still_masked_in_its_url() -> None:
    redact.register_url("postgresql://u:a b@h/db")
    assert redact.redact("cannot connect to postgresql://u:a b@h/db") == \
        "cannot connect to postgresql://u:********@h/db"


def test_strong_registered_secrets_are_masked_anywhere() -> None:
    redact.register_url("host=h user=u password='Long\\'Secret 42'")
    assert redact.redact("FATAL: tried Long'Secret 42!") == "FATAL: tried ********!"


def test_a_secret_registered_alone_then_seen_as_the_user_name_is_no_longer_masked_everywhere() -> None:
    redact.register("app-user-1")  # e.g. docker/.env's POSTGRES_PASSWORD
    redact.on_weak_password(lambda _: None)
    try:
        redact.register_url("postgresql://app-user-1:app-user-1@h/db")
    finally:
        redact.on_weak_password(None)
    assert redact.redact("role app-user-1 ready") == "role app-user-1 ready"
    assert redact.redact("postgresql://app-user-1:app-user-1@h/db") == \
        "postgresql://app-user-1:********@h/db"


def test_uncaught_tracebacks_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError("bad postgres//u:hook-pw-1@h")
    except ValueError as exc:
        redact.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "Traceback" in err and "hook-pw-1" not in err and "postgres//u:********@h" in err


def test_json_values_are_masked_and_stay_json() -> None:
    payload = {"message": 'cannot connect to postgres//u:p"w-1@h', "n": [1, "a:b@c"]}
    out = redact.redact_json(payload)
    assert 'p"w-1' not in json.dumps(out) and out["n"][0] == 1  # type: ignore[index]


def test_one_url_check_names_an_unencoded_slash_or_at() -> None:
    assert database_url_problem("postgresql://u:pw@h/db?application_name=a@b") is None
    assert database_url_problem("host=h password=a/b@c") is None
    assert "'/'" in (database_url_problem("postgresql://u:S3cr3t/x@host/db") or "")
    assert "'@'" in (database_url_problem("postgresql://u:p@ss@host/db") or "")
    assert "S3cr3t" not in (database_url_problem("postgresql://u:S3cr3t/x@host/db") or "")


def test_a_hostile_megabyte_line_finishes() -> None:
    # Linear time: see benchmarks/bench_redact.py for the figures; here, that it ends at all.
    for unit in ("@:/", "a:b@", "//u:", "password=", "x@y:z/ ", "postgresql://u:"):
        line = unit * (2**20 // len(unit))
        assert len(redact.redact(line)) > 0
        assert len(redact.redact_bytes(line.encode())) > 0


# -- through the real command: stdout, stderr and every file under .workspace/ ------------

CLI_SHAPES = [
    # (id, database URL with {port} closed, strings that must never appear anywhere)
    ("slash", "postgresql://u:S3cr3t/xq@127.0.0.1:{port}/db", ["S3cr3t"]),
    ("at", "postgresql://u:p@ssw0rd-Zq9@127.0.0.1:{port}/db", ["p@ss", "ssw0rd-Zq9"]),
    ("missing-colon", "postgres//u:Pw-77xq@127.0.0.1:{port}/db", ["Pw-77xq"]),
    ("multi-host", "postgresql://u:Mh-pw-55@127.0.0.1:{port},127.0.0.1:{port}/db", ["Mh-pw-55"]),
    ("keyword", "host=127.0.0.1 port={port} user=u password=Kv-secret-1", ["Kv-secret-1"]),
    ("keyword-quoted", "host=127.0.0.1 port={port} user=u password='se cr\\'et-9'",
     ["se cr", "cr\\'et-9", "cr'et-9"]),
    ("keyword-escaped", "host=127.0.0.1 port={port} user=u password=se\\ cret-pw8", ["cret-pw8"]),
    ("query", "postgresql://u@127.0.0.1:{port}/db?password=Qs-secret-2&sslmode=disable",
     ["Qs-secret-2"]),
    ("percent", "postgresql://u:p%40ss%2Fw0rd-7@127.0.0.1:{port}/db", ["p%40ss%2Fw0rd-7", "p@ss/w0rd-7"]),
]


def _everything_written(project: Path) -> str:
    found = []
    for root, _, names in os.walk(project / ".workspace"):
        for name in names:
            found.append((Path(root) / name).read_bytes().decode("utf-8", "replace"))
    return "\n".join(found)


@pytest.mark.parametrize(("url", "secrets"), [c[1:] for c in CLI_SHAPES],
                         ids=[c[0] for c in CLI_SHAPES])
def test_no_shape_of_password_escapes_the_command(project: Path, url: str,
                                                  secrets: list[str]) -> None:
    url = url.format(port=free_port())
    quick = {"WORKSPACE_READINESS__DATABASE_ATTEMPTS": "1",
             "WORKSPACE_READINESS__DATABASE_INTERVAL_S": "0.2",
             "WORKSPACE_DEPS__ZITADEL__BACKEND": "skip"}
    runs = {"plain": run_cli(project, "db", "status", "--database-url", url),
            "json": run_cli(project, "db", "status", "--json", "--database-url", url),
            "debug": run_cli(project, "--debug", "db", "status", "--database-url", url),
            "start-json": run_cli(project, "start", "--json", env={"DATABASE_URL": url, **quick})}
    for name, out in runs.items():
        assert out.returncode not in (0, 70), f"{name}: {out.stdout}{out.stderr}"
        shown = out.stdout + out.stderr
        # a URL refused at load (exit 3; --debug: its traceback) is described, not echoed;
        # any other error echoes it
        refused = out.returncode == 3 or "ConfigError: invalid configuration" in shown
        assert refused or MASK in shown, f"{name}: the URL was not echoed: {shown}"
        for secret in secrets:
            assert secret not in shown, f"{name}: {secret!r} in {shown}"
    error = json.loads(runs["json"].stdout.splitlines()[-1])
    assert error["event"] == "error"
    if runs["json"].returncode != 3:
        assert "Traceback" in runs["debug"].stderr
        assert MASK in error["error"]["message"]
    written = _everything_written(project)
    for secret in secrets:
        assert secret not in written


def test_an_unencoded_slash_or_at_is_a_config_error_naming_the_source(project: Path) -> None:
    out = run_cli(project, "db", "status",
                  env={"DATABASE_URL": "postgresql://u:S3cr3t/xq@127.0.0.1:9/db"})
    assert out.returncode == 3, out.stderr
    assert "PRECHECK_CONFIG_INVALID" in out.stderr and "DATABASE_URL" in out.stderr
    assert "%2F" in out.stderr and "S3cr3t" not in out.stderr


@pytest.fixture
def workspace_role(pg_server: EmbeddedPostgres, admin_url: str) -> Iterator[str]:
    """The issue's URL: user, password and database all `workspace`, on the test server."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS workspace WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS workspace")
        conn.execute("CREATE ROLE workspace LOGIN PASSWORD 'workspace'")
        conn.execute("CREATE DATABASE workspace OWNER workspace")
    yield f"postgresql://workspace:workspace@{pg_server.host}:{pg_server.port}/workspace"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS workspace WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS workspace")


def test_workspace_as_user_password_and_database_keeps_text_readable(
        project: Path, workspace_role: str) -> None:
    url = workspace_role
    (project / "migrations" / "0001_workspace_init.sql").write_text("CREATE TABLE (;\n")
    migrate = run_cli(project, "db", "migrate", "--database-url", url)
    assert migrate.returncode == 6, migrate.stderr
    assert "migrations/0001_workspace_init.sql" in migrate.stderr
    assert "then run `workspace db migrate` again" in migrate.stderr
    assert migrate.stderr.count("is weak") == 1, migrate.stderr
    assert "same as the user name" in migrate.stderr
    status = run_cli(project, "db", "status", "--database-url", url)
    masked = url.replace(":workspace@", ":********@")
    assert f"Database: {masked}" in status.stdout, status.stdout + status.stderr
    assert "0001_workspace_init.sql" in status.stdout
    doc = run_cli(project, "db", "status", "--json", "--database-url", url)
    assert json.loads(doc.stdout)["database"] == masked
    for out in (migrate, status, doc):
        assert ":workspace@" not in out.stdout + out.stderr


# -- a running workspace: the state file, the logs, status -------------------------------

@pytest.fixture
def conninfo_role(pg_server: EmbeddedPostgres, admin_url: str,
                  app_db_url: str) -> Iterator[tuple[str, str]]:
    """A key/value connection string to a fresh database, as a role whose password has an
    escaped space (libpq's `password=se\\ cret`); and the password's tail."""
    role = f"r_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            sql.Identifier(role), sql.Literal("Se cr3t-Pw9")))
    database = app_db_url.rsplit("/", 1)[1]
    yield (f"host={pg_server.host} port={pg_server.port} dbname={database} user={role} "
           "password=Se\\ cr3t-Pw9"), "cr3t-Pw9"
    with psycopg.connect(admin_url, autocommit=True) as conn:  # its objects first
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_running_workspace_writes_no_password_anywhere(
        shipped_project: Path, conninfo_role: tuple[str, str]) -> None:
    url, secret = conninfo_role
    (shipped_project / "config.yaml").write_text(yaml.safe_dump({
        "apps": {"echo": {"command": ["sh", "-c", 'echo "db=$DATABASE_URL"; exec sleep 60'],
                          "ready": {"log": "db="}}},
        "deps": {"zitadel": {"backend": "skip"}}, "supervisor": {"stop_grace_s": 2}}))
    env = {"DATABASE_URL": url}
    started = run_cli(shipped_project, "start", "--detach", env=env, timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = (shipped_project / ".workspace" / "run" / "state.json").read_text()
        assert "password=********" in json.loads(state)["database"]
        status = run_cli(shipped_project, "status", "--json", env=env)
        postgres = json.loads(status.stdout)["dependencies"][0]  # read from the masked URL
        assert (postgres["state"], postgres["address"]) == ("running", json.loads(state)["database"])
        logs = run_cli(shipped_project, "logs", env=env)
        assert "db=host=" in logs.stdout
        for out in (started, status, logs):
            assert secret not in out.stdout + out.stderr
        assert secret not in _everything_written(shipped_project)
    finally:
        stopped = run_cli(shipped_project, "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert secret not in _everything_written(shipped_project) + stopped.stdout + stopped.stderr
