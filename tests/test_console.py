from __future__ import annotations

import io
import json

from workspace import redact
from workspace.console import Console
from workspace.errors import MigrationError


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
