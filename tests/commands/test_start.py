"""`workspace logs` and `workspace status` as commands (the launcher itself runs in
tests/run/test_start.py, test_detach.py, test_stop.py)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import free_port, run_cli

CONFIG = """\
embedded:
  port: {port}
apps:
  api:
    command: python -m http.server
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG.format(port=free_port()))
    return tmp_path


def test_logs_before_any_start(tmp_path: Path) -> None:
    out = run_cli(project(tmp_path), "logs")
    assert out.returncode == 0 and "No log yet" in out.stdout


def test_logs_tail_and_one_apps_log_with_invalid_utf8(tmp_path: Path) -> None:
    root = project(tmp_path)
    logs = root / ".workspace" / "logs"
    logs.mkdir(parents=True)
    (logs / "workspace.log").write_text("".join(f"12:00:00 api | line {i}\n" for i in range(300)))
    (logs / "api.log").write_bytes(b"caf\xc3\xa9 \xff raw\n")
    assert run_cli(root, "logs").stdout.splitlines()[0] == "12:00:00 api | line 200"  # last 100
    assert len(run_cli(root, "logs", "-n", "all").stdout.splitlines()) == 300
    assert run_cli(root, "logs", "-n", "2").stdout.splitlines() == [
        "12:00:00 api | line 298", "12:00:00 api | line 299"]
    assert run_cli(root, "logs", "api").stdout == "café \ufffd raw\n"


def test_logs_n_0_prints_no_line_as_tail_does(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".workspace" / "logs").mkdir(parents=True)
    (root / ".workspace" / "logs" / "workspace.log").write_text("12:00:00 api | old\n")
    out = run_cli(root, "logs", "-n", "0")
    assert out.returncode == 0 and out.stdout == ""
    assert run_cli(root, "logs", "-n", "0", "--grep", "old").stdout == ""
    bad = run_cli(root, "logs", "-n", "-1")
    assert bad.returncode == 2 and "a whole number of lines" in bad.stderr


def test_logs_follow_ends_when_no_workspace_runs(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".workspace" / "logs").mkdir(parents=True)
    (root / ".workspace" / "logs" / "workspace.log").write_text("done\n")
    began = time.monotonic()
    out = run_cli(root, "logs", "-f", timeout=30)
    assert out.returncode == 0 and out.stdout == "done\n"
    assert time.monotonic() - began < 15  # it checks every ~2 s, not forever


def test_logs_whose_path_is_a_directory_are_named_not_a_crash(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".workspace" / "logs" / "workspace.log").mkdir(parents=True)
    out = run_cli(root, "logs")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "PRECHECK_CONFIG_INVALID" in out.stderr and "workspace.log is a directory" in out.stderr
    assert "Traceback" not in out.stderr


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    out = run_cli(project(tmp_path), "status")
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == "No workspace is running"
    assert any(line.startswith("api") and "stopped" in line for line in out.stdout.splitlines())
