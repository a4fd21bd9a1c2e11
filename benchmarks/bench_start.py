#!/usr/bin/env python
"""Benchmark `workspace start` on the embedded default: time to both reference apps
ready, by phase, and time from Ctrl-C to every process gone.

    python benchmarks/bench_start.py [--runs 5] [--quick] [--tmpdir /dev/shm]

Creates a temp project (the repository's migrations/ and apps/, a config.yaml with the
embedded server and both apps on free ports) and, per run:

  a. first run: `.workspace/` removed (initdb, migrate, validate cold, then the apps)
  b. warm: the cluster exists and is stopped, migrations applied, the cache present

Each is `workspace start --json` as a subprocess: the wall clock from spawn to its
`running` event (both apps ready), broken down by the step events and the apps' phase;
then SIGINT to its process group (a terminal's Ctrl-C) and the wall clock until the
launcher exited and until no process of the project is left in the process table
(apps and the embedded postmaster included).

The baseline, measured in the same run, is what the parts need on their own: PostgreSQL
(bench_up's initdb + `pg_ctl start -w` + first connection for a, `pg_ctl start -w` +
first connection for b) plus the two apps started by hand one after the other, each
until its HTTP endpoint answers 200; for Ctrl-C, SIGTERM to the two apps until they have
exited plus `pg_ctl stop -m fast -w`. Ratios are of medians. Nothing is asserted: the
exit status is non-zero only when a command fails or its result is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import yaml

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - needs the path above
    BenchError,
    bench_main,
    clean_env,
    free_port,
    print_table,
    require_ok,
    run_timed,
    workspace_command,
)
from bench_up import Project, baseline_cold, baseline_start, pg_ctl_start, pg_ctl_stop  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WAIT_S = 120.0
APPS = ("server", "admin")


@dataclass
class Ports:
    pg: int = field(default_factory=free_port)
    server: int = field(default_factory=free_port)
    admin: int = field(default_factory=free_port)


def write_project(root: Path, ports: Ports) -> None:
    shutil.copytree(REPO / "migrations", root / "migrations")
    shutil.copytree(REPO / "apps", root / "apps",
                    ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["embedded"]["port"] = ports.pg
    api = f"http://127.0.0.1:{ports.server}"
    config["apps"]["server"].update(port=ports.server, ready={"http": f"{api}/health"})
    config["apps"]["admin"].update(port=ports.admin,
                                   ready={"http": f"http://127.0.0.1:{ports.admin}/"},
                                   env={"API_URL": api})
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def project_processes(root: Path) -> list[int]:
    """Every process of the project: cwd inside it, or its path on the command line."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if str(root) in " ".join(info["cmdline"] or []) or \
                (info["cwd"] or "").startswith(str(root)):
            found.append(info["pid"])
    return found


# -- one `workspace start` -------------------------------------------------------------


@dataclass
class StartSample:
    ready_s: float  # spawn -> `running` event
    steps: dict[str, float]  # step name -> duration_s
    before_steps_s: float  # spawn -> first step event - its duration (process + imports)
    apps_s: float  # last step event -> `running` (spawn, probes, both apps ready)
    exit_s: float  # SIGINT -> launcher exited
    gone_s: float  # SIGINT -> no process of the project left


