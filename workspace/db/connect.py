"""Connections, and the one place where psycopg's connection errors become ours.

A statement that fails because the server is out of disk space (SQLSTATE 53100) raises
`DiskFull` from the cursor itself, whoever runs it; a connection lost under a server
this process runs (the embedded one, registered with `register_local_server`) is
explained by that server's post-mortem (its log since we connected: a crash, a full
disk) instead of "check the URL".
"""

from __future__ import annotations

import os
import re
import socket
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict

from workspace import __version__
from workspace.errors import DatabaseNotUp, DatabaseUnreachable, DiskFull, WorkspaceError
from workspace.output import redact

__all__ = ["APPLICATION", "RESET_ROLES", "RESET_SESSION", "LocalServer", "connect", "describe",
           "map_psycopg_errors", "not_up_yet", "register_local_server"]

APPLICATION = "workspace-migrate"
DISK_FULL_SQLSTATE = "53100"
# No SQLSTATE (the socket closed), admin_shutdown, crash_shutdown: the server went away.
_LOST = (None, "57P01", "57P02")
# Server answers that waiting may change: connection_exception (08...), admin/crash
# shutdown and cannot_connect_now (starting up), too_many_connections, query_canceled (a
# statement timeout on a stalled server). Any other SQLSTATE stays as it is.
_NOT_UP_SQLSTATES = ("57P01", "57P02", "57P03", "53300", "57014")
# libpq hands a refused login over without its SQLSTATE, as the server's FATAL text; those
# that waiting may fix (the server starting, stopping or recovering, full of clients).
# Every other FATAL at connect (a wrong password, no such database or role, no pg_hba.conf
# entry) stays. Known limit: a server whose lc_messages is not English is matched by
# none, so its refusals during start-up end the wait at once.
# (As text, compiled by `re` when a connection fails: not on every command's start.)
_NOT_UP_FATAL = (r"the database system is (starting up|shutting down|in recovery "
                 r"mode|not (yet )?accepting connections)|too many clients|"
                 r"connection slots are reserved")
_MALFORMED = r"\binvalid\b.*\b(value|connection option)\b|no password supplied"


class LocalServer(Protocol):
    """A server this process runs and can look into (the embedded one)."""

    def log_mark(self) -> int: ...  # where its log ends now

    def disk_full(self, detail: str) -> WorkspaceError: ...  # names the filesystem, its free space

    def post_mortem(self, since: int) -> WorkspaceError | None: ...  # why a connection was lost


_local_servers: dict[tuple[str, int], LocalServer] = {}


def register_local_server(host: str, port: int, server: LocalServer) -> None:
    """Errors on connections to host:port are explained by `server` from now on."""
    _local_servers[(host, port)] = server


def _local_server(url: str) -> LocalServer | None:
    if not _local_servers:
        return None
    try:
        params = conninfo_to_dict(url)
        return _local_servers.get((str(params.get("host")), int(params.get("port") or 5432)))
    except (psycopg.Error, ValueError):
        return None


def explain(exc: psycopg.Error, server: LocalServer | None, since: int) -> WorkspaceError | None:
    """Our error for a psycopg one that is not the statement's fault, else None: a full
    disk, or (on a server we run) a lost connection its log explains."""
    if exc.sqlstate == DISK_FULL_SQLSTATE:
        detail = redact.redact(_first_line(exc))
        if server is not None:
            if exc.diag.severity_nonlocalized in ("PANIC", "FATAL"):  # it crashed: its log
                return server.post_mortem(since) or server.disk_full(detail)
            return server.disk_full(detail)
        return DiskFull(f"the database server is out of disk space: {detail}",
                        remedy="Free space on the database server's data and WAL "
                               "filesystems, then run the command again.")
    lost = isinstance(exc, psycopg.OperationalError) and exc.sqlstate in _LOST
    if lost and server is not None:
        return server.post_mortem(since)
    return None


