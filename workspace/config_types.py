"""Field types shared by the config models (config.py, apps_config.py): bounded
durations, and HTTP URLs checked for form (`workspace.urls`).

Every duration is a finite number of seconds, at most a day: an infinite or huge value
would overflow where it is used (`int(s * 1000)` for PostgreSQL's timeouts, which stop at
about 24 days; `time.sleep`, thread waits), so it is refused where it is written.

    class MigrationsConfig(BaseModel):
        lock_wait_s: Seconds = Field(default=60.0, gt=0)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from workspace import urls
from workspace.waits import MAX_DURATION_S  # one day

__all__ = ["MAX_ATTEMPTS", "MAX_DURATION_S", "HostName", "HttpUrl", "Seconds"]

MAX_ATTEMPTS = 1_000  # retries, restarts, lines kept: enough for anything sane


def _bounded(value: float) -> float:
    if not value <= MAX_DURATION_S:  # also refuses inf (NaN fails the fields' gt/ge first)
        raise ValueError(f"must be a finite number of seconds, at most {MAX_DURATION_S:g} "
                         "(one day)")
    return value


Seconds = Annotated[float, AfterValidator(_bounded)]


def _http_url(value: str) -> str:
    problem = urls.http_url_problem(value) if value else None  # "" stays "not configured"
    if problem:
        raise ValueError(problem)
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _host_name(value: str) -> str:
    problem = urls.host_problem(value) if value else "empty"
    if problem:
        raise ValueError(problem)
    return value


HostName = Annotated[str, AfterValidator(_host_name)]
