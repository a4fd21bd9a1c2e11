"""Answer 503 on /health for the first DELAY seconds, then 200."""
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, delay = int(sys.argv[1]), float(sys.argv[2])
started = time.monotonic()


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = time.monotonic() - started >= delay
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


print(f"listening on {port}")
HTTPServer(("127.0.0.1", port), Health).serve_forever()
