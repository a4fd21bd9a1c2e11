"""The README's set-up commands work on Debian's stock Python: no `python` command, and
no pip outside a virtual environment."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
VENV_STEP = "python3 -m venv .venv && . .venv/bin/activate"


def setup_commands() -> list[str]:
    section = README.read_text().split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```sh\n(.*?)```", section, re.S)
            for line in block.splitlines() if line.strip()]


def test_the_venv_step_comes_before_any_python_or_pip() -> None:
    commands = setup_commands()
    assert commands[0] == VENV_STEP
    assert commands[1] == "python -m pip install -e . && python -m workspace start"
    assert not any(re.search(r"(^|&& )(python|pip) ", c) for c in commands[:1])


def test_the_venv_step_gives_python_and_pip_on_debians_python(tmp_path: Path) -> None:
    system = Path("/usr/bin/python3")
    if not system.exists():  # pragma: no cover - every Debian has it
        pytest.fail("no /usr/bin/python3 to check the README's first command with")
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # Debian: no `python` on it
    out = subprocess.run(["sh", "-c", f"{VENV_STEP} && command -v python && "
                          "python -m pip --version"], cwd=tmp_path, env=bare,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == str(tmp_path / ".venv" / "bin" / "python")
