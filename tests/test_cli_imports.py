"""What the command imports: start-up is most of a short command's time, so each module
loads only when the chosen command needs it. Deterministic guards (which modules are in
`sys.modules` when the command ends), not timings; the timings are in
benchmarks/bench_migrate.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from workspace.deps.embedded import EmbeddedPostgres

# Runs the real entry point (__main__.main, as the console script does), then writes the
# names of the modules loaded to the file named by argv[1].
PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["workspace", *sys.argv[2:]]
from workspace.__main__ import main
try:
    code = main()
except SystemExit as exc:  # --help, --version
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""

# Never needed by the commands below: the terminal's colours (rich: only on a terminal),
# the SQL parser (only for files about to be applied), HTTP probes, the Docker SDK.
NEVER = ("rich", "pglast", "httpx", "docker")
# Not needed to print help or the version: configuration, the database driver.
HEAVY = ("pydantic", "psycopg", "yaml", "workspace.config.models", "workspace.db")


def loaded(project: Path, *args: str) -> tuple[int, set[str], str]:
    out = project / "modules.json"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR")}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=120)
    assert out.exists(), proc.stderr
    data = json.loads(out.read_text())
    return data["code"], set(data["modules"]), proc.stdout + proc.stderr


def top_level(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


def test_help_and_version_load_neither_config_nor_database_driver(project: Path) -> None:
    for args in (["--version"], ["--help"], ["db", "--help"], ["db", "migrate", "--help"],
                 ["start", "--help"]):
        code, modules, output = loaded(project, *args)
        assert code == 0, output
        assert top_level(modules, NEVER + HEAVY) == set(), args


def test_noop_migrate_loads_no_sql_parser_terminal_http_or_docker(
        project: Path, db_url: str) -> None:
    (project / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n")
    first = run_cli(project, "db", "migrate", "--database-url", db_url)
    assert first.returncode == 0, first.stderr
    code, modules, output = loaded(project, "db", "migrate", "--database-url", db_url)
    assert code == 0, output
    assert "All migrations up to date" in output
    assert top_level(modules, NEVER) == set()
    # a URL is given: no backend to start; difflib only suggests names for config mistakes
    assert top_level(modules, ("workspace.deps.embedded", "workspace.deps.docker",
                               "difflib")) == set()


def test_noop_migrate_loads_no_statement_splitter_nor_parse_cache(
        project: Path, db_url: str) -> None:
    """Every file is loaded at every start, only pending ones are split: the directive
    line and the text checks are `sqltext`'s, so nothing of the splitter loads."""
    (project / "migrations" / "0001_init.sql").write_text(
        "-- workspace: lock_timeout=5s\nCREATE TABLE t (id int PRIMARY KEY);\n")
    code, modules, output = loaded(project, "db", "migrate", "--database-url", db_url)
    assert code == 0, output
    assert "workspace.db.sqlparse" in modules  # applying splits: the guard below can fail
    code, modules, output = loaded(project, "db", "migrate", "--database-url", db_url)
    assert code == 0, output
    assert "All migrations up to date" in output
    assert top_level(modules, ("workspace.db.sqlparse", "workspace.db.parse_cache")) == set()


def test_full_apply_loads_the_sql_parser_only(project: Path, db_url: str) -> None:
    (project / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n")
    code, modules, output = loaded(project, "db", "migrate", "--database-url", db_url)
    assert code == 0, output
    assert "Applied: 0001_init.sql" in output
    assert "pglast" in modules  # the guard above would notice a parser that never loads
    assert top_level(modules, ("rich", "httpx", "docker")) == set()


# A project with a config file: its YAML is read on a miss only (config/cache.py).
LIGHT_CONFIG = ("migrations:\n  lock_wait_s: 30\nprecheck:\n  critical_tables: {}\n"
                "  critical_functions: []\n  required_extensions: []\n")
MODELS = ("pydantic", "pydantic_core", "yaml", "workspace.config.models", "workspace.config.apps")


def test_warm_noop_migrate_and_validate_load_neither_pydantic_nor_yaml(
        project: Path, db_url: str) -> None:
    (project / "config.yaml").write_text(LIGHT_CONFIG)
    (project / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n")
    code, modules, output = loaded(project, "db", "migrate", "--database-url", db_url)
    assert code == 0, output
    assert "pydantic" in modules  # the first run validates the configuration
    for command in (["db", "migrate"], ["db", "validate"]):
        code, modules, output = loaded(project, *command, "--database-url", db_url)
        assert code == 0, output
        assert top_level(modules, MODELS) == set(), command
    assert "All migrations up to date" in loaded(project, "db", "migrate", "--database-url",
                                                 db_url)[2]


def test_warm_status_loads_no_pydantic(project: Path) -> None:
    (project / "config.yaml").write_text(LIGHT_CONFIG)
    loaded(project, "status")
    code, modules, output = loaded(project, "status")
    assert code == 1, output  # no workspace running
    assert "No workspace is running" in output
    assert top_level(modules, MODELS) == set()


def test_warm_validate_on_the_running_embedded_server_loads_no_pydantic(
        project: Path, db_url: str, pg_server: EmbeddedPostgres) -> None:
    """No URL given: the database is the project's embedded server, already running (as
    after `workspace db server start`). Finding it needs neither the models nor psutil,
    and the expected schema comes from the cache (no scratch database)."""
    database = db_url.rsplit("/", 1)[1]
    (project / "config.yaml").write_text(
        LIGHT_CONFIG + f"embedded:\n  data_dir: {pg_server.data_dir}\n"
        f"  port: {pg_server.port}\n  database: {database}\n"
        "deps:\n  postgres:\n    backend: embedded\n")
    (project / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n")
    for command in ("migrate", "validate"):  # fills the configuration and schema caches
        first = run_cli(project, "db", command)
        assert first.returncode == 0, first.stdout + first.stderr
    code, modules, output = loaded(project, "db", "validate")
    assert code == 0, output
    assert "VALIDATION PASSED" in output
    assert "expected schema from cache" in output
    assert top_level(modules, MODELS + NEVER + ("psutil",)) == set()
    # the scratch database and the extension fetcher are for a cache miss, a first start
    assert top_level(modules, ("workspace.db.scratch", "uuid", "tarfile")) == set()
