"""`workspace up` / `down`: the precheck sequence end to end, and each way it stops."""

from __future__ import annotations

import io
import json
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_MIGRATIONS, free_port, query, run_cli, shipped_precheck, write
from workspace.config.models import Config, DependencyChoice, DepsConfig, EmbeddedConfig
from workspace.errors import WorkspaceError
from workspace.output.console import Console
from workspace.output.events import Steps
from workspace.run.launcher import down, stop_started, up

STEPS_EMBEDDED = ["config", "backend", "ports", "postgres", "database", "migrations",
                  "validation"]


def events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def step_names(stdout: str) -> list[object]:
    return [e["name"] for e in events(stdout) if e["event"] == "step"]


@pytest.fixture
def shipped(outside_tmp: Path) -> Path:
    """The shipped migrations, outside pytest's basetemp (tests start clusters in it)."""
    shutil.copytree(SHIPPED_MIGRATIONS, outside_tmp / "migrations")
    (outside_tmp / "config.yaml").write_text(shipped_precheck())
    return outside_tmp


def test_embedded_default_end_to_end(shipped: Path) -> None:
    (shipped / "config.yaml").write_text(f"embedded:\n  port: {free_port()}\n")
    try:
        out = run_cli(shipped, "up")
        assert out.returncode == 0, out.stdout + out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "Validating configuration..."
        assert "  Migrations applied (3 applied)" in lines
        assert "  Database schema validated" in lines
        assert lines[-1] == "All validations passed"
        again = run_cli(shipped, "up", "--json")
        assert again.returncode == 0, again.stderr
        assert step_names(again.stdout) == STEPS_EMBEDDED
        assert all(e["status"] == "ok" for e in events(again.stdout) if e["event"] == "step")
        done = events(again.stdout)[-1]
        assert done["event"] == "done" and done["backend"] == "embedded"
    finally:
        stopped = run_cli(shipped, "down")
    assert "Stopped embedded PostgreSQL" in stopped.stdout
    pid_file = shipped / ".workspace" / "postgres" / "postmaster.pid"
    assert not pid_file.exists()


@pytest.fixture
def db_url(app_db_url: str) -> str:
    """`workspace up` validates with the default required extensions: the database as the
    environment hands it over (conftest's app_db_url)."""
    return app_db_url


