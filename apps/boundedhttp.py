"""The standard library's threading HTTP server, with the bounds a server facing bursts
and slow clients needs. Shared by both reference apps (they put `apps/` on sys.path).

    class Server(BoundedHTTPServer): ...
    class Handler(BoundedHandler):
        def do_POST(self) -> None:
            body = self.read_body(10 * 1024 * 1024)   # bytes, or HttpError (400/411/413)
    server = Server(("127.0.0.1", 3002), Handler, Timeouts.from_env(os.environ))

What it adds to `http.server.ThreadingHTTPServer`:
- a listen backlog of LISTEN_BACKLOG (the class's default is 5: a burst of 200
  connections then waits on SYN retransmits, some for longer than 30 s);
- HTTP/1.1 keep-alive, with an idle bound: a connection with no request under way (a new
  one that sends nothing, or a kept-alive one between requests) is closed after
  `idle_s`;
- a request bound: once its first byte has arrived, a request (head and body) must be
  complete within `request_s`, however the bytes are trickled (slowloris); past it the
  client gets 408 and the connection is closed. Each response write is bounded by
  `request_s` as well;
- the body read strictly: one Content-Length, at most a given size, all of it, else
  400/411/413; a response given without reading the body closes the connection, so
  nothing left over is parsed as the next request;
- a client that goes away is one log line, not a traceback.
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["LISTEN_BACKLOG", "BoundedHTTPServer", "BoundedHandler", "HttpError", "Timeouts",
           "is_probe", "log_line"]

# What `listen()` is given; Linux caps it at net.core.somaxconn (4096 by default).
LISTEN_BACKLOG = 1024
DEFAULT_REQUEST_TIMEOUT_S = 10.0
DEFAULT_IDLE_TIMEOUT_S = 5.0
# Closing a socket with unread bytes sends a reset, which can destroy the answer on its
# way to the client: what was not read is first drained, within these bounds.
LINGER_S = 2.0
LINGER_BYTES = 1 << 20

_DIGITS = re.compile(r"[0-9]+")
_output_lock = threading.Lock()


class HttpError(Exception):
    """A failure answered as `{"error": message}` with `status`: HttpError(404, "no such document")."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


PROBE_AGENT = "workspace-probe/"  # the launcher's health probes: left out of access logs


def is_probe(headers: Message) -> bool:
    """Whether a request is the launcher's health probe (User-Agent workspace-probe/...)."""
    return str(headers.get("User-Agent", "")).startswith(PROBE_AGENT)


def log_line(text: str) -> None:
    """One line on stdout, whole even when threads write at once."""
    with _output_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


