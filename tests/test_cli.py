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
