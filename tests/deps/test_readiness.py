"""The bounded wait loop and the database probe, against real listeners, processes and
the embedded PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import free_port
from workspace.config.models import ReadinessConfig
from workspace.db import connect as connect_module
from workspace.db.connect import not_up_yet
from workspace.deps.readiness import (
    DatabaseNotReady,
    Probe,
    Progress,
    ReadinessTimeout,
    ZitadelNotReady,
    database_probe,
    tcp_probe,
    wait_for_database,
    wait_until_ready,
    zitadel_budget,
)
from workspace.deps.zitadel import zitadel_first_boot
from workspace.errors import DatabaseUnreachable, DependencyExited, WorkspaceError

SMALL = ReadinessConfig(database_attempts=2, database_interval_s=0.3, poll_s=0.05)


class FakeClock:
    """time.monotonic and time.sleep for the wait: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(clock: FakeClock, ready_at: float | None = None, *, reason: str = "refused",
             takes_s: float = 0.0) -> tuple[Probe, list[float]]:
    """A probe ready from `ready_at` (seconds on the fake clock from now, never when None)
    that takes `takes_s`; with the list of times (from the start) it ran at."""
    start = clock.now
    ran: list[float] = []

    def probe() -> str | None:
        ran.append(round(clock.now - start, 6))
        clock.now += takes_s
        return None if ready_at is not None and clock.now - start >= ready_at else reason

    return probe, ran


def test_readiness_mid_wait_is_noticed_within_a_poll() -> None:
    clock = FakeClock()
    probe, ran = scripted(clock, ready_at=0.7)
    seen: list[Progress] = []
    ready = wait_until_ready("Database", probe, attempts=5, interval_s=5.0, poll_s=0.2,
                             error=DatabaseNotReady, progress=seen.append, clock=clock,
                             sleep=clock.sleep)
    assert ran == [0.0, 0.2, 0.4, 0.6, 0.8]  # every poll_s, far below the 5 s interval
    assert ready.elapsed_s == pytest.approx(0.8) and ready.polls == 5 and ready.attempt == 1
    assert ready.ready_at - ready.started_at == pytest.approx(0.8)
    # one progress line per interval, in the guide's words
    assert [str(p) for p in seen] == ["Database not ready, waiting 5s (attempt 1/5)..."]
    assert seen[0].reason == "refused"


def test_a_probe_that_never_succeeds_raises_after_the_budget_with_attempts_and_reason() -> None:
    clock = FakeClock()
    probe, ran = scripted(clock, reason="127.0.0.1:5432: Connection refused")
    seen: list[Progress] = []
    with pytest.raises(ReadinessTimeout) as caught:
        wait_until_ready("Zitadel", probe, attempts=3, interval_s=0.25, poll_s=0.0625,
                         error=ZitadelNotReady, progress=seen.append, clock=clock,
                         sleep=clock.sleep)
    exc = caught.value
    assert exc.code == "PRECHECK_ZITADEL_UNREACHABLE" and isinstance(exc, WorkspaceError)
    assert exc.attempts == 3 and exc.polls == 13 and len(ran) == 13  # 0, 1/16, ..., 0.75
    assert exc.elapsed_s == 0.75  # the budget, not a poll past it
    assert exc.last_reason == "127.0.0.1:5432: Connection refused"
    assert "not ready after 3 attempts x 0.25s (0.8s, 13 probes)" in exc.message
    assert [p.attempt for p in seen] == [1, 2, 3]


def test_the_last_probe_runs_at_the_deadline_never_after_it() -> None:
    clock = FakeClock()
    probe, ran = scripted(clock)
    with pytest.raises(DatabaseNotReady) as caught:
        wait_until_ready("Database", probe, attempts=2, interval_s=0.5, poll_s=0.3,
                         error=DatabaseNotReady, clock=clock, sleep=clock.sleep)
    assert ran == [0.0, 0.3, 0.6, 0.9, 1.0]  # the last one at the 1 s deadline
    assert caught.value.elapsed_s == pytest.approx(1.0)