@dataclass(frozen=True)
class Timeouts:
    request_s: float = DEFAULT_REQUEST_TIMEOUT_S
    idle_s: float = DEFAULT_IDLE_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Timeouts:
        """REQUEST_TIMEOUT_S and IDLE_TIMEOUT_S (seconds, > 0); ValueError naming the
        variable when one is not a positive number."""
        values = []
        for name, default in (("REQUEST_TIMEOUT_S", DEFAULT_REQUEST_TIMEOUT_S),
                              ("IDLE_TIMEOUT_S", DEFAULT_IDLE_TIMEOUT_S)):
            raw = environ.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
            values.append(value)
        return cls(*values)


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each recv bounded by the deadline in force: the idle one until
    a request's first byte arrives, then the request's own."""

    def __init__(self, sock: socket.socket, timeouts: Timeouts) -> None:
        super().__init__()
        self._sock = sock
        self._timeouts = timeouts
        self._idle_until = 0.0
        self._request_until: float | None = None
        self.timed_out = False

    def await_request(self) -> None:
        """A new request may come: the idle bound runs from now."""
        self._idle_until = time.monotonic() + self._timeouts.idle_s
        self._request_until = None
        self.timed_out = False

    @property
    def request_started(self) -> bool:
        return self._request_until is not None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        until = self._idle_until if self._request_until is None else self._request_until
        remaining = until - time.monotonic()
        if remaining <= 0:
            self.timed_out = True
            raise TimeoutError("the request was not complete in time")
        self._sock.settimeout(remaining)
        try:
            received = self._sock.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        finally:
            self._sock.settimeout(self._timeouts.request_s)  # for the writes
        if received and self._request_until is None:
            self._request_until = time.monotonic() + self._timeouts.request_s
        return received


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a listen backlog for bursts and the handlers' timeouts."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BoundedHandler],
                 timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away or stalled (OSError) is one line; anything else is a
        bug and keeps its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log_line(f"- - connection from {client_address} dropped: "
                     f"{exc.strerror or type(exc).__name__}")
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class BoundedHandler(BaseHTTPRequestHandler):
    """BaseHTTPRequestHandler speaking HTTP/1.1 within the server's Timeouts."""

    protocol_version = "HTTP/1.1"
    server: BoundedHTTPServer
    _final = True  # the response being written is a final one (not 100 Continue)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the makefile() one: ours reads the same socket, with deadlines
        self._reader = _DeadlineReader(self.connection, self.server.timeouts)
        self.rfile = io.BufferedReader(self._reader)
        self.connection.settimeout(self.server.timeouts.request_s)
        self._body_unread = False
        self._answered = False
        self._connection_header = False

    def handle_one_request(self) -> None:
        self._reader.await_request()
        self._body_unread = self._answered = self._connection_header = False
        self.command, self.request_version = "", "HTTP/1.1"  # until a head is parsed
        super().handle_one_request()  # a timeout there closes the connection
        if self._reader.timed_out and self._reader.request_started and not self._answered:
            self.answer_timeout()

    def finish(self) -> None:
        super().finish()
        if self._body_unread:
            self._linger()

    def _linger(self) -> None:
        """Our side shut, read and drop what the client still sends (bounded), so that
        closing does not reset the connection before the client read the answer."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            until, drained = time.monotonic() + LINGER_S, 0
            while drained < LINGER_BYTES and (left := until - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass  # gone, reset or too slow: closing is all that is left

    def answer_timeout(self) -> None:
        """408, for a request that started and did not finish within `request_s`."""
        self.close_connection = True
        seconds = f"{self.server.timeouts.request_s:g}"
        self.send_json(408, {"error": f"request not complete within {seconds}s"})
        log_line(f"{self.command or '-'} - 408 slow client dropped after {seconds}s")

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            length = self.headers.get("Content-Length", "0").strip()
            self._body_unread = length != "0" or "Transfer-Encoding" in self.headers
        return ok

    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._final = code >= 200  # not a 100 Continue
        self._answered = self._answered or self._final
        super().send_response_only(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        if self._final and keyword.lower() == "connection":
            self._connection_header = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        if self._final and not self._connection_header:
            if self._body_unread or self.close_connection:
                self.send_header("Connection", "close")  # also sets close_connection
            elif self.request_version == "HTTP/1.0":  # it asked for keep-alive: confirm it
                self.send_header("Connection", "keep-alive")
        super().end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the apps write one line per request themselves."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base's name
        log_line(f"- - {format % args}")

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002 - base's name
        if not self._reader.timed_out:  # a timeout is answered (408) and logged, or idle
            self.log_message(format, *args)

    def read_body(self, max_bytes: int) -> bytes:
        """The body, exactly Content-Length bytes; HttpError 400 (a bad, repeated or
        untrue Content-Length), 411 (chunked) or 413 (larger than `max_bytes`)."""
        if "Transfer-Encoding" in self.headers:
            raise HttpError(411, "send the body with a Content-Length header "
                                 "(chunked bodies are not accepted)")
        lengths = self.headers.get_all("Content-Length") or ["0"]
        if len(lengths) > 1:
            raise HttpError(400, "more than one Content-Length header")
        raw = lengths[0].strip()
        if not _DIGITS.fullmatch(raw):
            raise HttpError(400, f"invalid Content-Length header {raw[:20]!r}: "
                                 "expected a number of bytes")
        length = int(raw)
        if length > max_bytes:
            raise HttpError(413, f"request body larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        received = 0
        try:
            while received < length:
                chunk = self.rfile.read1(min(length - received, 1 << 16))
                if not chunk:
                    raise HttpError(400, f"request body ended after {received} of the "
                                         f"{length} bytes its Content-Length announced")
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            raise HttpError(400, f"request body shorter than its Content-Length: {received} "
                                 f"of {length} bytes arrived within "
                                 f"{self.server.timeouts.request_s:g}s") from None
        self._body_unread = False
        return b"".join(chunks)

    def send_json(self, status: int, data: bytes | object) -> None:
        """Answer `data` (JSON bytes, or a value json.dumps takes); a client gone is no error."""
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_body(status, "application/json", body)

    def send_body(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away or stopped reading
