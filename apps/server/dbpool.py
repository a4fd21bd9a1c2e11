"""At most N PostgreSQL connections for the server's request threads, opened on demand
and reused (standard library + psycopg; psycopg_pool would do the same, but it is one
more package to install for a reference app).

    pool = ConnectionPool(url, size=10, wait_s=10, connect_timeout_s=5)
    with pool.connection() as conn:    # PoolTimeout when all 10 stay busy for wait_s
        conn.execute("SELECT 1")
    pool.close()

Why a pool and not a connection per request behind a semaphore: opening a connection
(SCRAM authentication, a new backend) costs ~25 ms, a query on an open one ~0.1 ms; with
200 clients at once the per-request connection made /health ~30x slower than a static
file (benchmarks/bench_apps.py). A connection that comes back from a request in a
transaction, closed or broken is closed rather than kept; a kept one is checked with an
empty query (one round trip) before it is lent again, so a restarted database costs a
reconnect, not a failed request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

__all__ = ["Connection", "ConnectionPool", "PoolTimeout"]

Connection = psycopg.Connection[dict[str, Any]]


class PoolTimeout(Exception):
    """All connections stayed in use for `wait_s`."""


class ConnectionPool:
    def __init__(self, url: str, *, size: int, wait_s: float, connect_timeout_s: int) -> None:
        self.url = url
        self.size = size
        self.wait_s = wait_s
        self.connect_timeout_s = connect_timeout_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []  # last in, first out: the warmest first
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """An autocommit connection (rows as dicts) for the block; PoolTimeout when none
        is free within `wait_s`; psycopg.OperationalError when the database refuses."""
        if not self._slots.acquire(timeout=self.wait_s):
            raise PoolTimeout(f"all {self.size} database connections stayed in use for "
                              f"{self.wait_s:g}s")
        conn: Connection | None = None
        try:
            conn = self._take()
            yield conn
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return psycopg.connect(self.url, connect_timeout=self.connect_timeout_s,
                                       autocommit=True, row_factory=dict_row)
            try:
                conn.execute("")  # still there? (the server may have restarted)
                return conn
            except psycopg.Error:
                conn.close()

    def _give_back(self, conn: Connection) -> None:
        if conn.closed or conn.broken or \
                conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        with self._lock:
            self._idle.append(conn)
