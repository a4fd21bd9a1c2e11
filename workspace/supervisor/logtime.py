"""Timestamps of the log files, and `workspace logs --since/--grep` over them.

    stamp(time.time())                  # "2026-11-26T14:02:07.123+01:00"
    since = parse_since("10m")          # a POSIX time: ten minutes ago
    for line in select(lines, since=since, grep=re.compile("ERROR")): ...

Every line of an app's log and of workspace.log starts with its stamp (ISO 8601, local
time with its offset, milliseconds) and a space; the terminal keeps its short HH:MM:SS.
A line without a stamp (a long line's continuation, a log from an older workspace)
follows the decision made for the line before it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

__all__ = ["parse_since", "select", "stamp"]

_STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?) ")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when).astimezone().isoformat(timespec="milliseconds")


def parse_since(text: str, now: float | None = None) -> float:
    """`10m`, `90s`, `2h`, `1d` ago, or an ISO date/time (local time unless it has an
    offset); ValueError otherwise."""
    duration = _DURATION.match(text.strip())
    if duration:
        return (time.time() if now is None else now) - float(duration[1]) * _UNIT_S[duration[2]]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (10m, 90s, 2h, 1d) nor an ISO "
                         "date/time (2026-11-26T14:00)") from None
    return moment.timestamp()  # naive: local time, as the stamps show it


def _when(line: bytes) -> float | None:
    found = _STAMP.match(line)
    if found is None:
        return None
    try:
        return datetime.fromisoformat(found[1].decode()).timestamp()
    except ValueError:
        return None


def select(lines: Iterable[bytes], *, since: float | None = None,
           grep: re.Pattern[str] | None = None) -> Iterator[bytes]:
    """The lines stamped at or after `since` (and their unstamped continuations) that
    match `grep` (searched in the line decoded with errors replaced)."""
    recent = since is None
    for line in lines:
        if since is not None:
            when = _when(line)
            if when is not None:
                recent = when >= since
        if recent and (grep is None or grep.search(line.decode("utf-8", "replace"))):
            yield line