def test_a_probe_that_runs_past_the_deadline_is_the_last_one() -> None:
    # each probe takes 0.4 s (a connect timeout): the bound is the budget plus one probe
    clock = FakeClock()
    probe, ran = scripted(clock, takes_s=0.4)
    with pytest.raises(DatabaseNotReady) as caught:
        wait_until_ready("Database", probe, attempts=1, interval_s=1.0, poll_s=0.3,
                         error=DatabaseNotReady, clock=clock, sleep=clock.sleep)
    assert ran == [0.0, 0.7]  # 0.7 + 0.4 ends past the deadline: no probe after it
    assert caught.value.elapsed_s == pytest.approx(1.1) and caught.value.polls == 2


def test_a_dependency_that_exits_fails_fast_not_after_the_budget() -> None:
    clock = FakeClock()
    start = clock.now
    probe, ran = scripted(clock)

    def alive() -> None:  # the server exits 0.5 s into the wait
        if clock.now - start >= 0.5:
            raise DependencyExited("the server exited with status 1")

    with pytest.raises(WorkspaceError) as caught:
        wait_until_ready("Database", probe, attempts=5, interval_s=5.0, poll_s=0.25,
                         error=DatabaseNotReady, alive=alive, clock=clock, sleep=clock.sleep)
    assert caught.value.code == "PRECHECK_DEPENDENCY_EXITED"
    assert ran == [0.0, 0.25]  # and not a probe after it exited
    assert clock.now - start == 0.5  # the budget was 25 s


def test_a_probe_error_waiting_cannot_fix_ends_the_wait_at_once() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def probe() -> str | None:
        calls.append(clock.now)
        raise DatabaseUnreachable("password authentication failed (28P01)")

    with pytest.raises(DatabaseUnreachable) as caught:
        wait_until_ready("Database", probe, attempts=5, interval_s=5.0, poll_s=0.2,
                         error=DatabaseNotReady, clock=clock, sleep=clock.sleep)
    assert not isinstance(caught.value, ReadinessTimeout)
    assert len(calls) == 1 and clock.now == 100.0  # no retry, no sleep


def test_tcp_probe_on_a_closed_and_an_open_port() -> None:
    port = free_port()  # nothing listens there
    reason = tcp_probe("127.0.0.1", port)()
    assert reason is not None and f"127.0.0.1:{port}" in reason
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert tcp_probe("127.0.0.1", int(listener.getsockname()[1]))() is None


def test_the_database_probe_passes_on_a_ready_database_with_its_extensions(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    ready = wait_for_database(db_url, ReadinessConfig(), ["vector"])
    assert ready.polls == 1 and ready.elapsed_s < 1.0


def test_an_extension_the_server_cannot_provide_fails_at_once(db_url: str) -> None:
    began = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as caught:
        wait_for_database(db_url, ReadinessConfig(), ["vector", "no_such_extension"])
    assert caught.value.code == "PRECHECK_DATABASE_UNREACHABLE"
    assert "no_such_extension" in caught.value.message and "vector" not in caught.value.message
    assert time.monotonic() - began < 3.0  # not after the 25 s budget


def test_an_available_extension_not_yet_created_is_left_to_the_migrations(db_url: str) -> None:
    # pgvector is installed on the embedded server but not created in a fresh database:
    # 0001_init.sql creates it, and the validation checks it afterwards
    assert database_probe(db_url, ["vector"])() is None


def test_database_reasons_never_show_the_password(db_url: str) -> None:
    parts = urlsplit(db_url)
    wrong = "wrong-Pa55word"
    netloc = f"{parts.username}:{wrong}@{parts.hostname}:{parts.port}"
    bad_login = urlunsplit(parts._replace(netloc=netloc))
    with pytest.raises(DatabaseUnreachable) as refused:
        database_probe(bad_login, [])()
    assert "password authentication failed" in refused.value.message
    assert wrong not in str(refused.value)
    closed = urlunsplit(parts._replace(netloc=f"app:{wrong}@127.0.0.1:{free_port()}"))
    with pytest.raises(ReadinessTimeout) as caught:
        wait_for_database(closed, SMALL, [])
    assert caught.value.code == "PRECHECK_DATABASE_UNREACHABLE"
    assert wrong not in str(caught.value) and wrong not in caught.value.last_reason


def _login(db_url: str, *, password: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(db_url)
    netloc = f"{parts.username}:{password or parts.password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database
                                     else parts.path))


@pytest.mark.parametrize("what", ["wrong password", "missing database", "malformed URL",
                                  "bad port"])
