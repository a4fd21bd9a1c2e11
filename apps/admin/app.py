"""The reference admin page: static files, plus `GET /api/*` passed on to the API server.

    API_URL=http://127.0.0.1:3002 PORT=3001 python apps/admin/app.py
    # open http://localhost:3001/

The page and the API then share one origin, so the browser needs no CORS. Standard
library only, as a user's small app would be; no build step, nothing from a CDN. The HTTP
server is the standard library's, with the bounds of `apps/boundedhttp.py` (listen
backlog, request and idle timeouts).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # apps/, for boundedhttp
from boundedhttp import (  # noqa: E402
    BoundedHandler,
    BoundedHTTPServer,
    Timeouts,
    is_probe,
    log_line,
)

HOST = "127.0.0.1"
DEFAULT_PORT = 3001
DEFAULT_API_URL = "http://127.0.0.1:3002"
PROXY_TIMEOUT_S = 5.0
HERE = Path(__file__).resolve().parent
# Only these files are served: nothing else in the directory (app.py) leaks out.
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/admin.js": ("admin.js", "text/javascript; charset=utf-8"),
}


class AdminServer(BoundedHTTPServer):
    """Serves the page and proxies the API found at `api_url`."""

    def __init__(self, address: tuple[str, int], api_url: str, timeouts: Timeouts) -> None:
        super().__init__(address, Handler, timeouts)
        self.api_url = api_url.rstrip("/")


class Handler(BoundedHandler):
    """GET only: a static file, or `/api/...` fetched from the API server."""

    server: AdminServer

    def do_GET(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            status = self._proxy()
        elif path in STATIC:
            name, content_type = STATIC[path]
            status = self._send(200, content_type, (HERE / name).read_bytes())
        else:
            status = self._send_error(404, f"not found: {path}")
        if not is_probe(self.headers):
            self._log("GET", path, status, started)

    def do_POST(self) -> None:
        self._not_allowed("POST")

    def do_DELETE(self) -> None:
        self._not_allowed("DELETE")

    def _not_allowed(self, method: str) -> None:
        started = time.monotonic()
        status = self._send_error(405, f"method {method} not allowed: this page only reads")
        if not is_probe(self.headers):
            self._log(method, urlsplit(self.path).path, status, started)

    def _proxy(self) -> int:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):  # no DNS rebinding onto the API
            return self._send_error(421, "this page answers only as 127.0.0.1 or localhost")
        parts = urlsplit(self.path)
        target = self.server.api_url + parts.path + (f"?{parts.query}" if parts.query else "")
        request = urllib.request.Request(target, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=PROXY_TIMEOUT_S) as resp:
                return self._send(resp.status, resp.headers.get("Content-Type", "application/json"),
                                  resp.read())
        except urllib.error.HTTPError as exc:  # the API answered with an error: pass it on
            with exc:
                return self._send(exc.code, exc.headers.get("Content-Type", "application/json"),
                                  exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return self._send_error(502, f"API server unreachable at {self.server.api_url}: {reason}")
        except ValueError as exc:  # a path urllib refuses (control characters, non-ASCII)
            return self._send_error(400, f"invalid request path: {exc}")

    def _send_error(self, status: int, message: str) -> int:
        self.send_json(status, {"error": message})
        return status

    def _send(self, status: int, content_type: str, data: bytes) -> int:
        self.send_body(status, content_type, data)
        return status

    @staticmethod
    def _log(method: str, path: str, status: int, started: float) -> None:
        elapsed_ms = (time.monotonic() - started) * 1000
        log_line(f"{method} {path} {status} {elapsed_ms:.0f}ms")


def main() -> int:
    raw_port = os.environ.get("PORT", str(DEFAULT_PORT))
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        print(f"PORT must be a port number (1-65535), got {raw_port!r}", file=sys.stderr)
        return 2
    port = int(raw_port)
    try:
        timeouts = Timeouts.from_env(os.environ)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    api_url = os.environ.get("API_URL") or DEFAULT_API_URL
    try:
        server = AdminServer((HOST, port), api_url, timeouts)
    except OSError as exc:
        held = " (in use by another process; set another PORT)" if exc.errno == errno.EADDRINUSE else ""
        print(f"cannot listen on {HOST}:{port}: {exc.strerror}{held}", file=sys.stderr)
        return 1

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    print(f"Admin listening on http://localhost:{port}", flush=True)
    print(f"Passing /api/* on to {api_url}", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    print("Admin stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
