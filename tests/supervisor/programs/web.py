"""A small web app for watch and page tests: `web.py NAME [TICK_S]` answers 200 with
its name and pid on $PORT, prints `NAME serving on PORT (pid N)`, then a line every
TICK_S seconds (if given); exits 0 on SIGTERM, by itself after 300 s."""
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name = sys.argv[1]
tick = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
port = int(os.environ["PORT"])


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{name} {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Answer)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"{name} serving on {port} (pid {os.getpid()})", flush=True)
began, n = time.monotonic(), 0
while not stop.wait(tick or 1.0) and time.monotonic() - began < 300:
    if tick:
        n += 1
        print(f"{name} tick {n}", flush=True)
server.shutdown()
server.server_close()
