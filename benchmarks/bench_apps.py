#!/usr/bin/env python
"""Benchmark the reference apps under 200 concurrent clients: requests/s, p50 and p99.

    python benchmarks/bench_apps.py [--runs 5] [--clients 200] [--duration 3] [--quick]

Starts its own embedded PostgreSQL (temp directory, free port), a migrated database with
a few documents, `apps/server/app.py` and `apps/admin/app.py` in front of it, as real
processes with their default settings. Each run then drives, in turn, with `--clients`
kept-alive connections (asyncio, raw HTTP/1.1, one request at a time per connection)
for `--duration` seconds each:

  a. server  GET /health                   (a connection to PostgreSQL and SELECT 1)
  b. server  GET /api/documents?limit=10   (a connection and two queries)
  c. admin   GET /api/documents?limit=10   (the proxy: a new connection to the server)
  d. admin   GET /admin.js                 (baseline: a static file, no database)

and prints medians over the runs of requests/s, p50 and p99 latency, each variant's
requests/s as a fraction of the baseline's (d), and the failed requests (any answer
other than 200, or a client error), which make it exit 1. Standard library + workspace's
own dependencies only; the apps and the server are stopped and the temp directory
removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - needs the path above
    Admin,
    BenchError,
    bench_main,
    clean_env,
    finish,
    free_port,
    machine_facts,
    print_facts,
    print_table,
)

from workspace.deps.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = 20
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0  # the client's bound on one answer


@dataclass
class Target:
    key: str
    label: str
    app: str  # "server" or "admin"
    path: str
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    failed: int = 0  # over all runs
    examples: set[str] = field(default_factory=set)


TARGETS = [
    Target("a", "server GET /health", "server", "/health"),
    Target("b", "server GET /api/documents?limit=10", "server", "/api/documents?limit=10"),
    Target("c", "admin GET /api/documents?limit=10 (proxy)", "admin", "/api/documents?limit=10"),
    Target("d", "admin GET /admin.js (baseline, no database)", "admin", "/admin.js"),
]


# -- the apps --------------------------------------------------------------------------


class App:
    """One reference app as a subprocess, its output kept (the last lines on failure)."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str], ready: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, str(cwd / "apps" / name / "app.py")],
                                     cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(ready in line for line in list(self.lines)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{name} did not print {ready!r}:\n" + "\n".join(self.lines[-15:]))
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# -- the load --------------------------------------------------------------------------


@dataclass
class Load:
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def _one_client(port: int, path: str, until: float, load: Load) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    writer = None
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status_line = await reader.readline()
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            load.latencies_s.append(time.perf_counter() - started)
            status = status_line.split(b" ", 2)[1:2]
            if status != [b"200"]:
                load.failures.append(f"{path}: {status_line.decode('latin-1').strip()!r}")
            if close:
                writer.close()
                writer = None
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        load.failures.append(f"{path}: {exc!r}")
    finally:
        if writer is not None:
            writer.close()


async def _drive(port: int, path: str, clients: int, duration_s: float) -> tuple[Load, float]:
    load = Load()
    started = time.perf_counter()
    until = started + duration_s
    tasks = [asyncio.create_task(_one_client(port, path, until, load)) for _ in range(clients)]
    done, pending = await asyncio.wait(tasks, timeout=duration_s + REQUEST_TIMEOUT_S)
    for task in pending:
        task.cancel()
        load.failures.append(f"{path}: no answer within {REQUEST_TIMEOUT_S:g}s after the end")
    return load, time.perf_counter() - started


def drive(target: Target, port: int, clients: int, duration_s: float) -> None:
    """Add one run's requests/s, p50 and p99 (ms) of `clients` connections for
    `duration_s` to `target`, and its failures."""
    load, elapsed_s = asyncio.run(_drive(port, target.path, clients, duration_s))
    if len(load.latencies_s) < 100:
        raise BenchError(f"{target.path}: only {len(load.latencies_s)} answers; "
                         f"failures: {sorted(set(load.failures))[:3]}")
    cuts = statistics.quantiles(load.latencies_s, n=100)
    target.rps.append(len(load.latencies_s) / elapsed_s)
    target.p50_ms.append(cuts[49] * 1000)
    target.p99_ms.append(cuts[98] * 1000)
    target.failed += len(load.failures)
    target.examples.update(sorted(set(load.failures))[:3])


# -- main ------------------------------------------------------------------------------


def seed(api: str) -> None:
    for n in range(DOCUMENTS):
        body = f'{{"title": "doc {n}", "content": "first\\n\\nsecond {n}"}}'.encode()
        req = urllib.request.Request(f"{api}/api/documents", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 201:
                raise BenchError(f"seeding: POST /api/documents answered {resp.status}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="runs (default 5; 2 with --quick)")
    p.add_argument("--clients", type=int, default=200, help="concurrent connections")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per variant and run (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke test: --runs 2 --duration 1")
    p.add_argument("--tmpdir", type=Path, default=None,
                   help="where the temp directory goes (e.g. /dev/shm)")
    args = p.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 5)
    args.duration = args.duration or (1.0 if args.quick else 3.0)
    if args.runs < 1 or args.clients < 1 or args.duration <= 0:
        p.error("--runs, --clients and --duration must be positive")
    return args


@bench_main
def main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-apps-", dir=args.tmpdir))
    srv = EmbeddedPostgres(tmp / "data", port=free_port(), database="postgres")
    apps: list[App] = []
    try:
        project = tmp / "project"
        shutil.copytree(REPO / "migrations", project / "migrations")
        shutil.copytree(REPO / "apps", project / "apps",
                        ignore=shutil.ignore_patterns("__pycache__"))
        print(f"starting embedded PostgreSQL in {srv.data_dir} on port {srv.port} ...",
              flush=True)
        srv.start()
        admin_db = Admin(srv)
        facts = machine_facts(admin_db)
        url = admin_db.create("bench_apps")
        max_connections = Admin.scalar(url, "SHOW max_connections")
        ports = {"server": free_port(), "admin": free_port()}
        env = clean_env()
        apps.append(App("server", project, {**env, "DATABASE_URL": url,
                                            "PORT": str(ports["server"])},
                        f"API listening on port {ports['server']}"))
        api = f"http://127.0.0.1:{ports['server']}"
        apps.append(App("admin", project, {**env, "PORT": str(ports["admin"]), "API_URL": api},
                        "Admin listening"))
        seed(api)

        for run in range(1, args.runs + 1):
            for target in TARGETS:
                drive(target, ports[target.app], args.clients, args.duration)
            print(f"run {run}/{args.runs}: " + "  ".join(
                f"{t.key}={t.rps[-1]:.0f}/s" for t in TARGETS), flush=True)

        print()
        print_facts([*facts, ("PostgreSQL max_connections", str(max_connections)),
                     ("server", "defaults: at most DB_MAX_CONNECTIONS=10 connections, reused")])
        print(f"\n{args.clients} concurrent kept-alive clients, {args.duration:g} s per "
              f"variant, medians of {args.runs} runs")
        baseline = statistics.median(TARGETS[-1].rps)
        print_table(
            ["variant", "req/s", "p50 ms", "p99 ms", "req/s vs d", "failed"],
            [[f"{t.key}. {t.label}", f"{statistics.median(t.rps):.0f}",
              f"{statistics.median(t.p50_ms):.0f}", f"{statistics.median(t.p99_ms):.0f}",
              f"{statistics.median(t.rps) / baseline:.2f}", str(t.failed)] for t in TARGETS])
        failed = [t for t in TARGETS if t.failed]
        for t in failed:
            print(f"{t.key}: {t.failed} requests failed (not 200, or no answer), e.g. "
                  f"{sorted(t.examples)[:3]}", file=sys.stderr)
        return 1 if failed else 0
    finally:
        for app in reversed(apps):
            app.stop()
        finish(srv, tmp)


if __name__ == "__main__":
    sys.exit(main(None))