def test_what_waiting_cannot_fix_fails_at_once_not_after_the_budget(
        db_url: str, what: str) -> None:
    url = {"wrong password": _login(db_url, password="not-the-password"),
           "missing database": _login(db_url, database="no_such_database"),
           "malformed URL": db_url + "?no_such_option=1",
           "bad port": db_url.replace(f":{urlsplit(db_url).port}/", ":port/")}[what]
    budget = ReadinessConfig(database_attempts=2, database_interval_s=2.0, poll_s=0.05)
    began = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as caught:
        wait_for_database(url, budget, [])
    assert not isinstance(caught.value, ReadinessTimeout), caught.value
    assert caught.value.code == "PRECHECK_DATABASE_UNREACHABLE"
    assert time.monotonic() - began < 1.5  # the budget was 4 s
    assert "not-the-password" not in str(caught.value)


def test_a_server_starting_up_or_refusing_is_waited_for() -> None:
    assert not_up_yet(psycopg.errors.CannotConnectNow("the database system is starting up"))
    assert not_up_yet(psycopg.errors.TooManyConnections("sorry, too many clients"))
    assert not_up_yet(psycopg.OperationalError("connection failed: Connection refused"))
    assert not_up_yet(psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        "FATAL:  the database system is starting up"))
    assert not not_up_yet(psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        'FATAL:  password authentication failed for user "app"'))
    assert not not_up_yet(psycopg.errors.InvalidPassword("password authentication failed"))
    assert not not_up_yet(psycopg.errors.InvalidCatalogName('database "x" does not exist'))
    assert not not_up_yet(psycopg.ProgrammingError('invalid connection option "bogus"'))


def test_a_stalled_probe_query_is_cut_by_its_statement_timeout(db_url: str) -> None:
    # the probe reads pg_available_extensions, which joins pg_extension: a lock held on
    # it stalls the probe's query as a hung server would
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        result: list[BaseException] = []

        def wait() -> None:
            try:
                wait_for_database(db_url, SMALL, ["vector"])
            except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
                result.append(exc)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(10)
        stalled = waiter.is_alive()
        holder.rollback()  # releases the lock, so a stalled waiter ends too
        waiter.join(10)
    assert not stalled, "the probe's query was not bounded"
    assert isinstance(result[0], DatabaseNotReady)
    assert "57014" in result[0].last_reason  # canceling statement due to statement timeout
    assert time.monotonic() - began < 10


def test_zitadel_gets_the_first_boot_budget_when_its_pat_is_missing(tmp_path: Path) -> None:
    pat = tmp_path / "admin.pat"
    assert zitadel_first_boot(pat)
    pat.write_text("token")
    assert not zitadel_first_boot(pat)
    assert zitadel_first_boot(pat, container_created=True)
    readiness = ReadinessConfig()
    assert zitadel_budget(readiness, first_boot=False) == (6, 5.0)
    assert zitadel_budget(readiness, first_boot=True) == (36, 5.0)  # 180 s


class _CrashedServer:
    """A local server (db/connect.py's LocalServer) whose log explains a lost connection."""

    def log_mark(self) -> int:
        return 0

    def disk_full(self, detail: str) -> WorkspaceError:
        return DatabaseUnreachable(detail)

    def post_mortem(self, since: int) -> WorkspaceError | None:
        return DependencyExited("the embedded PostgreSQL crashed: PANIC: could not write")


def test_a_probe_on_our_own_server_gets_its_post_mortem_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a server that takes the connection and drops it, as a crashing postmaster does
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = int(listener.getsockname()[1])
        stop = threading.Event()

        def drop() -> None:
            listener.settimeout(0.1)
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    conn, _ = listener.accept()
                    conn.close()

        dropper = threading.Thread(target=drop, daemon=True)
        dropper.start()
        monkeypatch.setitem(connect_module._local_servers, ("127.0.0.1", port), _CrashedServer())
        budget = ReadinessConfig(database_attempts=2, database_interval_s=2.0, poll_s=0.05)
        began = time.monotonic()
        try:
            with pytest.raises(DependencyExited) as caught:
                wait_for_database(f"postgresql://app:pw-12345678@127.0.0.1:{port}/app", budget, [])
        finally:
            stop.set()
            dropper.join(5)
    assert "crashed" in caught.value.message and caught.value.code == "PRECHECK_DEPENDENCY_EXITED"
    assert time.monotonic() - began < 1.5  # not after the 4 s budget
