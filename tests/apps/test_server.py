"""apps/server: run as a real process against a real PostgreSQL, as `workspace start` runs it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.apps import AppProcess, get_json, raw_exchange, request_json
from tests.conftest import free_port, query, write

StartServer = Callable[..., tuple[AppProcess, str]]


@pytest.fixture
def start_server(db_url: str) -> Iterator[StartServer]:
    """Start the server in a project; returns it and its base URL. Stopped at teardown."""
    started: list[AppProcess] = []

    def start(project: Path, *, wait: bool = True, **env: str) -> tuple[AppProcess, str]:
        port = free_port()
        app = AppProcess("server", cwd=project,
                         env={"DATABASE_URL": db_url, "PORT": str(port), **env})
        started.append(app)
        if wait:
            app.wait_for(f"API listening on port {port}")
        return app, f"http://127.0.0.1:{port}"

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def server(start_server: StartServer, shipped_project: Path) -> tuple[AppProcess, str]:
    return start_server(shipped_project)


def test_runs_the_migrations_at_its_own_startup(server: tuple[AppProcess, str],
                                                db_url: str) -> None:
    app, base = server
    applied = query(db_url, "SELECT name FROM public.schema_migrations ORDER BY version")
    assert applied == [("0001_init.sql",), ("0002_populate_materialized_views.sql",),
                       ("0004_auth_introspection_cache.sql",)]
    assert "Applied: 0001_init.sql" in app.output
    assert get_json(f"{base}/health") == (200, {"status": "ok", "database": "ok"})


def test_documents_are_created_listed_read_and_deleted(server: tuple[AppProcess, str],
                                                       db_url: str) -> None:
    app, base = server
    status, headers, created = request_json("POST", f"{base}/api/documents", {
        "title": "Notes", "content": "First paragraph.\n\nSecond one,\nstill second.\n\n\n"})
    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert "Access-Control-Allow-Origin" not in headers  # no page elsewhere may read it
    assert created["title"] == "Notes"
    assert [c["text"] for c in created["chunks"]] == ["First paragraph.",
                                                       "Second one,\nstill second."]
    assert [c["chunk_index"] for c in created["chunks"]] == [0, 1]
    # the database did its part: the tsv trigger ran, the hash was stored
    assert query(db_url, "SELECT count(*) FROM kb.chunks WHERE tsv @@ 'second'::tsquery") == [(1,)]
    assert query(db_url, "SELECT length(content_hash) FROM kb.documents") == [(64,)]

    request_json("POST", f"{base}/api/documents", {"title": "Later", "content": "only one"})
    status, listed = get_json(f"{base}/api/documents")
    assert status == 200 and listed["total"] == 2
    assert [(d["title"], d["chunk_count"]) for d in listed["documents"]] == [("Later", 1),
                                                                           ("Notes", 2)]
    assert len(get_json(f"{base}/api/documents?limit=1")[1]["documents"]) == 1
    assert get_json(f"{base}/api/documents?limit=100000")[1]["limit"] == 500

    status, fetched = get_json(f"{base}/api/documents/{created['id']}")
    assert status == 200 and fetched["content"].startswith("First paragraph.")
    assert len(fetched["chunks"]) == 2

    status, _, deleted = request_json("DELETE", f"{base}/api/documents/{created['id']}")
    assert (status, deleted) == (200, {"deleted": created["id"]})
    assert get_json(f"{base}/api/documents/{created['id']}")[0] == 404
    assert query(db_url, "SELECT count(*) FROM kb.chunks") == [(1,)]
    assert f"DELETE /api/documents/{created['id']} 200" in app.output


BAD_BODIES = [
    (b"", "'title'"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"content": "text"}', "'title'"),
    (b'{"title": "t"}', "'content'"),
    (b'{"title": "t", "content": 3}', "'content'"),
    (b'{"title": "   ", "content": "x"}', "'title'"),
]


def test_a_bad_body_is_a_400_naming_the_problem(server: tuple[AppProcess, str],
                                                db_url: str) -> None:
    _, base = server
    for raw, named in BAD_BODIES:
        status, _, body = request_json("POST", f"{base}/api/documents", raw=raw)
        assert (status, named in body["error"]) == (400, True), (raw, body)
    assert query(db_url, "SELECT count(*) FROM kb.documents") == [(0,)]


def test_unknown_paths_and_ids_are_json_errors(server: tuple[AppProcess, str]) -> None:
    _, base = server
    status, _, body = request_json("GET", f"{base}/nope")
    assert status == 404 and "not found" in body["error"]
    assert request_json("GET", f"{base}/api/documents/not-a-uuid")[0] == 400
    missing = "00000000-0000-0000-0000-000000000000"
    assert request_json("DELETE", f"{base}/api/documents/{missing}")[0] == 404
    assert request_json("PUT", f"{base}/api/documents", {})[0] == 405
    assert request_json("GET", f"{base}/api/documents?limit=zero")[0] == 400


def test_workspace_endpoint_lists_migrations_and_the_launcher_status(
        server: tuple[AppProcess, str], shipped_project: Path) -> None:
    _, base = server
    status, body = get_json(f"{base}/api/workspace")
    assert status == 200
    assert [m["name"] for m in body["migrations"]] == [
        "0001_init.sql", "0002_populate_materialized_views.sql",
        "0004_auth_introspection_cache.sql"]
    assert set(body["migrations"][0]) == {"version", "name", "applied_at", "execution_ms"}
    # No `workspace start` here: the status says so, for this project.
    assert body["status"]["running"] is False
    assert Path(body["status"]["project_dir"]) == shipped_project.resolve()


def test_skip_migrations_starts_without_migrating_and_warns(
        start_server: StartServer, shipped_project: Path, db_url: str) -> None:
    app, base = start_server(shipped_project, SKIP_MIGRATIONS="1")
    assert "SKIP_MIGRATIONS is set" in app.output
    assert query(db_url, "SELECT to_regclass('public.schema_migrations')") == [(None,)]
    assert get_json(f"{base}/health")[0] == 200
    assert get_json(f"{base}/api/workspace")[1]["migrations"] == []


def test_a_failing_migration_stops_it_before_it_listens(
        start_server: StartServer, shipped_project: Path, db_url: str) -> None:
    write(shipped_project, "0005_broken.sql", "INSERT INTO kb.no_such_table VALUES (1);\n")
    app, _ = start_server(shipped_project, wait=False)
    code = app.wait()
    assert code == 7, app.output
    assert "PRECHECK_MIGRATIONS_FAILED" in app.output
    assert "0005_broken.sql" in app.output
    assert "API listening" not in app.output
    password = urlsplit(db_url).password
    assert password and password not in app.output
    assert query(db_url, "SELECT max(version) FROM public.schema_migrations") == [(4,)]


def test_without_database_url_it_exits_2(start_server: StartServer,
                                         shipped_project: Path) -> None:
    app, _ = start_server(shipped_project, wait=False, DATABASE_URL="")
    assert app.wait() == 2
    assert "DATABASE_URL is not set" in app.output


def test_sigterm_shuts_it_down_cleanly(server: tuple[AppProcess, str]) -> None:
    app, base = server
    assert get_json(f"{base}/health")[0] == 200
    started = time.monotonic()
    assert app.stop() == 0
    assert time.monotonic() - started < 3
    assert "API stopped" in app.output


def test_other_origins_and_hosts_get_nothing(server: tuple[AppProcess, str]) -> None:
    """A web page elsewhere in the developer's browser: a form-style POST (no preflight),
    or DNS rebinding (another Host name), must not reach the data."""
    _, base = server
    port = base.rsplit(":", 1)[1]
    form = urllib.request.Request(f"{base}/api/documents", method="POST",
                                  data=b'{"title": "x", "content": "y"}',
                                  headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(form, timeout=5)
    assert info.value.code == 415
    info.value.close()
    rebound = urllib.request.Request(f"{base}/api/documents",
                                     headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(rebound, timeout=5)
    assert info.value.code == 421
    info.value.close()


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"])
def test_text_postgresql_cannot_store_is_a_400(server: tuple[AppProcess, str],
                                               text: str) -> None:
    _, base = server
    status, _, body = request_json("POST", f"{base}/api/documents",
                                   {"title": "t", "content": text})
    assert status == 400 and "content" in body["error"]


DEEP = 100_000


def test_a_deeply_nested_body_is_a_short_400_without_a_traceback(
        server: tuple[AppProcess, str], db_url: str) -> None:
    app, base = server
    for raw in (b"[" * DEEP + b"]" * DEEP,
                b'{"title": "t", "content": ' + b"[" * DEEP + b"]" * DEEP + b"}"):
        status, _, body = request_json("POST", f"{base}/api/documents", raw=raw)
        assert status == 400, body
        assert "nested" in body["error"] and len(body["error"]) < 200, body
    assert get_json(f"{base}/health")[0] == 200
    app.wait_for("GET /health 200")  # every line before it has been read
    assert "Traceback" not in app.output and "RecursionError" not in app.output, app.output
    assert query(db_url, "SELECT count(*) FROM kb.documents") == [(0,)]


@pytest.mark.parametrize("raw", [
    '{"title": "café", "content": "x"}'.encode("latin-1"),
    json.dumps({"title": "t", "content": "x"}).encode("utf-16"),  # JSON is UTF-8 only
    b'{"title": "t", "content": "\xed\xa0\x80"}',  # an encoded surrogate
], ids=["latin-1", "utf-16", "surrogate"])
def test_a_body_that_is_not_utf8_is_a_400(server: tuple[AppProcess, str], db_url: str,
                                          raw: bytes) -> None:
    _, base = server
    status, _, body = request_json("POST", f"{base}/api/documents", raw=raw)
    assert status == 400 and "UTF-8" in body["error"], body
    assert query(db_url, "SELECT count(*) FROM kb.documents") == [(0,)]


BODY = b'{"title": "t", "content": "x"}'
# (extra request headers, the body sent, whether our side is shut after it, status)
WRONG_LENGTHS = {
    "body-ends-early": ("Content-Length: 100\r\n", BODY, True, 400),
    "rest-never-comes": ("Content-Length: 100\r\n", BODY, False, 400),
    "two-lengths": (f"Content-Length: {len(BODY)}\r\nContent-Length: 5\r\n", BODY, False, 400),
    "negative": ("Content-Length: -1\r\n", BODY, False, 400),
    "not-a-number": ("Content-Length: 1e3\r\n", BODY, False, 400),
    "too-large": ("Content-Length: 10485761\r\n", b"", False, 413),
    "chunked": ("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n", False, 411),
}


@pytest.mark.parametrize("case", WRONG_LENGTHS)
def test_a_wrong_content_length_is_answered_and_the_connection_closed(
        start_server: StartServer, shipped_project: Path, db_url: str, case: str) -> None:
    """Never a hang (the missing rest waits REQUEST_TIMEOUT_S at most), never a body
    left behind to be read as the next request."""
    headers, sent, shut_write, expected = WRONG_LENGTHS[case]
    _, base = start_server(shipped_project, REQUEST_TIMEOUT_S="1")
    head = ("POST /api/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\n{headers}\r\n").encode()
    status, response_headers, body, elapsed_s = raw_exchange(base, head + sent,
                                                             shut_write=shut_write)
    assert status == expected, body
    assert "Content-Length" in body["error"] or "larger than" in body["error"], body
    assert response_headers.get("Connection") == "close"
    assert elapsed_s < 10
    assert query(db_url, "SELECT count(*) FROM kb.documents") == [(0,)]


def test_connections_the_database_dropped_are_replaced(server: tuple[AppProcess, str],
                                                       db_url: str) -> None:
    """The server keeps its connections between requests; one the database closed
    (a restart, pg_terminate_backend) costs a reconnect, not a failed request."""
    _, base = server
    assert get_json(f"{base}/health")[0] == 200
    others = "datname = current_database() AND pid <> pg_backend_pid()"
    killed = query(db_url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}")
    assert killed and all(ok for (ok,) in killed), killed  # it kept at least one
    deadline = time.monotonic() + 10
    while query(db_url, f"SELECT count(*) FROM pg_stat_activity WHERE {others}") != [(0,)]:
        assert time.monotonic() < deadline, "the terminated backends did not exit"
        time.sleep(0.05)
    assert get_json(f"{base}/health") == (200, {"status": "ok", "database": "ok"})
    assert get_json(f"{base}/api/documents")[0] == 200


@pytest.mark.parametrize(("name", "value"), [("REQUEST_TIMEOUT_S", "soon"),
                                             ("IDLE_TIMEOUT_S", "0"),
                                             ("DB_MAX_CONNECTIONS", "0")])
def test_a_bad_bound_in_the_environment_exits_2_naming_it(
        start_server: StartServer, shipped_project: Path, name: str, value: str) -> None:
    app, _ = start_server(shipped_project, wait=False, **{name: value})
    assert app.wait(30) == 2, app.output
    assert name in app.output and "Traceback" not in app.output
