#!/usr/bin/env python
"""Benchmark the live side of `workspace start`: file watch, live migrations, idle cost.

    python benchmarks/bench_live.py [--saves 7] [--migrations 5] [--idle-s 20] [--quick]

Creates a temp project (the repository's migrations/, five small standard-library web
apps, app0 watching src/app0, app1 depending on app0) and runs `workspace start` in the
foreground on the embedded server. Then:

  a. save -> answering again: a file under src/app0 is written; the wall clock until
     app0 answers HTTP from a new process (its answer carries its pid). Baseline, in
     the same run: the same app started by hand until its first answer (what any
     restart costs at least).
  b. migration added -> applied and validated: a new `NNNN_bench.sql` is written; the
     wall clock until the page's state shows it applied and a validation finished after
     it. Baseline: `workspace db migrate` then `workspace db validate` run by hand for
     an equivalent file.
  c. the launcher's CPU while idle with the 5 apps (psutil: user+system time of the
     launcher process only, over --idle-s seconds), as a percentage of one core: with
     the page and watch on, nobody looking; with an event stream open (a browser on the
     page); and, as baseline, a second launcher with the page and every watch off.

Medians of the samples; ratios of medians. Nothing asserted, but the aim (c under 1% of a
core) is printed beside the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchError, clean_env, free_port, print_table, workspace_command  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
APPS = 5
WEB_APP = '''\
import os, signal, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
threading.Thread(target=s.serve_forever, daemon=True).start()
print("serving", flush=True)
stop.wait(600)
'''


def answer(port: int) -> str | None:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/", timeout=1, trust_env=False)
        return r.text if r.status_code == 200 else None
    except httpx.HTTPError:
        return None


def wait(condition: Any, timeout_s: float, what: str, poll_s: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(poll_s)
    return value


class Launcher:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*workspace_command(), "start"], cwd=root, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.page = ""
        self.token = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 180) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None:
                raise BenchError(f"workspace start exited {self.proc.returncode}:\n"
                                 + "\n".join(self.lines[-20:]))
            return next((ln for ln in list(self.lines) if text in ln), None)
        line: str = wait(found, timeout_s, text, poll_s=0.05)
        return line

    def ready(self, with_page: bool) -> None:
        if with_page:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)#key=(\S+)",
                              self.wait_for("Workspace page: "))
            assert found
            self.page, self.token = found.group(1), found.group(2)
        self.wait_for("all apps ready")

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(self.page + "api/state", timeout=5,
                                           trust_env=False).json()
        return result

    def stop(self) -> None:
        os.killpg(self.proc.pid, 2)
        self.proc.wait(timeout=60)


def configure(root: Path, ports: list[int], pg_port: int, *, live: bool) -> None:
    apps: dict[str, Any] = {}
    for i, port in enumerate(ports):
        apps[f"app{i}"] = {"command": [sys.executable, "web.py"], "port": port,
                           "ready": {"http": f"http://127.0.0.1:{port}/"}}
    apps["app1"]["depends_on"] = ["app0"]
    if live:
        apps["app0"]["watch"] = {"paths": ["src/app0"], "debounce_s": 0.1}
    config = {"embedded": {"port": pg_port}, "apps": apps, "supervisor": {"stop_grace_s": 2},
              "page": {"enabled": live}, "migrations": {"watch": live}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))


def cpu_percent(pid: int, seconds: float) -> float:
    proc = psutil.Process(pid)
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / seconds


def launcher_pid(launcher: Launcher) -> int:
    """The Python process of `workspace start` (the console script may exec directly)."""
    return launcher.proc.pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--saves", type=int, default=7)
    parser.add_argument("--migrations", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="--saves 3 --migrations 2 --idle-s 5")
    args = parser.parse_args()
    if args.quick:
        args.saves, args.migrations, args.idle_s = 3, 2, 5.0
    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    root = tmp / "project"
    shutil.copytree(REPO / "migrations", root / "migrations")
    (root / "web.py").write_text(WEB_APP)
    (root / "src" / "app0").mkdir(parents=True)
    (root / "src" / "app0" / "main.py").write_text("v0\n")
    ports = [free_port() for _ in range(APPS)]
    pg_port = free_port()
    rows: list[list[str]] = []
    try:
        # -- baselines that need no launcher ------------------------------------------------
        by_hand = []
        for _ in range(args.saves):
            began = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "web.py"], cwd=root,
                                    env={**env, "PORT": str(ports[0])},
                                    stdout=subprocess.DEVNULL)
            wait(lambda: answer(ports[0]), 30, "the app started by hand")
            by_hand.append(time.perf_counter() - began)
            proc.terminate()
            proc.wait(timeout=10)

        configure(root, ports, pg_port, live=True)
        launcher = Launcher(root, env)
        launcher.ready(with_page=True)
        try:
            # -- a. save -> answering again --------------------------------------------------
            saves = []
            for i in range(args.saves):
                before = wait(lambda: answer(ports[0]), 30, "app0")
                time.sleep(0.3)
                began = time.perf_counter()
                (root / "src" / "app0" / "main.py").write_text(f"v{i + 1}\n")
                wait(lambda b=before: (a := answer(ports[0])) and a != b, 60, "app0 restarted")
                saves.append(time.perf_counter() - began)
                wait(lambda: all(a["state"] == "ready" for a in launcher.state()["apps"]), 60,
                     "every app ready again")
            # -- b. migration added -> applied and validated -------------------------------
            migrations = []
            for i in range(args.migrations):
                name = f"{1000 + i:04d}_bench.sql"
                began_wall, began = time.time(), time.perf_counter()
                (root / "migrations" / name).write_text(
                    f"CREATE TABLE IF NOT EXISTS kb.bench_live_{i} (id int PRIMARY KEY);\n")

                def done(n: str = name, t: float = began_wall) -> bool:
                    s = launcher.state()
                    rows_ = {r["name"]: r["state"] for r in s["migrations"]["rows"]}
                    v = s["validation"] or {}
                    return rows_.get(n) == "applied" and (v.get("at") or 0) > t \
                        and not (s["action"] or {}).get("running")
                wait(done, 120, f"{name} applied and validated", poll_s=0.01)
                migrations.append(time.perf_counter() - began)
            # -- c. idle ---------------------------------------------------------------------
            time.sleep(12)  # the page counts as looked at for 10 s after the last read
            pid = launcher_pid(launcher)
            idle = cpu_percent(pid, args.idle_s)
            stream_stop = threading.Event()

            def watch_page() -> None:
                with httpx.Client(trust_env=False, timeout=None) as client, \
                        client.stream("GET", launcher.page + "api/events") as resp:
                    for _ in resp.iter_lines():
                        if stream_stop.is_set():
                            return
            viewer = threading.Thread(target=watch_page, daemon=True)
            viewer.start()
            time.sleep(1)
            time.sleep(5)  # the first health probes (a new client) are not idle
            viewed = cpu_percent(pid, args.idle_s)
            stream_stop.set()
        finally:
            launcher.stop()
        # -- baselines with a launcher ----------------------------------------------------
        by_hand_migrations = []
        for i in range(args.migrations):
            name = f"{2000 + i:04d}_bench.sql"
            (root / "migrations" / name).write_text(
                f"CREATE TABLE IF NOT EXISTS kb.bench_hand_{i} (id int PRIMARY KEY);\n")
            began = time.perf_counter()
            for cmd in (["db", "migrate"], ["db", "validate"]):
                done_cmd = subprocess.run([*workspace_command(), *cmd], cwd=root, env=env,
                                          capture_output=True, text=True, timeout=300)
                if done_cmd.returncode != 0:
                    raise BenchError(f"{cmd}: {done_cmd.stdout[-2000:]}{done_cmd.stderr[-2000:]}")
            by_hand_migrations.append(time.perf_counter() - began)
        configure(root, ports, pg_port, live=False)
        plain = Launcher(root, env)
        plain.ready(with_page=False)
        try:
            time.sleep(2)
            baseline_idle = cpu_percent(launcher_pid(plain), args.idle_s)
        finally:
            plain.stop()
        subprocess.run([*workspace_command(), "down"], cwd=root, env=env,
                       capture_output=True, timeout=120)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms"

    rows = [
        ["a. save -> app0 answering again", ms(saves), ms(by_hand),
         f"{statistics.median(saves) / statistics.median(by_hand):.1f}x", f"n={len(saves)}"],
        ["b. migration added -> applied + validated", ms(migrations), ms(by_hand_migrations),
         f"{statistics.median(migrations) / statistics.median(by_hand_migrations):.2f}x",
         f"n={len(migrations)}"],
        ["c. launcher CPU idle, 5 apps, nobody looking", f"{idle:.2f}%",
         f"{baseline_idle:.2f}%", f"{'under' if idle < 1 else 'OVER'} 1% aim",
         f"{args.idle_s:g} s"],
        ["c'. same, the page open (event stream)", f"{viewed:.2f}%", f"{baseline_idle:.2f}%",
         f"{'under' if viewed < 1 else 'OVER'} 1% aim", f"{args.idle_s:g} s"],
    ]
    print_table(["measure", "median", "baseline", "ratio", "samples"], rows)
    print("baselines: a. the app started by hand until its first answer; b. `workspace db "
          "migrate` + `workspace db validate` by hand; c. a launcher with page and watch off")
    print(json.dumps({"saves_s": saves, "migrations_s": migrations, "idle_pct": idle,
                      "viewed_pct": viewed, "baseline_idle_pct": baseline_idle}))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"bench_live: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
