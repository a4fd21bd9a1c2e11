from __future__ import annotations

import io
import json

from workspace.errors import MigrationError
from workspace.output import redact
from workspace.output.console import Console


def test_plain_output_has_no_symbols_or_escape_codes() -> None:
    out = io.StringIO()
    Console(out=out, err=out, colour=False).ok("VALIDATION PASSED")
    assert out.getvalue() == "VALIDATION PASSED\n"


def test_terminal_output_has_symbols_and_colour() -> None:
    out = io.StringIO()
    Console(out=out, err=out, colour=True).ok("VALIDATION PASSED")
    assert "✓ VALIDATION PASSED" in out.getvalue() and "\x1b[" in out.getvalue()


def test_json_mode_keeps_human_text_off_stdout_and_masks_secrets() -> None:
    out, err = io.StringIO(), io.StringIO()
    redact.register("pw-in-message-42")
    console = Console(json_mode=True, out=out, err=err, colour=False)
    console.line("progress")
    console.error(MigrationError("failed with pw-in-message-42"))
    doc = json.loads(out.getvalue())
    assert doc["error"]["code"] == "PRECHECK_MIGRATIONS_FAILED"
    assert "pw-in-message-42" not in out.getvalue() + err.getvalue()
    assert "progress" in err.getvalue()


def test_a_terminal_that_hung_up_is_not_an_error() -> None:
    """After SIGHUP a terminal's writes fail with EIO: the command goes on (it is
    stopping what it started) and says nothing more."""
    import errno

    class HungUp(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    console = Console(out=HungUp(), err=HungUp())
    console.ok("PostgreSQL started")  # does not raise
    console.fail("validation: FAILED")


def test_markup_and_emoji_codes_in_an_error_print_as_they_are() -> None:
    """Text we print (an error naming a file, a value a user typed) is never read as rich
    markup or emoji codes, on a terminal either: both rich consoles come from one factory."""
    import re

    from workspace.supervisor.printer import Printer

    text = "config.yaml line 3: apps.api.name: ':smile:' [bold]x[/bold] is not allowed"
    out = io.StringIO()
    Console(out=out, err=out, colour=True).error(MigrationError(text))
    Printer(["api"], out=out, colour=True).line("api", text)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert plain.count(text) == 2, plain
    assert "😄" not in plain
