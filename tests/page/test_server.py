"""The page's HTTP server on a real socket: local Host names only, no CORS, POST only
with the token, the event stream, and not one line on the terminal."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest

from workspace.page.server import TOKEN_HEADER, PageServer
from workspace.page.state import LiveState


@pytest.fixture
def page() -> Iterator[tuple[PageServer, list[tuple[str, str | None]]]]:
    calls: list[tuple[str, str | None]] = []

    def action(name: str):  # type: ignore[no-untyped-def]
        def run(argument: str | None) -> str | None:
            if name == "restart" and argument != "api":
                return f"no app named {argument!r}"
            calls.append((name, argument))
            return None
        return run

    server = PageServer(LiveState(["api"]), {n: action(n) for n in ("restart", "validate", "fix")})
    server.start()
    yield server, calls
    server.stop()


def request(server: PageServer, method: str, path: str, *, host: str = "127.0.0.1",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers={"Host": f"{host}:{server.port}", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_it_listens_on_loopback_only_and_serves_the_page_and_state(page) -> None:  # type: ignore[no-untyped-def]
    server, _ = page
    assert server.url == f"http://127.0.0.1:{server.port}/"
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and b'<script src="page.js">' in body
    assert request(server, "GET", "/page.js")[0] == 200
    status, _, body = request(server, "GET", "/api/state", host="localhost")
    assert status == 200 and json.loads(body)["apps"][0]["name"] == "api"
    assert request(server, "GET", "/session.py")[0] == 404


def test_other_host_names_are_refused_against_dns_rebinding(page) -> None:  # type: ignore[no-untyped-def]
    server, calls = page
    assert request(server, "GET", "/api/state", host="evil.example")[0] == 421
    status = request(server, "POST", "/api/validate", host="evil.example",
                     headers={TOKEN_HEADER: server.token})[0]
    assert status == 421 and calls == []


def test_a_post_needs_the_token_and_no_cors_is_granted(page) -> None:  # type: ignore[no-untyped-def]
    server, calls = page
    assert request(server, "POST", "/api/restart/api")[0] == 403
    assert request(server, "POST", "/api/restart/api", headers={TOKEN_HEADER: "guess"})[0] == 403
    assert calls == []
    status, headers, _ = request(server, "OPTIONS", "/api/restart/api",
                                 headers={"Origin": "http://evil.example",
                                          "Access-Control-Request-Method": "POST"})
    assert status == 405 and not any(h.lower().startswith("access-control") for h in headers)
    status, headers, body = request(server, "POST", "/api/restart/api",
                                    headers={TOKEN_HEADER: server.token})
    assert status == 202 and calls == [("restart", "api")]
    assert not any(h.lower().startswith("access-control") for h in headers)
    assert request(server, "POST", "/api/restart/nope", headers={TOKEN_HEADER: server.token})[0] == 404
    assert request(server, "POST", "/api/drop", headers={TOKEN_HEADER: server.token})[0] == 404


def test_the_event_stream_sends_state_and_new_lines(page) -> None:  # type: ignore[no-untyped-def]
    server, _ = page
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/api/events", headers={"Host": "127.0.0.1"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    assert resp.readline() == b"event: state\n"
    first = json.loads(resp.readline().removeprefix(b"data: "))
    assert first["apps"][0]["name"] == "api"
    resp.readline()
    server.live.line("api", "hello from api", time.time())
    assert resp.readline() == b"event: lines\n"
    lines = json.loads(resp.readline().removeprefix(b"data: "))
    assert [(x["app"], x["text"]) for x in lines] == [("api", "hello from api")]
    conn.close()


def test_nothing_is_printed_per_request(page, capfd) -> None:  # type: ignore[no-untyped-def]
    server, _ = page
    for _ in range(20):
        request(server, "GET", "/api/state")
        request(server, "GET", "/nope")
        request(server, "POST", "/api/fix")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
