"""The one error boundary: exit codes for what escapes a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workspace import cli


def _broken_pipe(*_: object, **__: object) -> object:
    raise BrokenPipeError(32, "Broken pipe")  # as a socket or a child's pipe raises it


def test_a_broken_pipe_that_is_not_our_stdout_is_a_bug_not_141(
        project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("workspace.db.runner.read_plan", _broken_pipe)
    code = cli.main(["--project-dir", str(project), "db", "status",
                     "--database-url", "postgresql://app@127.0.0.1:1/app"])
    out, _ = capfd.readouterr()
    assert code == 70 and "BrokenPipeError" in out
    assert "BrokenPipeError" in (project / ".workspace" / "logs" / "crash.log").read_text()


def test_a_closed_stdout_still_ends_quietly_with_141(project: Path, db_url: str) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader went away (`| head -0`) before anything was written
    try:
        done = subprocess.run([sys.executable, "-m", "workspace", "db", "status",
                               "--database-url", db_url], cwd=project, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr


def test_the_helps_exit_codes_name_every_command_that_exits_1() -> None:
    # the README's table: `db status --exit-code`, `status` and `restart` exit 1
    line = next(row for row in cli._exit_code_help().splitlines() if row.strip().startswith("1 "))
    for command in ("`db status --exit-code`", "`status`", "`restart`"):
        assert command in line, command


@pytest.mark.parametrize("command", [["status"], ["db", "status"], ["start"]])
def test_a_project_dir_that_is_not_a_directory_is_exit_3_and_nothing_is_made(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], command: list[str]) -> None:
    # a typo in --project-dir once made that directory, and a database cluster in it
    missing, a_file = tmp_path / "typo", tmp_path / "file"
    a_file.write_text("x\n")
    assert cli.main(["--project-dir", str(missing), *command]) == 3
    assert not missing.exists()
    assert cli.main(["--project-dir", str(a_file), *command]) == 3
    _, err = capfd.readouterr()
    assert f"--project-dir {missing}: no such directory" in err
    assert f"--project-dir {a_file}: not a directory" in err


def test_psql_arguments_without_the_double_dash_are_told_where_they_go(
        capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["db", "psql", "-c", "SELECT 1"])
    assert info.value.code == 2
    _, err = capfd.readouterr()
    assert "unrecognized arguments: -c" in err
    assert "psql's own arguments go after `--`: workspace db psql -- -c 'SELECT 1'" in err


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "--debug"])
def test_debug_shows_the_traceback_and_keeps_the_documented_exit_code(
        project: Path, debug: list[str]) -> None:
    """A config error exits 3 with or without --debug (it re-raised: exit 1); --debug
    adds the traceback, and the message with its code is there either way."""
    (project / "config.yaml").write_text("apps: [\n")  # YAML that does not parse
    done = subprocess.run([sys.executable, "-m", "workspace", *debug, "db", "status"],
                          cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3, done.stderr
    assert "PRECHECK_CONFIG_INVALID" in done.stderr
    assert ("Traceback" in done.stderr) == bool(debug), done.stderr


def test_debug_keeps_exit_70_for_a_bug_and_shows_its_traceback(
        project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("workspace.db.runner.read_plan", _broken_pipe)
    code = cli.main(["--debug", "--project-dir", str(project), "db", "status",
                     "--database-url", "postgresql://app@127.0.0.1:1/app"])
    _, err = capfd.readouterr()
    assert code == 70
    assert "Traceback" in err and "BrokenPipeError" in err


# A Ctrl-C that lands between psycopg sending a query and waiting for its answer leaves
# the connection busy: the rollback of the `with` block that ends then fails, and psycopg
# logs "error ignored in rollback" (no handler configured: Python prints it on stderr).
INTERRUPTED_MID_QUERY = """
import sys
from workspace import cli, signals
from workspace.db.connect import connect

URL = sys.argv[1]

def interrupted_mid_query(args):
    with connect(URL, timeout_s=10) as conn:
        with conn.transaction():
            conn.pgconn.send_query(b"SELECT pg_sleep(5)")  # busy, as the signal left it
            raise signals.Interrupted()

cli._check_project_dir = interrupted_mid_query
sys.argv[1:] = [*sys.argv[2:], "db", "status"]
sys.exit(signals.entry("workspace.cli"))
"""


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "--debug"])
def test_a_ctrl_c_mid_query_shows_only_our_message(
        project: Path, db_url: str, debug: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_MID_QUERY, db_url, *debug],
                          cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr
    if debug:  # psycopg's own warnings are shown with --debug
        assert "error ignored in rollback" in done.stderr
    else:
        assert done.stderr.strip().splitlines() == ["interrupted"], done.stderr
