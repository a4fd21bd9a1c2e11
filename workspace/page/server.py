"""The live page's HTTP server: the standard library's ThreadingHTTPServer in a thread of
the launcher, on 127.0.0.1 only.

    server = PageServer(live, actions, port=None)    # None: a free port
    server.start()
    server.url, server.token                         # printed in the terminal, recorded
    server.stop()

Why the standard library: the page needs a handful of routes, JSON and one event stream
for at most a few local browsers; http.server does that in a thread without a second
event loop or a dependency, and the reference apps already use it (apps/boundedhttp.py).

Endpoints: `GET /` (the page), `GET /page.js`, `GET /api/state` (everything, JSON),
`GET /api/events` (Server-Sent Events: `state` whenever something changes, `lines` with
the apps' new lines; a comment every 15 s keeps it open), and `POST /api/restart/<app>`,
`POST /api/validate`, `POST /api/fix` (202: done in the background, the result arrives
as state).

Safety, as the reference apps: only the Host names 127.0.0.1 and localhost are answered
(421 otherwise: no DNS rebinding), no CORS headers (another site's page cannot read the
answers), and a POST needs the header `X-Workspace-Token` holding the token printed in
the terminal and kept in the state file (0600): a header another origin cannot send
without a preflight this server never grants. Nothing is logged per request (an open
page must not fill the terminal).
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from workspace.page.state import LiveState

__all__ = ["Actions", "PageServer", "TOKEN_HEADER"]

TOKEN_HEADER = "X-Workspace-Token"
HOST = "127.0.0.1"
_LOCAL_NAMES = ("127.0.0.1", "localhost")
_MAX_STREAMS = 8  # open event streams at once; more get 503
_HEARTBEAT_S = 15.0
_SOCKET_TIMEOUT_S = 10.0  # reading a request, writing an answer
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/page.js": ("page.js", "text/javascript; charset=utf-8")}

Actions = dict[str, Callable[[str | None], str | None]]  # name -> (argument) -> error or None


class PageServer:
    def __init__(self, live: LiveState, actions: Actions, *, port: int | None = None) -> None:
        self.live = live
        self.actions = actions
        self.token = secrets.token_urlsafe(24)
        self._streams = threading.BoundedSemaphore(_MAX_STREAMS)
        self._viewed_at = float("-inf")
        handler = type("BoundHandler", (_Handler,), {"page": self})
        self._httpd = _Server((HOST, port or 0), handler, bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.allow_reuse_address = True
        try:
            self._httpd.server_bind()
            self._httpd.server_activate()
        except OSError:
            self._httpd.server_close()
            raise
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.5}, name="page", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.live.close()  # open streams end
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def viewed(self) -> None:
        self._viewed_at = time.monotonic()

    def viewed_within(self, seconds: float) -> bool:
        """Whether a browser read the state lately (or keeps a stream open)."""
        return time.monotonic() - self._viewed_at < seconds

    def acquire_stream(self) -> bool:
        return self._streams.acquire(blocking=False)

    def release_stream(self) -> None:
        self._streams.release()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-answer: nothing to say on the terminal."""


class _Handler(BaseHTTPRequestHandler):
    page: PageServer
    timeout = _SOCKET_TIMEOUT_S
    server_version = "workspace-page"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base's name
        """Nothing per request: the terminal is the apps'."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not self._local_host():
            return
        if path in _STATIC:
            name, content_type = _STATIC[path]
            body = resources.files("workspace.page").joinpath("static", name).read_bytes()
            self._send(200, content_type, body)
        elif path == "/api/state":
            self.page.viewed()
            self._json(200, self.page.live.snapshot())
        elif path == "/api/events":
            self._events()
        else:
            self._json(404, {"error": f"not found: {path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if not self._local_host():
            return
        given = self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.page.token.encode()):
            self._json(403, {"error": f"POST needs the {TOKEN_HEADER} header with the token "
                                      "printed by `workspace start` (also in "
                                      ".workspace/run/state.json)"})
            return
        name, _, argument = path.removeprefix("/api/").partition("/")
        action = self.page.actions.get(name)
        if action is None or not path.startswith("/api/"):
            self._json(404, {"error": f"not found: POST {path}"})
            return
        error = action(argument or None)
        if error is not None:
            self._json(404, {"error": error})
            return
        self._json(202, {"accepted": name, "argument": argument or None})

    def do_PUT(self) -> None:
        self._json(405, {"error": "only GET and POST"})

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT  # no CORS preflight is ever granted

    def _local_host(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host in _LOCAL_NAMES:
            return True
        self._json(421, {"error": "this page answers only as 127.0.0.1 or localhost"})
        return False

    def _events(self) -> None:
        if not self.page.acquire_stream():
            self._json(503, {"error": "too many open event streams"})
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            live, version, seq = self.page.live, -1, 0
            while not live.closing.is_set():
                self.page.viewed()
                now_version, now_seq = live.wait(version, seq, _HEARTBEAT_S)
                out = b""
                if now_version != version:
                    out += _event("state", live.snapshot())
                if now_seq != seq:
                    out += _event("lines", live.lines_after(seq))
                self.wfile.write(out or b": idle\n\n")
                self.wfile.flush()
                version, seq = now_version, now_seq
        except (TimeoutError, OSError):  # the browser went away
            pass
        finally:
            self.close_connection = True
            self.page.release_stream()

    def _json(self, status: int, data: Any) -> None:
        self._send(status, "application/json", json.dumps(data, default=str).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n".encode()
