"""Readiness: probes, and the bounded readiness wait every dependency goes through.

A probe is a callable returning None when the thing is ready, else the reason it is not
("connection refused", "57P03 the database system is starting up", "HTTP 503"). A probe
may also raise a `WorkspaceError` for a problem that waiting cannot fix (the OIDC issuer
mismatch; a wrong password, a missing database, a malformed URL; a crash its server's log
explains): that ends the wait at once.

`wait_until_ready` polls the probe every `poll_s` within a budget of `attempts x
interval_s` (the guide's database 5 x 5 s, Zitadel 6 x 5 s) on waits.polling (the one
bounded wait loop, with an injectable clock), so readiness is noticed within a poll of
happening, while progress is reported once per interval in the guide's words
(`Zitadel not ready, waiting 5s (attempt 1/6)...`). An optional fail-fast check runs
before every poll and raises `DependencyExited` when the thing died (mirakuru's
`check_subprocess()`), instead of waiting out the budget. On timeout it raises the
caller's `ReadinessTimeout` subclass with the attempts, elapsed time and last reason.

    ready = wait_for_database(url, config.readiness, ["vector"], alive=backend.check_alive,
                              progress=lambda p: print(p))
    ready.elapsed_s        # time to ready, for the launcher's benchmark
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from workspace.db.connect import connect, not_up_yet
from workspace.errors import (
    DatabaseNotUp,
    DatabaseUnreachable,
    WorkspaceError,
    ZitadelUnreachable,
)
from workspace.output import redact
from workspace.waits import polling

if TYPE_CHECKING:
    import httpx  # imported by deps/oidc.py, only when Zitadel is waited for

    from workspace.config.models import ReadinessConfig

__all__ = ["DatabaseNotReady", "FailFast", "Probe", "Progress", "Ready", "ReadinessTimeout",
           "ZitadelNotReady", "database_probe", "tcp_probe", "wait_for_database", "wait_for_zitadel",
           "wait_until_ready", "zitadel_budget"]

Probe = Callable[[], str | None]
FailFast = Callable[[], None]  # returns, or raises DependencyExited


@dataclass(frozen=True)
class Progress:
    """One "not ready yet" report, sent once per interval. `str()` gives the guide's line;
    the console adds the symbol (⏳) on a terminal.

        Progress("Zitadel", 1, 6, 5.0, "HTTP 503", 0.01)
        # -> Zitadel not ready, waiting 5s (attempt 1/6)...
    """

    what: str
    attempt: int
    attempts: int
    interval_s: float
    reason: str
    elapsed_s: float

    def __str__(self) -> str:
        return (f"{self.what} not ready, waiting {self.interval_s:g}s "
                f"(attempt {self.attempt}/{self.attempts})...")


ProgressCallback = Callable[[Progress], object]


@dataclass(frozen=True)
class Ready:
    """When a wait ended well. `started_at`/`ready_at` are the wait's clock values
    (`time.monotonic()`); `elapsed_s` is the time to ready, `polls` the probes run,
    `attempt` the interval (1-based) in which it became ready."""

    what: str
    elapsed_s: float
    polls: int
    attempt: int
    started_at: float
    ready_at: float


class ReadinessTimeout(WorkspaceError):
    """The budget ran out; the subclass gives the code (DatabaseNotReady, ZitadelNotReady).

        try:
            wait_until_ready("Zitadel", probe, attempts=6, interval_s=5, poll_s=0.2,
                             error=ZitadelNotReady)
        except ReadinessTimeout as exc:
            exc.code, exc.attempts, exc.elapsed_s, exc.last_reason
    """

    def __init__(self, what: str, *, attempts: int, interval_s: float, elapsed_s: float,
                 polls: int, last_reason: str) -> None:
        super().__init__(redact.redact(
            f"{what} not ready after {attempts} attempt{'s' if attempts != 1 else ''} x "
            f"{interval_s:g}s ({elapsed_s:.1f}s, {polls} probes); last reason: {last_reason}"))
        self.what = what
        self.attempts = attempts
        self.interval_s = interval_s
        self.elapsed_s = elapsed_s
        self.polls = polls
        self.last_reason = redact.redact(last_reason)


class DatabaseNotReady(ReadinessTimeout, DatabaseUnreachable):
    """PRECHECK_DATABASE_UNREACHABLE, after the database's budget."""


class ZitadelNotReady(ReadinessTimeout, ZitadelUnreachable):
    """PRECHECK_ZITADEL_UNREACHABLE, after Zitadel's (or the first boot's) budget."""


