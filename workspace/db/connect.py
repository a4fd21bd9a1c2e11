"""Connections, and the one place where psycopg's connection errors become ours."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from workspace import __version__, redact
from workspace.errors import DatabaseUnreachable

__all__ = ["APPLICATION", "RESET_ROLES", "RESET_SESSION", "connect", "describe", "map_psycopg_errors"]

APPLICATION = "workspace-migrate"

# A migration file may change its session (a pg_dump baseline empties search_path,
# `SET ROLE`, `SET client_min_messages`): the next file must start as it would in a new
# session, as with `psql -f` per file, or a fresh database (all files on one connection)
# and an existing one (files applied run by run) would differ. RESET ALL puts every
# setting back to its value at connection start (our startup options included); role
# and session authorization are left out of RESET ALL, so they are reset by name.
# All three run inside a transaction (DISCARD ALL cannot), so they ride in the same
# round trip as the migration; they leave temporary tables and prepared statements be.
RESET_ROLES = "RESET SESSION AUTHORIZATION; RESET ROLE"
RESET_SESSION = f"RESET ALL; {RESET_ROLES}"


def describe() -> str:
    """Who we are, as recorded in `applied_by` and shown to other runners."""
    return f"workspace {__version__} on {socket.gethostname()} pid {os.getpid()}"


def connect(url: str, *, timeout_s: float, autocommit: bool = True) -> psycopg.Connection[tuple]:  # type: ignore[type-arg]
    """Open a connection whose server backend notices within a second when we die
    (client_connection_check_interval), so a killed runner's transaction and lock
    go away with it instead of lingering until its statement ends."""
    try:
        return psycopg.connect(
            url, autocommit=autocommit, connect_timeout=max(1, round(timeout_s)),
            application_name=f"{APPLICATION} ({describe()})"[:63],
            options="-c client_connection_check_interval=1000",
        )
    except psycopg.Error as exc:
        remedy = None
        if exc.sqlstate == "3D000" or "does not exist" in str(exc):
            remedy = ("Create the database; for the embedded server, "
                      "`workspace db server start` recreates it.")
        raise DatabaseUnreachable(
            f"cannot connect to {redact.mask_url(url)}: {redact.redact(_first_line(exc))}",
            remedy=remedy) from None


@contextmanager
def connection(url: str, *, timeout_s: float) -> Iterator[psycopg.Connection[tuple]]:  # type: ignore[type-arg]
    conn = connect(url, timeout_s=timeout_s)
    try:
        yield conn
    finally:
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # libpq repeats the attempt per address; the first line says what went wrong.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(dict.fromkeys(lines)) if lines else type(exc).__name__


@contextmanager
def map_psycopg_errors(what: str) -> Iterator[None]:
    """psycopg errors that escape a database operation (a lost connection, a permission
    refused) become ours, once, at this boundary: as httpx's map_httpcore_exceptions."""
    from workspace.errors import MigrationError

    try:
        yield
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable(
            f"{what}: lost the database connection: {redact.redact(str(exc).strip())}"
        ) from None
    except psycopg.Error as exc:
        raise MigrationError(f"{what}: database error ({exc.sqlstate or 'no SQLSTATE'}): "
                             f"{redact.redact(str(exc).strip())}") from None
