"""The reference API server: documents and their chunks in kb.*, plus the workspace status.

    DATABASE_URL=postgresql://... PORT=3002 python apps/server/app.py
    curl -s localhost:3002/health            # {"status": "ok", "database": "ok"}
    curl -s -X POST localhost:3002/api/documents -d '{"title": "t", "content": "a\\n\\nb"}'

Written as a user's app would be: the standard library's HTTP server and psycopg 3. At
startup it runs the same migration runner as `workspace start`
(`workspace.startup.migrate_on_startup`) and refuses to listen when that fails, exiting
with the error's documented exit code. Requests share at most DB_MAX_CONNECTIONS
PostgreSQL connections, reused (`dbpool.py`), so that a burst of requests neither
exceeds PostgreSQL's max_connections nor pays a new connection each. The HTTP server is
the standard library's, with the bounds of `apps/boundedhttp.py` (listen backlog,
request and idle timeouts, strict body reading). This is a development server, not a
production one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from workspace.output import redact
from workspace.run import status
from workspace.config.models import load_config
from workspace.errors import PortInUse, WorkspaceError
from workspace.startup import migrate_on_startup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # apps/, for boundedhttp
from boundedhttp import (  # noqa: E402 - needs the path above
    BoundedHandler,
    BoundedHTTPServer,
    HttpError,
    Timeouts,
    is_probe,
    log_line,
)
from dbpool import Connection, ConnectionPool, PoolTimeout  # noqa: E402 - apps/server/

HOST = "127.0.0.1"
DEFAULT_PORT = 3002
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_BODY_BYTES = 10 * 1024 * 1024
CONNECT_TIMEOUT_S = 5
DEFAULT_DB_MAX_CONNECTIONS = 10
DB_WAIT_S = 10.0  # a request waits this long at most for one of the DB connections
# Documents belong to a project (kb.documents.project_id is NOT NULL); this app keeps
# them in one project, created on first use.
DEFAULT_ORG = ("Default", "default")  # name, slug
DEFAULT_PROJECT = "Default"

Json = dict[str, Any]

_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_DOCUMENT_PATH = re.compile(r"/api/documents/(?P<id>[^/]+)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def split_chunks(content: str) -> list[str]:
    """Paragraphs (blocks separated by blank lines), trimmed: split_chunks("a\\n\\nb") == ["a", "b"]."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    return [part.strip() for part in _PARAGRAPH_BREAK.split(text) if part.strip()]


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _reason(exc: BaseException) -> str:
    """The first line of an error, passwords masked."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return redact.redact(lines[0])


def _text_field(body: Json, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"field '{name}' is required and must be a non-empty string")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise HttpError(400, f"field '{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800")
        raise HttpError(400, f"field '{name}' is not valid Unicode text") from None
    return value


def _document_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise HttpError(400, f"invalid document id {raw!r}: expected a UUID") from None


class Api:
    """The endpoints, each returning (status, JSON body) or raising HttpError.

        api = Api("postgresql://...", Path("."), max_connections=10)
        api.health()          # (200, {"status": "ok", "database": "ok"})
        api.close()
    """

    def __init__(self, database_url: str, project_dir: Path, *,
                 max_connections: int = DEFAULT_DB_MAX_CONNECTIONS) -> None:
        self.project_dir = project_dir
        # 200 simultaneous requests must not open 200 connections (PostgreSQL's
        # max_connections is 100 by default), nor pay a new one each.
        self._pool = ConnectionPool(database_url, size=max_connections, wait_s=DB_WAIT_S,
                                    connect_timeout_s=CONNECT_TIMEOUT_S)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise HttpError(503, f"database busy: {exc}; try again") from None

    def health(self) -> tuple[int, Json]:
        try:
            with self._connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return 503, {"status": "unhealthy", "database": _reason(exc)}
        return 200, {"status": "ok", "database": "ok"}

    def list_documents(self, query: dict[str, list[str]]) -> tuple[int, Json]:
        raw = query.get("limit", [str(DEFAULT_LIMIT)])[-1]
        try:
            limit = int(raw)
        except ValueError:
            raise HttpError(400, f"limit must be an integer, got {raw!r}") from None
        if limit < 1:
            raise HttpError(400, f"limit must be at least 1, got {limit}")
        limit = min(limit, MAX_LIMIT)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT d.id, coalesce(d.filename, d.source_url) AS title, d.mime_type, "
                "d.content_hash, d.created_at, "
                "(SELECT count(*) FROM kb.chunks c WHERE c.document_id = d.id) AS chunk_count "
                "FROM kb.documents d ORDER BY d.created_at DESC, d.id DESC LIMIT %s",
                (limit,)).fetchall()
            total = conn.execute("SELECT count(*) AS n FROM kb.documents").fetchone()
        return 200, {"documents": rows, "total": total["n"] if total else 0, "limit": limit}

    def create_document(self, body: Json) -> tuple[int, Json]:
        title = _text_field(body, "title").strip()
        content = _text_field(body, "content")
        chunks = split_chunks(content)
        digest = hashlib.sha256(content.encode()).hexdigest()
        with self._connect() as conn:
            with conn.transaction():
                project_id = self._default_project(conn)
                row = conn.execute(
                    "INSERT INTO kb.documents (project_id, filename, mime_type, content, "
                    "content_hash) VALUES (%s, %s, 'text/plain', %s, %s) RETURNING id",
                    (project_id, title, content, digest)).fetchone()
                assert row is not None
                with conn.cursor() as cur:  # tsv is filled by the kb.update_tsv() trigger
                    cur.executemany(
                        "INSERT INTO kb.chunks (document_id, chunk_index, text) VALUES (%s, %s, %s)",
                        [(row["id"], index, text) for index, text in enumerate(chunks)])
            document = self._document(conn, row["id"])
        assert document is not None
        return 201, document

    def get_document(self, raw_id: str) -> tuple[int, Json]:
        with self._connect() as conn:
            document = self._document(conn, _document_id(raw_id))
        if document is None:
            raise HttpError(404, f"no document with id {raw_id}")
        return 200, document

    def delete_document(self, raw_id: str) -> tuple[int, Json]:
        with self._connect() as conn:  # chunks go with it (ON DELETE CASCADE)
            row = conn.execute("DELETE FROM kb.documents WHERE id = %s RETURNING id",
                               (_document_id(raw_id),)).fetchone()
        if row is None:
            raise HttpError(404, f"no document with id {raw_id}")
        return 200, {"deleted": row["id"]}

    def workspace(self) -> tuple[int, Json]:
        """The launcher's status always; the migrations when the database answers (the
        status then shows why it does not)."""
        config = load_config(self.project_dir)
        report: Json = {"status": status.collect(config)}
        try:
            with self._connect() as conn:
                report["migrations"] = conn.execute(  # the table name is checked by config
                    "SELECT version, name, applied_at, execution_ms "
                    f"FROM {config.migrations.table} ORDER BY version".encode()).fetchall()
        except psycopg.errors.UndefinedTable:  # nothing migrated yet (SKIP_MIGRATIONS)
            report["migrations"] = []
        except psycopg.OperationalError as exc:
            report["migrations"], report["migrations_error"] = None, _reason(exc)
        return 200, report

    @staticmethod
    def _document(conn: Connection, document_id: uuid.UUID) -> Json | None:
        document = conn.execute(
            "SELECT id, project_id, coalesce(filename, source_url) AS title, filename, "
            "source_url, mime_type, content, content_hash, created_at "
            "FROM kb.documents WHERE id = %s", (document_id,)).fetchone()
        if document is None:
            return None
        document["chunks"] = conn.execute(
            "SELECT id, chunk_index, text, embedding IS NOT NULL AS embedded, created_at "
            "FROM kb.chunks WHERE document_id = %s ORDER BY chunk_index",
            (document_id,)).fetchall()
        return document

    @staticmethod
    def _default_project(conn: Connection) -> uuid.UUID:
        org_name, org_slug = DEFAULT_ORG
        found = conn.execute(
            "SELECT p.id FROM core.projects p JOIN core.orgs o ON o.id = p.org_id "
            "WHERE o.slug = %s AND p.name = %s", (org_slug, DEFAULT_PROJECT)).fetchone()
        if found is not None:
            return uuid.UUID(str(found["id"]))
        # DO UPDATE (not DO NOTHING) so that RETURNING yields the row a concurrent
        # request may have just inserted.
        org = conn.execute(
            "INSERT INTO core.orgs (name, slug) VALUES (%s, %s) "
            "ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id",
            (org_name, org_slug)).fetchone()
        assert org is not None
        project = conn.execute(
            "INSERT INTO core.projects (org_id, name) VALUES (%s, %s) "
            "ON CONFLICT (org_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            (org["id"], DEFAULT_PROJECT)).fetchone()
        assert project is not None
        return uuid.UUID(str(project["id"]))


class ApiServer(BoundedHTTPServer):
    """A threading HTTP server holding the Api its handlers call."""

    def __init__(self, address: tuple[str, int], api: Api, timeouts: Timeouts) -> None:
        super().__init__(address, Handler, timeouts)
        self.api = api


class Handler(BoundedHandler):
    """Routes a request to the Api, answers JSON and logs `METHOD path status ms`."""

    server: ApiServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        started = time.monotonic()
        try:
            status_code, body = self._dispatch(method)
        except HttpError as exc:
            status_code, body = exc.status, {"error": exc.message}
        except psycopg.OperationalError as exc:
            status_code, body = 503, {"error": f"database unavailable: {_reason(exc)}"}
        except psycopg.Error as exc:
            status_code, body = 500, {"error": f"database error: {_reason(exc)}"}
        except WorkspaceError as exc:
            status_code, body = 500, {"error": f"{exc.code}: {redact.redact(exc.message)}"}
        except Exception as exc:  # a bug: answer, and keep the traceback in the log
            traceback.print_exc(file=sys.stderr)
            status_code, body = 500, {"error": f"internal error: {_reason(exc)}"}
        self._send_json(status_code, body)
        self._log(method, status_code, started)

    def _dispatch(self, method: str) -> tuple[int, Json]:
        # No CORS, and only local names: a web page open in the developer's browser must
        # not read or change the data (directly, or by DNS rebinding).
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in _LOCAL_HOSTS:
            raise HttpError(421, f"this server answers only as {' or '.join(_LOCAL_HOSTS)}")
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        api = self.server.api
        if path == "/health":
            self._allow(method, "GET")
            return api.health()
        if path == "/api/workspace":
            self._allow(method, "GET")
            return api.workspace()
        if path == "/api/documents":
            self._allow(method, "GET", "POST")
            if method == "POST":
                if self.headers.get_content_type() != "application/json":
                    raise HttpError(415, "send the body as Content-Type: application/json")
                return api.create_document(self._json_body())
            return api.list_documents(parse_qs(parts.query))
        match = _DOCUMENT_PATH.fullmatch(path)
        if match is not None:
            self._allow(method, "GET", "DELETE")
            if method == "DELETE":
                return api.delete_document(match["id"])
            return api.get_document(match["id"])
        raise HttpError(404, f"not found: {method} {parts.path}")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HttpError(405, f"method {method} not allowed here (allowed: {', '.join(allowed)})")

    def _json_body(self) -> Json:
        raw = self.read_body(MAX_BODY_BYTES)
        try:
            text = raw.decode("utf-8")  # JSON exchanged between systems is UTF-8 (RFC 8259)
        except UnicodeDecodeError as exc:
            raise HttpError(400, f"request body is not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                                 f"at offset {exc.start})") from None
        if not text.strip():
            raise HttpError(400, "request body must be a JSON object with 'title' and 'content'")
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HttpError(400, f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise HttpError(400, "request body is nested too deeply to be read") from None
        if not isinstance(body, dict):
            raise HttpError(400, "request body must be a JSON object with 'title' and 'content'")
        return body

    def _send_json(self, status_code: int, body: Json) -> None:
        self.send_json(status_code, json.dumps(body, default=_json_default).encode())

    def _log(self, method: str, status_code: int, started: float) -> None:
        if is_probe(self.headers):
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        path = urlsplit(self.path).path  # no query string: it may carry user data
        log_line(f"{method} {path} {status_code} {elapsed_ms:.0f}ms")


def _port() -> int:
    raw = os.environ.get("PORT", str(DEFAULT_PORT))
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"PORT must be a port number (1-65535), got {raw!r}")
    return int(raw)


def _db_max_connections(environ: Mapping[str, str]) -> int:
    raw = environ.get("DB_MAX_CONNECTIONS", "").strip() or str(DEFAULT_DB_MAX_CONNECTIONS)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"DB_MAX_CONNECTIONS must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _show_workspace_logs() -> None:
    """Print the migration runner's `Applied: <file> in <ms>` lines; other libraries'
    INFO lines (httpx logs every status probe) stay quiet."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("workspace")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main() -> int:
    _show_workspace_logs()
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print("DATABASE_URL is not set: the server needs the URL of its PostgreSQL database "
              "(workspace start sets it; or export DATABASE_URL=postgresql://...).",
              file=sys.stderr)
        return 2
    try:
        port = _port()
        timeouts = Timeouts.from_env(os.environ)
        max_connections = _db_max_connections(os.environ)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2

    try:
        migrate_on_startup()
    except WorkspaceError as exc:
        print(f"{exc.code}: {redact.redact(exc.message)}", file=sys.stderr)
        print(f"  {redact.redact(exc.remedy)}", file=sys.stderr)
        print(f"  database: {redact.mask_url(url)}", file=sys.stderr)
        return exc.exit_code

    project_dir = Path(os.environ.get("WORKSPACE_PROJECT_DIR", "."))
    try:
        server = ApiServer((HOST, port), Api(url, project_dir, max_connections=max_connections),
                           timeouts)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            print(f"cannot listen on {HOST}:{port}: {exc.strerror}", file=sys.stderr)
            return 1
        error = PortInUse(HOST, port, "another process", setting="apps.server.port")
        print(f"{error.code}: {error.message}\n  {error.remedy}", file=sys.stderr)
        return error.exit_code

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    print(f"API listening on port {port}", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    server.api.close()
    print("API stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
