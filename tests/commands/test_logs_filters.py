"""`workspace logs --since` and `--grep` on real log files, as written by the launcher."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import run_cli
from workspace.supervisor.logtime import stamp


def test_since_and_grep_select_the_lines_of_the_combined_and_an_apps_log(
        tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("apps:\n  api:\n    command: x\n")
    logs = tmp_path / ".workspace" / "logs"
    logs.mkdir(parents=True)
    now = time.time()
    (logs / "workspace.log").write_text(
        f"{stamp(now - 3600)} api       | GET /old 200\n"
        f"{stamp(now - 120)} api       | GET /new 500\n"
        f"{stamp(now - 60)} workspace | api ready\n")
    (logs / "api.log").write_text(f"{stamp(now - 3600)} boot\n{stamp(now - 5)} ERROR late\n")
    recent = run_cli(tmp_path, "logs", "--since", "10m")
    assert recent.returncode == 0
    assert [ln.split(" ", 1)[1] for ln in recent.stdout.splitlines()] == [
        "api       | GET /new 500", "workspace | api ready"]
    grep = run_cli(tmp_path, "logs", "--grep", r"GET /\w+ 200")
    assert grep.stdout.endswith("api       | GET /old 200\n") and grep.stdout.count("\n") == 1
    own = run_cli(tmp_path, "logs", "api", "--since", "1m", "--grep", "ERROR")
    assert own.stdout.endswith(" ERROR late\n") and own.stdout.count("\n") == 1


def test_a_bad_since_or_pattern_is_a_usage_error(tmp_path: Path) -> None:
    bad = run_cli(tmp_path, "logs", "--since", "soon")
    assert bad.returncode == 2 and "neither a duration" in bad.stderr
    bad = run_cli(tmp_path, "logs", "--grep", "(")
    assert bad.returncode == 2 and "invalid regular expression" in bad.stderr
