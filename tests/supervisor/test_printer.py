"""Prefixes, padding, colour only on a terminal, markup off, redaction."""

from __future__ import annotations

import io
import re
import time

from workspace.output import redact
from workspace.supervisor.logtime import stamp
from workspace.supervisor.printer import Printer

NOON = time.mktime((2024, 1, 2, 12, 0, 5, 0, 0, -1))


def test_plain_lines_are_prefixed_and_padded_to_the_longest_name() -> None:
    out = io.StringIO()
    printer = Printer(["api", "frontend-admin"], out=out, colour=False)
    printer.line("api", "listening", NOON)
    printer.line("frontend-admin", "ready", NOON)
    assert out.getvalue().splitlines() == ["12:00:05 api            | listening",
                                           "12:00:05 frontend-admin | ready"]


def test_the_supervisors_own_name_counts_for_the_padding() -> None:
    out = io.StringIO()
    printer = Printer(["a"], out=out, colour=False)
    printer.line("a", "x", NOON)
    printer.system("stopping")
    first, second = out.getvalue().splitlines()
    assert first == "12:00:05 a         | x" and second.endswith(" workspace | stopping")


def test_colour_on_a_terminal_keeps_brackets_and_the_text_itself_plain() -> None:
    out = io.StringIO()
    printer = Printer(["api", "web"], out=out, colour=True)
    printer.line("api", "[bold]not markup[/bold] :smile:", NOON)
    printer.line("web", "x", NOON)
    text = out.getvalue()
    assert "[bold]not markup[/bold] :smile:" in text
    assert "\x1b[36m12:00:05 api" in text and "\x1b[33m12:00:05 web" in text  # one colour each


def test_no_escape_codes_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    Printer(["api"], out=out).line("api", "hello", NOON)
    assert "\x1b" not in out.getvalue()


def test_child_output_is_redacted() -> None:
    redact.register("s3cr3t-token")
    out = io.StringIO()
    Printer(["api"], out=out, colour=False).line(
        "api", "token=s3cr3t-token url=postgresql://app:pw123@db/x", NOON)
    assert "s3cr3t" not in out.getvalue() and "pw123" not in out.getvalue()


class HungUp(io.StringIO):
    """A terminal after SIGHUP: every write fails with EIO."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_a_terminal_that_hung_up_does_not_stop_the_log() -> None:
    log = io.StringIO()
    printer = Printer(["api"], out=HungUp(), colour=False, log=log)
    printer.line("api", "one", NOON)  # does not raise: stopping must go on
    printer.system("stopping apps")
    first, second = log.getvalue().splitlines()
    assert second.endswith("workspace | stopping apps")
    # the log has the date too (logs --since), the terminal keeps HH:MM:SS
    assert first == f"{stamp(NOON)} api       | one" and first.startswith("20")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]", second)