def test_external_database_from_the_environment(shipped: Path, db_url: str) -> None:
    out = run_cli(shipped, "up", "--json", env={"DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    backend = next(e for e in events(out.stdout) if e.get("name") == "backend")
    assert "external" in str(backend["detail"])
    assert query(db_url, "SELECT count(*) FROM schema_migrations") == [(3,)]


def test_broken_schema_stops_everything_with_the_guides_message(shipped: Path,
                                                                db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    assert run_cli(shipped, "up", env=env).returncode == 0
    query(db_url, "DROP TABLE kb.tags CASCADE")
    out = run_cli(shipped, "up", "--json", env={**env, "SKIP_MIGRATIONS": "1"})
    assert out.returncode == 12
    found = events(out.stdout)
    migrations = next(e for e in found if e.get("name") == "migrations")
    assert migrations["status"] == "skipped"
    validation = next(e for e in found if e.get("name") == "validation")
    assert validation["status"] == "failed"
    assert validation["code"] == "PRECHECK_DATABASE_SCHEMA_INVALID"
    assert found[-1]["error"]["code"] == "PRECHECK_DATABASE_SCHEMA_INVALID"  # type: ignore[index]
    assert "Missing critical table: kb.tags" in str(found[-1])
    assert "Services will NOT start" in out.stderr


def test_failed_migration_stops_before_validation(shipped: Path, db_url: str) -> None:
    write(shipped, "0005_broken.sql", "ALTER TABLE kb.nope ADD COLUMN IF NOT EXISTS x int;")
    out = run_cli(shipped, "up", "--json", env={"DATABASE_URL": db_url})
    assert out.returncode == 7
    assert step_names(out.stdout)[-1] == "migrations"
    assert events(out.stdout)[-1]["error"]["code"] == "PRECHECK_MIGRATIONS_FAILED"  # type: ignore[index]


def test_database_that_never_answers_fails_within_its_budget(shipped: Path) -> None:
    env = {"DATABASE_URL": f"postgresql://app:sekrit-pw-77@127.0.0.1:{free_port()}/app",
           "WORKSPACE_READINESS__DATABASE_ATTEMPTS": "2",
           "WORKSPACE_READINESS__DATABASE_INTERVAL_S": "0.5"}
    began = time.monotonic()
    out = run_cli(shipped, "up", env=env)
    assert out.returncode == 4
    assert time.monotonic() - began < 10
    assert "PRECHECK_DATABASE_UNREACHABLE" in out.stderr and "sekrit-pw-77" not in out.stderr


def test_missing_oauth_client_is_refused_before_anything_starts(shipped: Path) -> None:
    out = run_cli(shipped, "up", "--json", env={"OIDC_ISSUER": "http://127.0.0.1:9"})
    assert out.returncode == 17
    assert step_names(out.stdout) == ["config"]


def test_zitadel_that_never_answers(shipped: Path, db_url: str) -> None:
    env = {"DATABASE_URL": db_url, "OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",
           "OIDC_CLIENT_ID": "client-1", "WORKSPACE_READINESS__ZITADEL_ATTEMPTS": "2",
           "WORKSPACE_READINESS__ZITADEL_INTERVAL_S": "0.5"}
    out = run_cli(shipped, "up", env=env)
    assert out.returncode == 15, out.stderr
    assert "Zitadel not ready, waiting 0.5s (attempt 1/2)..." in out.stdout


def test_oidc_provider_ready_and_app_check_is_a_warning(shipped: Path, db_url: str,
                                                        start_provider: Callable[..., object]) -> None:
    issuer = start_provider().issuer  # type: ignore[attr-defined]
    env = {"DATABASE_URL": db_url, "OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": "client-1"}
    out = run_cli(shipped, "up", "--json", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    found = {e["name"]: e for e in events(out.stdout) if e["event"] == "step"}
    assert found["zitadel"]["status"] == "ok" and found["zitadel"]["detail"] == issuer
    assert found["oauth"]["status"] == "warning"  # no PAT here: a warning, as the guide says


def test_issuer_mismatch(shipped: Path, db_url: str,
                         start_provider: Callable[..., object]) -> None:
    provider = start_provider(issuer="https://id.example.test")
    env = {"DATABASE_URL": db_url, "OIDC_ISSUER": provider.url,  # type: ignore[attr-defined]
           "OIDC_CLIENT_ID": "client-1"}
    out = run_cli(shipped, "up", env=env)
    assert out.returncode == 16, out.stdout + out.stderr
    assert "PRECHECK_OIDC_ISSUER_MISMATCH" in out.stderr


def test_port_held_by_another_process_is_named(shipped: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (shipped / "config.yaml").write_text(
            f"embedded:\n  port: {port}\ndeps:\n  postgres:\n    backend: embedded\n")
        out = run_cli(shipped, "up", "--json")
    assert out.returncode == 11
    assert events(out.stdout)[-1]["error"]["code"] == "PRECHECK_PORT_IN_USE"  # type: ignore[index]
    assert "pid" in out.stderr



def test_recorded_port_held_by_another_process_says_remove_the_port_file(shipped: Path) -> None:
    # the port chosen once and recorded in .workspace/postgres.port, taken meanwhile
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (shipped / ".workspace").mkdir()
        (shipped / ".workspace" / "postgres.port").write_text(f"{port}\n")
        (shipped / "config.yaml").write_text("deps:\n  postgres:\n    backend: embedded\n")
        out = run_cli(shipped, "up")
    assert out.returncode == 11, out.stdout + out.stderr
    remedy = out.stderr.split("Remedy: ", 1)[1]
    port_file = shipped / ".workspace" / "postgres.port"
    assert "set another port in `embedded.port`" in remedy
    assert f"or remove {port_file} (a free port is chosen again)" in remedy

def test_docker_backend_without_an_engine(shipped: Path) -> None:
    (shipped / "config.yaml").write_text("deps:\n  postgres:\n    backend: docker\n"
                                         "  zitadel:\n    backend: skip\n")
    out = run_cli(shipped, "up", "--json",
                  env={"DOCKER_HOST": f"unix://{shipped}/no-docker.sock"})
    assert out.returncode == 14
    assert step_names(out.stdout) == ["config", "backend"]  # nothing started
    assert "PRECHECK_DOCKER_UNAVAILABLE" in out.stderr


def test_bad_config_names_the_field(shipped: Path) -> None:
    (shipped / "config.yaml").write_text("readiness:\n  database_attempts: 0\n")
    out = run_cli(shipped, "up")
    assert out.returncode == 3
    assert "config.yaml line 2: readiness.database_attempts" in out.stderr


@pytest.mark.docker
def test_docker_backend_end_to_end(tmp_path: Path, docker_config: Callable[..., Config]) -> None:
    shutil.copytree(SHIPPED_MIGRATIONS, tmp_path / "migrations")
    config = docker_config().model_copy(update={"deps": DepsConfig(
        postgres=DependencyChoice(backend="docker"), zitadel=DependencyChoice(backend="skip"))})
    out = io.StringIO()
    try:
        result = up(config, Steps(Console(json_mode=True, out=out, err=io.StringIO())))
        assert result.backend == "docker"
        assert query(result.database_url, "SELECT count(*) FROM schema_migrations") == [(3,)]
        assert query(result.database_url, "SELECT extname FROM pg_extension ORDER BY 1") == [
            ("pgcrypto",), ("plpgsql",), ("vector",)]
    finally:
        assert any("postgres" in name for name in down(config))


def test_ctrl_c_after_the_server_started_stops_it(shipped: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between the postmaster starting and `start()` returning: the server this
    run started is stopped."""
    from workspace.deps import embedded_server
    from workspace.deps.embedded import EmbeddedPostgres

    config = Config(project_dir=shipped, embedded=EmbeddedConfig(port=free_port()))

    def interrupted(self: EmbeddedPostgres, port: int) -> None:
        assert self.status().running  # the postmaster is up: Ctrl-C lands now
        raise KeyboardInterrupt

    monkeypatch.setattr(EmbeddedPostgres, "_ensure_database", interrupted)
    with pytest.raises(KeyboardInterrupt):
        up(config, Steps(Console(out=io.StringIO(), err=io.StringIO())))
    assert not embedded_server(config).status().running


def test_a_server_already_running_is_reused_said_so_and_left_running(shipped: Path) -> None:
    """The embedded server was up before this run: the step says it was reused, this run
    does not record it as started, and neither its success nor its failure stops it."""
    from workspace.deps import embedded_server

    config = Config(project_dir=shipped, embedded=EmbeddedConfig(port=free_port()))
    server = embedded_server(config)
    server.start()
    try:
        out = io.StringIO()
        result = up(config, Steps(Console(out=out, err=io.StringIO())))
        assert "PostgreSQL already running, reused (postgresql://" in out.getvalue()
        assert "PostgreSQL started" not in out.getvalue()
        assert result.started == []
        assert stop_started(config, result.started) == []
        write(shipped, "0005_broken.sql", "ALTER TABLE kb.nope ADD COLUMN x int;")
        with pytest.raises(WorkspaceError):  # its teardown stops what it started: nothing
            up(config, Steps(Console(out=io.StringIO(), err=io.StringIO())))
        assert server.status().running
    finally:
        server.stop()


def test_a_failure_to_stop_never_hides_the_error_that_ended_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workspace.deps.embedded import EmbeddedPostgres
    from workspace.deps.ref import EMBEDDED_POSTGRES
    from workspace.errors import AppExited, EmbeddedPostgresError
    from workspace.run.launcher import stop_started

    def broken(self: EmbeddedPostgres) -> bool:
        raise EmbeddedPostgresError("pg_ctl stop failed (exit 1): Permission denied")

    monkeypatch.setattr(EmbeddedPostgres, "stop", broken)
    config = Config(project_dir=tmp_path)
    with pytest.raises(EmbeddedPostgresError):
        stop_started(config, [EMBEDDED_POSTGRES])
    ended = AppExited("server", 1)
    assert stop_started(config, [EMBEDDED_POSTGRES], during=ended) == []
    err = io.StringIO()
    Console(out=io.StringIO(), err=err).error(ended)
    assert err.getvalue().splitlines()[:2] == [
        "PRECHECK_APP_EXITED: app `server` exited (exit code 1); it printed nothing",
        "  Could not stop postgres (embedded) afterwards: PRECHECK_EMBEDDED_POSTGRES_FAILED: "
        "pg_ctl stop failed (exit 1): Permission denied"]


def test_docker_zitadel_first_run_makes_the_oauth_client(
        shipped: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Docker steps from a fresh clone: no client ID configured; Zitadel's
    first boot (a new container, an old PAT on disk) gets its budget, then the project
    and OIDC app are made through its management API (faked: Zitadel cannot run here)
    and the apps get the client ID. The next start finds them again."""
    from tests.deps.zitadel_fixture import FakeCompose, FakeZitadel, zitadel_container
    from workspace.config.models import load_config
    from workspace.deps import docker
    from workspace.run.session import app_env

    pat = "pat-Fw8kP2xQ9mZ4rT7vB1nC6yH3jL5sD0gE"
    (shipped / "docker").mkdir()
    (shipped / "docker" / ".env").write_text("POSTGRES_PASSWORD=unused-here-1\n"
                                             "ZITADEL_MASTERKEY=MasterkeyNeedsToHave32Characters\n")
    (shipped / ".workspace" / "zitadel").mkdir(parents=True)
    (shipped / ".workspace" / "zitadel" / "admin.pat").write_text(pat + "\n")
    before: list[object] = []  # no container yet: compose creates it
    containers = [zitadel_container()]
    real = docker.DockerZitadel
    monkeypatch.setattr(docker, "DockerZitadel", lambda config: real(
        config, project=FakeCompose(config, before=list(before),  # type: ignore[arg-type]
                                    after=containers)))

    def run(zitadel: FakeZitadel) -> tuple[Config, object, dict[str, dict[str, object]]]:
        config = load_config(shipped, environ={"DATABASE_URL": db_url})
        out = io.StringIO()
        result = up(config, Steps(Console(json_mode=True, out=out, err=io.StringIO())))
        found = {str(e["name"]): e for e in events(out.getvalue()) if e["event"] == "step"}
        found.update({f"note:{e['step']}": e for e in events(out.getvalue()) if e["event"] == "note"})
        assert pat not in out.getvalue()
        return config, result, found

    with FakeZitadel(pat=pat) as zitadel:
        (shipped / "config.yaml").write_text(
            "deps:\n  postgres:\n    backend: external\n  zitadel:\n    backend: docker\n"
            f"docker:\n  zitadel_port: {zitadel.port}\n"
            "apps:\n  web:\n    command: python -c pass\n    port: 3005\n")
        config, result, found = run(zitadel)
        assert config.oidc.client_id is None
        (app,) = next(iter(zitadel.apps.values()))
        client_id = app["oidcConfig"]["clientId"]
        assert result.oidc_client_id == client_id  # type: ignore[attr-defined]
        assert app_env(config, result)["OIDC_CLIENT_ID"] == client_id  # type: ignore[arg-type]
        assert found["oauth"]["status"] == "ok"
        assert "created project and app" in str(found["oauth"]["detail"])
        assert "first boot" in str(found["note:zitadel"]["detail"])  # a new container
        assert app["oidcConfig"]["redirectUris"] == ["http://localhost:3005/auth/callback"]

        containers[0] = zitadel_container(created_at=time.time() - 3600)
        before[:] = containers  # the next start finds it: a restart
        config, result, found = run(zitadel)
        assert config.oidc.client_id == client_id  # read from .workspace/zitadel/client.json
        assert result.oidc_client_id == client_id  # type: ignore[attr-defined]
        assert "created" not in str(found["oauth"]["detail"])
        assert "note:zitadel" not in found  # the same container, a PAT younger than it
        assert len(zitadel.projects) == 1 and len(zitadel.apps[zitadel.projects[0]["id"]]) == 1


def test_a_bad_zitadel_masterkey_stops_before_anything_starts(shipped: Path) -> None:
    masterkey = "ShortKey31CharactersLong0123456"
    (shipped / "docker").mkdir()
    (shipped / "docker" / ".env").write_text(f"ZITADEL_MASTERKEY={masterkey}\n")
    (shipped / "config.yaml").write_text("deps:\n  zitadel:\n    backend: docker\n")
    out = run_cli(shipped, "up", "--json")
    assert out.returncode == 28, out.stdout + out.stderr
    assert step_names(out.stdout) == ["config"]
    error = events(out.stdout)[-1]["error"]
    assert error["code"] == "PRECHECK_ZITADEL_MASTERKEY_INVALID"  # type: ignore[index]
    assert "31 characters" in out.stderr and masterkey not in out.stdout + out.stderr


@pytest.mark.parametrize("breakage", ["missing", "bad name", "nul byte"])
def test_a_migrations_problem_stops_before_postgresql_starts(shipped: Path,
                                                              breakage: str) -> None:
    """The files are read with the configuration: a missing directory or a bad file is
    exit 6 at the first step, and no server was started (nothing to tear down)."""
    (shipped / "config.yaml").write_text(f"embedded:\n  port: {free_port()}\n")
    migrations = shipped / "migrations"
    if breakage == "missing":
        shutil.rmtree(migrations)
    elif breakage == "bad name":
        (migrations / "0004 oops.sql").write_text("SELECT 1;\n")
    else:
        (migrations / "0004_nul.sql").write_bytes(b"SELECT 1;\x00\n")
    out = run_cli(shipped, "up", "--json")
    assert out.returncode == 6, out.stdout + out.stderr
    assert step_names(out.stdout) == ["config"]
    assert not (shipped / ".workspace" / "postgres").exists()


def test_up_records_the_identity_the_backend_gives_once_it_is_up(
        project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever backend the registry makes: recorded as started before its start, and with
    the identity it gives (for a later `stop` to recognise it) as soon as it is up."""
    from tests.deps.fake_backend import FakeBackend, register
    from workspace.deps.ref import EMBEDDED_POSTGRES, Instance

    fake = FakeBackend(url=db_url)
    register(monkeypatch, "embedded", fake)
    config = Config(project_dir=project, deps=DepsConfig(
        postgres=DependencyChoice(backend="embedded"), zitadel=DependencyChoice(backend="skip")))
    seen: list[tuple[list[object], list[object]]] = []
    result = up(config, Steps(Console(json_mode=True, out=io.StringIO(), err=io.StringIO())),
                on_started=lambda r: seen.append((list(r.started), list(r.identities))))
    assert seen == [([EMBEDDED_POSTGRES], []),
                    ([EMBEDDED_POSTGRES], [Instance(EMBEDDED_POSTGRES, "instance-1")])]
    assert result.identities == [Instance(EMBEDDED_POSTGRES, "instance-1")]
    assert fake.calls == [("ports", []), "start"]


def test_zitadel_on_auto_runs_where_the_chosen_backend_says(tmp_path: Path) -> None:
    """With deps.zitadel.backend auto and no issuer: Docker when the configured PostgreSQL
    backend is docker, else undecided until the backend is chosen, then whatever that
    backend says (Docker's compose file runs Zitadel too), else skipped."""
    from tests.deps.fake_backend import FakeBackend
    from workspace.config.models import OidcConfig
    from workspace.run.launcher import _zitadel_mode

    config = Config(project_dir=tmp_path)
    assert _zitadel_mode(config, with_postgres=None) == "auto"
    chosen = FakeBackend()
    assert _zitadel_mode(config, with_postgres=chosen.runs_zitadel) == "skip"
    chosen.runs_zitadel = True
    assert _zitadel_mode(config, with_postgres=chosen.runs_zitadel) == "docker"
    issuer = Config(project_dir=tmp_path, oidc=OidcConfig(issuer="https://id.example"))
    assert _zitadel_mode(issuer, with_postgres=True) == "external"
    skip = Config(project_dir=tmp_path, deps=DepsConfig(zitadel=DependencyChoice(backend="skip")))
    assert _zitadel_mode(skip, with_postgres=True) == "skip"