# The local server behind a connection, and where its log ended when we connected.
_servers_of: weakref.WeakKeyDictionary[psycopg.Connection[Any], tuple[LocalServer, int]] = \
    weakref.WeakKeyDictionary()


class _Cursor(psycopg.Cursor[Any]):
    """Translates, at the statement that hit it, what `explain` recognises."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Any:
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except psycopg.Error as exc:
            server, mark = _servers_of.get(self.connection, (None, 0))
            better = explain(exc, server, mark)
            if better is None:
                raise
            raise better from None

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


def not_up_yet(exc: psycopg.Error) -> bool:
    """Whether waiting may fix this failure to connect or to run a probe's query: a
    refused connection, a socket not there yet, a server starting up; not a wrong
    password, a missing database or a malformed URL."""
    if isinstance(exc, psycopg.ProgrammingError):  # the conninfo itself does not parse
        return False
    if exc.sqlstate is None:  # at connect: libpq's own text, the server's FATAL in it
        text = str(exc)
        if "FATAL:" in text:
            return re.search(_NOT_UP_FATAL, text) is not None
        return re.search(_MALFORMED, text) is None  # refused, unresolved, timed out: not up
    return exc.sqlstate.startswith("08") or exc.sqlstate in _NOT_UP_SQLSTATES


def _login_refused(exc: psycopg.Error) -> bool:
    text = str(exc)
    return ("FATAL:" in text and not not_up_yet(exc) and DISK_FULL_SQLSTATE not in text
            and "No space left" not in text)


def connect(url: str, *, timeout_s: float, autocommit: bool = True,
            statement_timeout_s: float | None = None) -> psycopg.Connection[tuple]:  # type: ignore[type-arg]
    """Open a connection whose server backend notices within a second when we die
    (client_connection_check_interval), so a killed runner's transaction and lock
    go away with it instead of lingering until its statement ends. A failure waiting may
    fix (`not_up_yet`) raises `DatabaseNotUp`, any other `DatabaseUnreachable` (or what
    the local server's log explains: `DiskFull`, `DependencyExited`)."""
    server = _local_server(url)
    mark = server.log_mark() if server is not None else 0
    options = "-c client_connection_check_interval=1000"
    if statement_timeout_s is not None:
        options += f" -c statement_timeout={max(1, round(statement_timeout_s * 1000))}"
    try:
        conn = psycopg.connect(
            url, autocommit=autocommit, connect_timeout=max(1, round(timeout_s)),
            application_name=f"{APPLICATION} ({describe()})"[:63],
            options=options, cursor_factory=_Cursor,
        )
    except psycopg.Error as exc:
        # A login the server refused (a wrong password, no such database) is no lost
        # connection: its log has nothing to add, and asking it would cost a second.
        better = None if _login_refused(exc) else explain(exc, server, mark)
        if better is not None:
            raise better from None
        remedy = None
        if exc.sqlstate == "3D000" or "does not exist" in str(exc):
            remedy = ("Create the database; for the embedded server, "
                      "`workspace db server start` recreates it.")
        error = DatabaseNotUp if not_up_yet(exc) else DatabaseUnreachable
        raise error(
            f"cannot connect to {redact.mask_url(url)}: {redact.redact(_first_line(exc))}",
            remedy=remedy) from None
    if server is not None:
        _servers_of[conn] = (server, mark)
    return conn


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
    except psycopg.errors.DiskFull as exc:  # e.g. at COMMIT, outside a cursor
        raise DiskFull(f"{what}: the database server is out of disk space: "
                       f"{redact.redact(_first_line(exc))}") from None
    except psycopg.OperationalError as exc:  # DatabaseNotUp: a server going down, say
        error = DatabaseNotUp if not_up_yet(exc) else DatabaseUnreachable
        raise error(
            f"{what}: lost the database connection: {redact.redact(str(exc).strip())}"
        ) from None
    except psycopg.Error as exc:
        raise MigrationError(f"{what}: database error ({exc.sqlstate or 'no SQLSTATE'}): "
                             f"{redact.redact(str(exc).strip())}") from None
