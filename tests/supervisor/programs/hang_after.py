"""Answer 200 on /health, then stop answering (hang) after DELAY seconds: on its first
run only (counted in a file), so a restarted one stays healthy."""
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

port, delay, counter = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
runs = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(runs + 1))
started = time.monotonic()


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if runs == 0 and time.monotonic() - started >= delay:
            time.sleep(60)  # hung: no answer, bounded so a failed test leaves nothing long
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


print(f"listening on {port} (run {runs + 1})", flush=True)
HTTPServer(("127.0.0.1", port), Health).serve_forever()
