"""`workspace init [DIR]` as a new user runs it: an empty directory, an existing project,
a database with another tool's history, a bad directory; and the whole way from an empty
directory to a running workspace with no edits."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import psutil
import yaml

from tests.conftest import free_port, query, run_cli
from tests.stack import assert_nothing_left

APP = '''"""A small app of its own: reads its table, then answers HTTP on the port given."""
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg

with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    count = conn.execute("SELECT count(*) FROM todos").fetchone()[0]


class Todos(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"%d todos" % count)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Todos)
print(f"todos app up with {count} todos", flush=True)
server.serve_forever()
'''


def test_an_empty_directory_to_a_running_workspace_with_no_edits(outside_tmp: Path) -> None:
    root = outside_tmp / "todo"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "0001_todos.sql").write_text(
        "CREATE TABLE IF NOT EXISTS todos (id bigint PRIMARY KEY, title text NOT NULL);\n")
    (root / "app.py").write_text(APP)
    port = free_port()
    (root / "Procfile").write_text(f"web: python3 app.py {port}\n")

    out = run_cli(root, "init")
    assert out.returncode == 0, out.stdout + out.stderr
    config = yaml.safe_load((root / "config.yaml").read_text())
    assert config["apps"]["web"]["command"] == ["sh", "-c", f"python3 app.py {port}"]
    assert (root / "docker" / "docker-compose.yml").is_file()
    assert (root / "docker" / ".env.example").is_file()
    assert ".workspace/" in (root / ".gitignore").read_text().splitlines()

    sub = root / "src" / "deep"
    sub.mkdir(parents=True)
    try:
        started = run_cli(root, "start", "--detach", timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Migrations applied (1 applied)" in started.stdout
        assert "web ready" in started.stdout
        assert re.search(r"Workspace page: http://127\.0\.0\.1:\d+/#key=\S{20,}", started.stdout)

        status = run_cli(sub, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["running"] and report["validation"] == {"valid": True, "warnings": []}
        web = report["apps"][0]
        assert web["name"] == "web" and web["state"] == "ready" and psutil.pid_exists(web["pid"])
        assert "todos app up with 0 todos" in run_cli(sub, "logs", "web").stdout

        again = run_cli(sub, "start")
        assert again.returncode == 23, again.stdout + again.stderr
        assert not (sub / ".workspace").exists()

        stopped = run_cli(sub, "stop")
        assert stopped.returncode == 0 and "Workspace stopped" in stopped.stdout, stopped.stderr
        assert_nothing_left(root)
        assert run_cli(sub, "status").returncode == 1
    finally:
        run_cli(root, "stop", timeout=60)
        run_cli(root, "down", timeout=60)


def test_running_init_again_changes_nothing_and_says_what_it_kept(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "init").returncode == 0
    (tmp_path / "config.yaml").write_text("# mine\nmigrations:\n  dir: migrations\n")
    (tmp_path / "docker" / "init.sql").write_text("-- mine\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    out = run_cli(tmp_path, "init", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["written"] == []
    assert {"config.yaml", "docker/init.sql", ".gitignore"} <= set(report["kept"])
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    human = run_cli(tmp_path, "init")
    assert "Kept (yours, not changed): config.yaml" in human.stdout



def test_init_in_a_subdirectory_of_a_project_makes_that_directory_a_project(
        tmp_path: Path) -> None:
    # init works where it is told (DIR): the enclosing project's files are never written,
    # only named; without DIR it refuses, as a nested project would split src/ off
    assert run_cli(tmp_path, "init").returncode == 0
    (tmp_path / ".gitignore").unlink()  # something the enclosing project lacks
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    refused = run_cli(sub, "init")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = refused.stdout + refused.stderr
    assert f"inside the project {tmp_path.resolve()}" in said and "`workspace init .`" in said
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    out = run_cli(sub, "init", ".", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["project_dir"] == str(sub.resolve()) and "config.yaml" in report["written"]
    assert report["enclosing_project"] == str(tmp_path.resolve())
    assert (sub / "config.yaml").is_file() and (sub / ".gitignore").is_file()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*")
            if p.is_file() and sub not in p.parents} == before
    other = tmp_path / "other"
    other.mkdir()
    human = run_cli(other, "init", ".")
    assert human.returncode == 0 and (other / "config.yaml").is_file()
    assert f"inside the project {tmp_path.resolve()}" in human.stdout


def test_an_existing_project_keeps_its_directory_and_gitignore(tmp_path: Path,
                                                               db_url: str) -> None:
    (tmp_path / "db" / "migrations").mkdir(parents=True)
    (tmp_path / "db" / "migrations" / "0001_a.sql").write_text("CREATE TABLE IF NOT EXISTS a (i int);\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n/.workspace")  # no final newline
    target = tmp_path / "given"  # DIR given, the command run from elsewhere
    out = run_cli(tmp_path, "init", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert not target.exists() and not (tmp_path / "migrations").exists()
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["migrations"]["dir"] == \
        "db/migrations"
    assert (tmp_path / ".gitignore").read_text().splitlines()[:2] == ["node_modules/", "/.workspace"]
    assert "docker/.env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert ".workspace/" not in (tmp_path / ".gitignore").read_text().splitlines()  # had it
    migrated = run_cli(tmp_path, "db", "migrate", "--database-url", db_url)
    assert migrated.returncode == 0, migrated.stderr
    assert query(db_url, "SELECT count(*) FROM a") == [(0,)]


def test_a_new_directory_is_made(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "init", "new/project")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "new" / "project" / "migrations").is_dir()
    assert "project_name: project" in (tmp_path / "new" / "project" / "config.yaml").read_text()


def test_a_file_or_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    out = run_cli(tmp_path, "init", "notes.txt")
    assert out.returncode == 3 and "notes.txt is not a directory" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    unwritable = "/sys/kernel" if sys.platform == "linux" else "/"  # even root cannot write
    out = run_cli(tmp_path, "init", unwritable)
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"{unwritable}: cannot write there" in out.stderr and "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


HISTORIES = {
    "dbmate's (or Rails')": "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);"
                            "INSERT INTO schema_migrations VALUES ('20240101120000'), ('20240102120000')",
    "golang-migrate's": "CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean "
                        "NOT NULL); INSERT INTO schema_migrations VALUES (2, false)",
    "the guide's original runner's": "CREATE TABLE schema_migrations (version text, filename "
                                     "text, applied_at timestamptz); INSERT INTO "
                                     "schema_migrations VALUES ('0001', '0001_a.sql', now())",
    "Flyway's": "CREATE TABLE flyway_schema_history (installed_rank int, version text, "
                "script text, checksum int, installed_on timestamp, success boolean); "
                "INSERT INTO flyway_schema_history VALUES (1, '1', 'V1__a.sql', 0, now(), true)",
}


def test_a_database_with_another_tools_history_gets_the_adoption_command(
        tmp_path: Path, db_url: str) -> None:
    for owner, ddl in HISTORIES.items():
        query(db_url, "DROP TABLE IF EXISTS schema_migrations, flyway_schema_history")
        query(db_url, ddl)
        out = run_cli(tmp_path, "init", env={"DATABASE_URL": db_url})
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{owner} migration history: public." in out.stdout, (owner, out.stdout)
        assert "workspace db adopt" in out.stdout
        assert db_url.split("@")[0].split(":")[-1] not in out.stdout  # the password masked


def test_init_proposes_adopt_only_for_a_history_adopt_reads(tmp_path: Path,
                                                              db_url: str) -> None:
    """init and `db adopt` recognise other tools' tables from one list (db/histories.py):
    a Flyway table without the columns adopt reads is no history to adopt."""
    import psycopg

    from workspace.db.adopt import find_foreign

    query(db_url, "CREATE TABLE flyway_schema_history (installed_rank int, version text, "
                  "script text, success boolean)")
    out = json.loads(run_cli(tmp_path, "init", "--json", env={"DATABASE_URL": db_url}).stdout)
    with psycopg.connect(db_url) as conn:
        assert find_foreign(conn) == []
    assert out["database"]["tracking"] == []
    assert out["database"]["proposal"] is None  # nothing to adopt, no other table


def test_a_database_of_ours_or_without_history(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_a.sql").write_text("CREATE TABLE IF NOT EXISTS a (i int);\n")
    assert run_cli(tmp_path, "db", "migrate", "--database-url", db_url).returncode == 0
    out = json.loads(run_cli(tmp_path, "init", "--json", env={"DATABASE_URL": db_url}).stdout)
    assert out["database"]["tracking"] == [{"owner": "workspace's own", "rows": 1, "ours": True,
                                            "table": "public.schema_migrations"}]
    assert out["database"]["proposal"] is None
    query(db_url, "DROP TABLE schema_migrations")
    out = json.loads(run_cli(tmp_path, "init", "--json", env={"DATABASE_URL": db_url}).stdout)
    assert out["database"]["tables"] == 1 and out["database"]["proposal"] == \
        "workspace db baseline VERSION"
    unreachable = "postgresql://app:hunter2-secret@127.0.0.1:9/app"
    out = run_cli(tmp_path, "init", env={"DATABASE_URL": unreachable})
    assert out.returncode == 0 and "could not look at it" in out.stderr, out.stdout
    assert "hunter2-secret" not in out.stdout + out.stderr


def test_a_path_taken_by_something_else_is_named_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "docker").write_text("not a directory\n")  # where the Docker files go
    (tmp_path / ".gitignore").mkdir()
    out = run_cli(tmp_path, "init")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "docker" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "docker").unlink()
    again = run_cli(tmp_path, "init")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / "docker" / "docker-compose.yml").is_file()
    assert "config.yaml" in again.stdout and ".gitignore" in again.stdout  # kept: theirs


def test_a_project_with_its_own_workspace_package_starts_detached(outside_tmp: Path) -> None:
    """The detached supervisor and the watchdog run as `python -m workspace...` in the
    project: a `workspace/` package of the project must not stand in for ours."""
    root = outside_tmp / "shadow"
    (root / "workspace").mkdir(parents=True)
    (root / "workspace" / "__init__.py").write_text("raise SystemExit('the project’s own')\n")
    (root / "migrations").mkdir()
    (root / "migrations" / "0001_t.sql").write_text("CREATE TABLE IF NOT EXISTS t (id int);\n")
    (root / "config.yaml").write_text(
        "apps:\n  web:\n    command: python3 -c \"print('web up', flush=True); "
        "import time; time.sleep(60)\"\n    ready: {log: web up}\n")
    try:
        started = run_cli(root, "start", "--detach", timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "web ready" in started.stdout
        stopped = run_cli(root, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert_nothing_left(root)
    finally:
        run_cli(root, "stop", timeout=60)
        run_cli(root, "down", timeout=60)