def timed_start(project: Project, env: dict[str, str], what: str) -> StartSample:
    began = time.perf_counter()
    proc = subprocess.Popen([*workspace_command(), "start", "--json"], cwd=project.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
    drain.start()
    steps: dict[str, float] = {}
    first_step_at = last_step_at = 0.0
    running_at = None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            event = json.loads(line)
            now = time.perf_counter() - began
            if event.get("event") == "step":
                if event.get("status") not in ("ok", "warning", "skipped"):
                    raise BenchError(f"{what}: step {event.get('name')} {event.get('status')}")
                steps[event["name"]] = float(event["duration_s"])
                if not first_step_at:
                    first_step_at = now - float(event["duration_s"])
                last_step_at = now
            elif event.get("event") == "running":
                states = {a["name"]: a["state"] for a in event["apps"]}
                if states != dict.fromkeys(APPS, "ready"):
                    raise BenchError(f"{what}: apps not ready: {states}")
                running_at = now
                break
            elif event.get("event") == "error":
                raise BenchError(f"{what}: {event.get('code')}: {event.get('message')}")
        if running_at is None:
            raise BenchError(f"{what}: exited {proc.wait(WAIT_S)} before the apps were "
                             f"ready:\n{''.join(stderr)[-2000:]}")
        check_apps_answer(project)
        interrupted = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(WAIT_S)
        exit_s = time.perf_counter() - interrupted
        if code != 130:
            raise BenchError(f"{what}: exit {code} after Ctrl-C, not 130")
        deadline = time.monotonic() + WAIT_S
        while project_processes(project.root):
            if time.monotonic() > deadline:
                raise BenchError(f"{what}: processes left: {project_processes(project.root)}")
            time.sleep(0.005)
        gone_s = time.perf_counter() - interrupted
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        drain.join(5)
        if proc.stderr is not None:
            proc.stderr.close()
    return StartSample(running_at, steps, first_step_at, running_at - last_step_at,
                       exit_s, gone_s)


def check_apps_answer(project: Project) -> None:
    """Both apps really serve: the server's health, the admin page."""
    config = yaml.safe_load((project.root / "config.yaml").read_text())
    for name in APPS:
        url = config["apps"][name]["ready"]["http"]
        status = httpx.get(url, timeout=5, trust_env=False).status_code
        if status != 200:
            raise BenchError(f"{name}: {url} answered {status}")


# -- the parts on their own (the baseline) ---------------------------------------------


@dataclass
class ByHand:
    apps_ready_s: float  # server then admin, each until it answers 200
    apps_stop_s: float  # SIGTERM to both -> both exited
    pg_stop_s: float  # pg_ctl stop -m fast -w


def apps_by_hand(project: Project, env: dict[str, str]) -> ByHand:
    """The server's database is the project's (migrated): started with pg_ctl, as the
    baseline of (b) leaves it stopped."""
    config = yaml.safe_load((project.root / "config.yaml").read_text())
    pg_ctl_start(project.data_dir, project.port)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        app_env = {**env, "DATABASE_URL": project.server().url(), "PYTHONUNBUFFERED": "1"}
        began = time.perf_counter()
        for name in APPS:
            app = config["apps"][name]
            procs.append(subprocess.Popen(
                [sys.executable, *app["command"].split()[1:]], cwd=project.root,
                env={**app_env, **app.get("env", {}), "PORT": str(app["port"])},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
            wait_http(app["ready"]["http"], procs[-1])
        ready_s = time.perf_counter() - began
        began = time.perf_counter()
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(WAIT_S)
        stop_s = time.perf_counter() - began
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        began = time.perf_counter()
        pg_ctl_stop(project.data_dir)
    return ByHand(ready_s, stop_s, time.perf_counter() - began)


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    with httpx.Client(trust_env=False, timeout=1) as client:
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{url}: the app exited with {proc.returncode}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{url} never answered 200")
            time.sleep(0.005)


# -- runs and the report ---------------------------------------------------------------


@dataclass
class Results:
    first: list[StartSample] = field(default_factory=list)
    warm: list[StartSample] = field(default_factory=list)
    pg_first: list[float] = field(default_factory=list)
    pg_warm: list[float] = field(default_factory=list)
    by_hand: list[ByHand] = field(default_factory=list)


def one_run(project: Project, scratch: Path, env: dict[str, str], results: Results) -> None:
    shutil.rmtree(project.state, ignore_errors=True)
    results.first.append(timed_start(project, env, "workspace start (a, first run)"))
    results.warm.append(timed_start(project, env, "workspace start (b, warm)"))
    initdb_s, start_s = baseline_cold(scratch)
    results.pg_first.append(initdb_s + start_s)
    results.pg_warm.append(baseline_start(project))
    results.by_hand.append(apps_by_hand(project, env))


def med(values: list[float]) -> float:
    return statistics.median(values)


def print_report(r: Results, runs: int) -> None:
    apps = med([b.apps_ready_s for b in r.by_hand])
    print()
    print(f"1. `workspace start` to both reference apps ready, embedded PostgreSQL; {runs} "
          "run(s); medians, wall clock seconds")
    rows: list[tuple[str, ...]] = []
    for label, samples, pg in (("a. first run (initdb, migrate, validate cold)", r.first,
                                r.pg_first),
                               ("b. warm (cluster stopped, cache present)", r.warm, r.pg_warm)):
        ready = [s.ready_s for s in samples]
        base = med(pg) + apps
        rows.append((label, f"{med(ready):.3f}", f"{min(ready):.3f}", f"{max(ready):.3f}",
                     f"{base:.3f}", f"{med(ready) / base:.2f}x"))
    print_table(("variant", "median", "min", "max", "baseline (PG + apps by hand)",
                 "x baseline"), rows)
    print(f"   baseline parts: PG first {med(r.pg_first):.3f}, PG warm {med(r.pg_warm):.3f}, "
          f"apps by hand (server then admin until 200) {apps:.3f}")

    print()
    print("2. By phase (median s)")
    names = list(r.first[0].steps)
    rows = [("process start, imports", f"{med([s.before_steps_s for s in r.first]):.3f}",
             f"{med([s.before_steps_s for s in r.warm]):.3f}")]
    rows += [(f"step {n}", f"{med([s.steps.get(n, 0.0) for s in r.first]):.3f}",
              f"{med([s.steps.get(n, 0.0) for s in r.warm]):.3f}") for n in names]
    rows.append(("apps: spawn, probes, both ready", f"{med([s.apps_s for s in r.first]):.3f}",
                 f"{med([s.apps_s for s in r.warm]):.3f}"))
    rows.append(("total to ready", f"{med([s.ready_s for s in r.first]):.3f}",
                 f"{med([s.ready_s for s in r.warm]):.3f}"))
    print_table(("phase", "a. first run", "b. warm"), rows)

    print()
    print("3. Ctrl-C to every process gone (median s)")
    all_runs = r.first + r.warm
    stop_base = med([b.apps_stop_s + b.pg_stop_s for b in r.by_hand])
    gone = [s.gone_s for s in all_runs]
    print_table(("", "median", "min", "max", "x baseline"), [
        ("SIGINT -> launcher exited (130)", f"{med([s.exit_s for s in all_runs]):.3f}",
         f"{min(s.exit_s for s in all_runs):.3f}", f"{max(s.exit_s for s in all_runs):.3f}",
         ""),
        ("SIGINT -> no process of the project left", f"{med(gone):.3f}", f"{min(gone):.3f}",
         f"{max(gone):.3f}", f"{med(gone) / stop_base:.2f}x"),
        ("baseline: SIGTERM apps until exited + pg_ctl stop -m fast -w", f"{stop_base:.3f}",
         "", "", "1.00x"),
    ])


@bench_main
def main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="runs (default 5; 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke test: --runs 2")
    p.add_argument("--tmpdir", type=Path, default=None,
                   help="where the project goes (default: the system temp directory)")
    args = p.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-start-", dir=args.tmpdir))
    ports = Ports()
    project = Project(tmp / "project", ports.pg)
    try:
        write_project(project.root, ports)
        print(f"project {project.root}; warm-up (one untimed first run) ...", flush=True)
        timed_start(project, env, "warm-up")
        results = Results()
        for i in range(1, runs + 1):
            one_run(project, tmp / "baseline", env, results)
            print(f"run {i}/{runs}: first {results.first[-1].ready_s:.3f} s, warm "
                  f"{results.warm[-1].ready_s:.3f} s, Ctrl-C -> gone "
                  f"{results.warm[-1].gone_s:.3f} s", flush=True)
        print_report(results, runs)
        return 0
    finally:
        _, down = run_timed([*workspace_command(), "down"], cwd=project.root, env=env)
        require_ok(down, "workspace down")
        left = project_processes(project.root)
        if left:
            print(f"warning: processes left, so kept {tmp}: {left}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(None))
