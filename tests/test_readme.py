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


def _commands(parser: object, path: tuple[str, ...] = ()) -> dict[str, list[list[str]]]:
    """Each command's words (`db status`) with its long options, from the parser itself."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    found: dict[str, list[list[str]]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if name == "server":  # one row: `db server start|stop|status|upgrade`
                    found[" ".join((*path, name))] = _options(child)
                else:
                    found.update(_commands(child, (*path, name)))
    if path and not found:
        found[" ".join(path)] = _options(parser)
    return found


def _options(parser: object) -> list[list[str]]:
    """Each option's spellings (`-f`, `--follow`): the README may show either."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    return [list(a.option_strings) for a in parser._actions if a.option_strings
            and not {"--help", "--database-url"} & set(a.option_strings)]


def test_the_commands_table_lists_every_command_with_its_options_and_no_other() -> None:
    from workspace.cli import build_parser

    rows = re.findall(r"^\| `workspace ([^`]*)` \|", README.read_text(), re.M)
    table = {re.split(r" (?=\[|[A-Z]|start\\\|)", row, maxsplit=1)[0]: row for row in rows}
    commands = _commands(build_parser())
    assert sorted(table) == sorted(commands)
    for command, options in commands.items():
        for spellings in options:
            assert any(re.search(rf"\[{s}\b", table[command]) for s in spellings), \
                f"README: `workspace {command}` lacks {spellings[-1]}"


def test_the_global_options_line_lists_every_global_option() -> None:
    from workspace.cli import build_parser

    line = next(line for line in README.read_text().splitlines()
                if line.startswith("Global options:"))
    for spellings in _options(build_parser()):
        assert any(f"`{s}" in line for s in spellings), spellings