def wait_until_ready(what: str, probe: Probe, *, attempts: int, interval_s: float,
                     poll_s: float, error: type[ReadinessTimeout],
                     alive: FailFast | None = None, progress: ProgressCallback | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], object] = time.sleep) -> Ready:
    """Poll `probe` every `poll_s` until it returns None, for at most `attempts x
    interval_s`: the last probe runs at the deadline, or ends the wait when it ran past it,
    so the bound is the budget plus one probe's own timeout. `alive` runs before every
    probe; whatever it or the probe raises ends the wait at once. `clock` and `sleep` are
    waits.polling's (a fake clock in tests)."""
    budget_s = attempts * interval_s
    started = ended = clock()
    reported = polls = 0
    reason = "?"
    for left_s in polling(budget_s, interval_s=min(poll_s, interval_s), clock=clock,
                          sleep=sleep):
        if left_s <= 0 and polls and ended - started >= budget_s:
            break  # the previous probe ran past the deadline: that was the last one
        polls += 1
        if alive is not None:
            alive()
        found = probe()
        ended = clock()
        elapsed = ended - started
        current = min(attempts, int(elapsed // interval_s) + 1)
        if found is None:
            return Ready(what, elapsed, polls, current, started, ended)
        reason = found
        if progress is not None and left_s > 0 and current > reported:
            reported = current  # once per interval, while another probe follows
            progress(Progress(what, current, attempts, interval_s, reason, elapsed))
    raise error(what, attempts=attempts, interval_s=interval_s, elapsed_s=clock() - started,
                polls=polls, last_reason=reason)


def tcp_probe(host: str, port: int, *, timeout_s: float = 1.0) -> Probe:
    """Ready when a TCP connection to host:port succeeds (mirakuru's TCPExecutor check)."""

    def probe() -> str | None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return None
        except OSError as exc:
            return f"{host}:{port}: {exc.strerror or exc}"

    return probe


# -- the database ------------------------------------------------------------------------

def database_probe(url: str, required_extensions: Sequence[str] = ("vector",), *,
                   connect_timeout_s: float = 2.0, statement_timeout_s: float = 2.0) -> Probe:
    """Connect, `SELECT 1`, and check the server can provide the required extensions
    (a server without them fails at once). Only what waiting may fix is a reason to poll
    again (refused, starting up: `DatabaseNotUp`); a wrong password, a missing database,
    a malformed URL, a full disk or a crash (db/connect.py's translations) end the wait
    at once. Each query gets `statement_timeout_s`, so a stalled server cannot stretch
    the bound. The password never appears in a reason."""
    redact.register_url(url)
    required = list(dict.fromkeys(required_extensions))

    def probe() -> str | None:
        try:
            with connect(url, timeout_s=connect_timeout_s,
                         statement_timeout_s=statement_timeout_s) as conn:
                conn.execute("SELECT 1")
                rows = conn.execute(
                    "SELECT name, installed_version FROM pg_available_extensions "
                    "WHERE name = ANY(%s)", (required,)).fetchall()
                database = conn.info.dbname
        except DatabaseNotUp as exc:
            return redact.redact(str(exc))
        except psycopg.Error as exc:
            if not_up_yet(exc):
                return _pg_reason(exc)
            raise DatabaseUnreachable(
                f"the readiness probe failed on {redact.mask_url(url)}: {_pg_reason(exc)}"
            ) from None
        available = {name for name, _ in rows}
        missing = [name for name in required if name not in available]
        if missing:
            # Not something waiting fixes: the server lacks the extension's files.
            raise DatabaseUnreachable(
                f"the server at {redact.mask_url(url)} cannot provide extension(s) "
                f"{', '.join(missing)} (database {database})",
                remedy="Use a PostgreSQL with pgvector installed (the pgvector/pgvector "
                       "image, or the embedded server).")
        # Available but not yet created is fine: docker/init.sql or the migrations create
        # it, and the validation checks it is there before any app starts.
        return None

    return probe


def _pg_reason(exc: psycopg.Error) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = "; ".join(dict.fromkeys(lines)) or type(exc).__name__
    if exc.sqlstate and not text.startswith(exc.sqlstate):
        text = f"{exc.sqlstate} {text}"
    return redact.redact(text)


def wait_for_database(url: str, readiness: ReadinessConfig,
                      required_extensions: Sequence[str] = ("vector",), *,
                      alive: FailFast | None = None,
                      progress: ProgressCallback | None = None) -> Ready:
    """The database within the guide's budget (5 x 5 s by default), or DatabaseNotReady."""
    return wait_until_ready("Database", database_probe(url, required_extensions),
                            attempts=readiness.database_attempts,
                            interval_s=readiness.database_interval_s, poll_s=readiness.poll_s,
                            error=DatabaseNotReady, alive=alive, progress=progress)


# -- Zitadel -----------------------------------------------------------------------------

def zitadel_budget(readiness: ReadinessConfig, *, first_boot: bool) -> tuple[int, float]:
    """(attempts, interval_s) for Zitadel: the guide's 6 x 5 s, or on a first boot (see
    `deps.zitadel.zitadel_first_boot`) as many intervals as cover zitadel_first_boot_s."""
    interval = readiness.zitadel_interval_s
    if not first_boot:
        return readiness.zitadel_attempts, interval
    attempts = max(readiness.zitadel_attempts,
                   math.ceil(readiness.zitadel_first_boot_s / interval))
    return attempts, interval


def wait_for_zitadel(issuer: str, readiness: ReadinessConfig, *, first_boot: bool = False,
                     debug_ready: bool = True, alive: FailFast | None = None,
                     progress: ProgressCallback | None = None,
                     client: httpx.Client | None = None) -> Ready:
    """Zitadel's /debug/ready (when `debug_ready`: Zitadel has it, other OIDC servers do
    not), the discovery document naming `issuer`, and a non-empty JWKS; within Zitadel's
    budget, or the first boot's. Raises ZitadelNotReady, or OidcIssuerMismatch at once."""
    from workspace.deps.oidc import http_client, oidc_probe

    attempts, interval = zitadel_budget(readiness, first_boot=first_boot)
    owned = client is None
    http = client or http_client()
    try:
        probe = oidc_probe(issuer, client=http, debug_ready=debug_ready)
        return wait_until_ready("Zitadel", probe, attempts=attempts, interval_s=interval,
                                poll_s=readiness.poll_s, error=ZitadelNotReady,
                                alive=alive, progress=progress)
    finally:
        if owned:
            http.close()
