"""Log time stamps and `--since` / `--grep` selection."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from workspace.supervisor.logtime import parse_since, select, stamp

NOW = datetime(2026, 11, 26, 14, 0, 0).astimezone().timestamp()


def test_durations_and_iso_times_are_understood() -> None:
    assert parse_since("10m", now=NOW) == NOW - 600
    assert parse_since("2h", now=NOW) == NOW - 7200
    assert parse_since("1.5d", now=NOW) == NOW - 1.5 * 86400
    assert parse_since("2026-11-26T13:00", now=NOW) == NOW - 3600  # local, as stamps show
    assert parse_since("2026-11-26T13:00:00+00:00") == datetime.fromisoformat(
        "2026-11-26T13:00:00+00:00").timestamp()
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday")


def test_lines_since_a_moment_keep_their_unstamped_continuations() -> None:
    lines = [f"{stamp(NOW - 900)} old\n".encode(), b"old continued\n",
             f"{stamp(NOW - 60)} new ERROR x\n".encode(), b"new continued\n",
             f"{stamp(NOW)} newest\n".encode()]
    assert list(select(lines, since=NOW - 600)) == lines[2:]
    assert list(select(lines, grep=re.compile("ERROR|continued"))) == [lines[1], lines[2],
                                                                        lines[3]]
    assert list(select(lines, since=NOW - 600, grep=re.compile("continued"))) == [lines[3]]
