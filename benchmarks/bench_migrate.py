#!/usr/bin/env python
"""Benchmark `workspace db migrate` against what psql alone needs for the same SQL.

    python benchmarks/bench_migrate.py [--runs 5] [--count 500] [--quick] [--profile]

Starts its own embedded PostgreSQL (temp directory, free port), writes `--count`
generated migrations (2 statements each) into a temp project, and per run, each on
fresh databases, times as whole commands (wall clock):

  a. `workspace db migrate` applying everything (full apply)
  b. the same command again, nothing pending (no-op)
  c. floor 1: `psql -1 -f all.sql`, every file concatenated, one transaction
  d. floor 2: `psql -1 -f <file>` once per file, one transaction each
  e. in-process `workspace.startup.migrate_on_startup()` on (a)'s database (no-op path
     an app takes at every start), median of a few calls, plus the queries and
     connections it uses (counted by wrapping psycopg.connect / Connection.execute)
  f. floor for (b): `python -c` importing psycopg, connecting and running SELECT 1
  g. `workspace status` in the project (no workspace running: it exits 1 and says so)
  h. (a) as the first run on a fresh checkout: in a copy of the project without
     `.workspace/cache`, so it validates the configuration (pydantic) and parses every
     file (pglast), and writes both caches

The commands' bytecode is cached in the temp directory and warmed up first, as on an
installed workspace (--no-bytecode-cache: as the environment has it).

The variants are interleaved within each run so machine noise hits them alike: the
applies (a, h, c) in an order rotated from run to run, each on a database created just
before it and after the same settling (CHECKPOINT, then sync), and each database dropped
once its variant is done; so no apply pays for the writes of another (without it, the
apply that followed the drops of four 500-table databases ran up to 1.5x slower). Aims
are reported ("aim met"/"aim missed"), never enforced: the exit status is non-zero only
when a command fails or its result is wrong. Standard library + workspace's own
dependencies only; the server is stopped and the temp directory removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - needs the path above
    COMMAND_TIMEOUT_S,
    Admin,
    BenchError,
    Variant,
    bench_main,
    bytecode_cache,
    clean_env,
    clean_os_environ,
    finish,
    free_port,
    machine_facts,
    print_facts,
    print_table,
    profile_cli,
    require_ok,
    run_timed,
    workspace_command,
)

from workspace.db.files import find_migrations
from workspace.deps.embedded import EmbeddedPostgres, bin_dir
from workspace.output import redact
from workspace.startup import migrate_on_startup

NOOP_AIM_S = 0.3  # `workspace db migrate` with nothing pending
STARTUP_AIM_X = 1.2  # no-op migrate (b) and status (g) vs. the bare psycopg script (f), issue 13
FULL_APPLY_AIM_X = 1.3  # full apply vs. the one-transaction psql floor (issue 11)
APP_DATABASE = "bench_app"  # (a)'s, in every run
UP_TO_DATE = "All migrations up to date"
APPLIED_TOTAL = re.compile(r"(\d+) migrations? applied in ([\d.]+)(ms|s)\b")
# What a warm `db migrate` loads before it reads a file: the parser (the command modules
# import their work only when chosen), the cached configuration (no pydantic: see
# workspace/config/cache.py), the runner and psycopg, the backends' chooser. pglast only
# when a pending file is not in the parse cache (workspace/db/parse_cache.py); pydantic
# only when the configuration changed.
IMPORT_PROBE = ("import workspace.cli as c; c.build_parser(); "
                "import workspace.config.cache, workspace.db.runner, workspace.deps")
# floor for (b): a bare script that connects and asks one thing
BARE_PSYCOPG = ("import sys, psycopg\n"
                "with psycopg.connect(sys.argv[1]) as conn:\n"
                "    conn.execute('SELECT 1').fetchone()")


@dataclass
class Breakdown:
    """Pieces of (a) and (b), measured alongside them in each run."""
    imports: list[float] = field(default_factory=list)  # interpreter + imports + parser
    find: list[float] = field(default_factory=list)  # find_migrations(), in-process
    applied: list[float] = field(default_factory=list)  # runner's own "applied in" total


# -- the generated project -------------------------------------------------------------


def write_migrations(project: Path, count: int) -> tuple[list[Path], Path]:
    """`count` migrations of 2 statements each, and all of them concatenated (outside
    migrations/, which would reject the name)."""
    mdir = project / "migrations"
    mdir.mkdir(parents=True)
    width = max(4, len(str(count)))
    files = []
    for n in range(1, count + 1):
        num = f"{n:0{width}d}"
        table = f"bench_{num}"
        path = mdir / f"{num}_create_{table}.sql"
        path.write_text(
            f"CREATE TABLE IF NOT EXISTS {table} (\n"
            "    id bigint PRIMARY KEY,\n"
            "    name text NOT NULL,\n"
            "    created_at timestamptz NOT NULL DEFAULT now()\n"
            ");\n"
            f"CREATE INDEX IF NOT EXISTS {table}_created_at_idx ON {table} (created_at);\n")
        files.append(path)
    all_sql = project.parent / "all.sql"
    all_sql.write_text("".join(p.read_text() for p in files))
    return files, all_sql


# -- the database ----------------------------------------------------------------------


def check_schema(url: str, count: int, what: str) -> None:
    tables = Admin.scalar(url, "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
                               "AND relname LIKE 'bench\\_%'")
    indexes = Admin.scalar(url, "SELECT count(*) FROM pg_class WHERE relkind = 'i' "
                                "AND relname LIKE 'bench\\_%\\_created\\_at\\_idx'")
    if tables != count or indexes != count:
        raise BenchError(f"{what}: expected {count} bench tables and indexes, "
                         f"found {tables} and {indexes}")


# -- running and timing ----------------------------------------------------------------


def psql_command(url: str, path: Path) -> list[str]:
    return [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1",
            "-f", str(path), "-d", url]


@contextlib.contextmanager
def counting_round_trips() -> Iterator[dict[str, int]]:
    """Count connections opened (psycopg.connect) and queries sent
    (psycopg.Connection.execute) while inside; restores both afterwards."""
    counts = {"connections": 0, "queries": 0}
    orig_connect = psycopg.connect
    had_own_execute = "execute" in psycopg.Connection.__dict__
    orig_execute = psycopg.Connection.execute

    def connect(*args: Any, **kwargs: Any) -> Any:
        counts["connections"] += 1
        return orig_connect(*args, **kwargs)

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["queries"] += 1
        return orig_execute(self, *args, **kwargs)

    psycopg.connect = connect
    psycopg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.connect = orig_connect
        if had_own_execute:
            psycopg.Connection.execute = orig_execute  # type: ignore[method-assign]
        else:
            del psycopg.Connection.execute


# -- one run ---------------------------------------------------------------------------


def settle(admin: Admin) -> None:
    """The same start for every timed apply: the server's dirty buffers written
    (CHECKPOINT) and the file system's dirty pages flushed (sync), so no variant pays for
    the writes of the one before it (dropping a database of 500 tables checkpoints and
    unlinks thousands of files)."""
    with psycopg.connect(admin.srv.url("postgres"), autocommit=True) as conn:
        conn.execute(b"CHECKPOINT")
    os.sync()


def one_run(i: int, *, admin: Admin, project: Path, files: list[Path], all_sql: Path,
            count: int, startup_calls: int, v: dict[str, Variant],
            trips: list[tuple[int, int]], env: dict[str, str], parts: Breakdown) -> None:
    """One run: the applies (a with its no-op companions b, f, g, e; h; c) in an order
    rotated from run to run, each on a fresh database after `settle`; then d."""
    names = {k: f"bench_{i}_{k}" for k in ("one_tx", "per_file", "cold")}
    names["app"] = APP_DATABASE
    steps: list[Callable[[], None]] = [
        lambda: full_apply(admin, project, count, v, trips, env, parts, startup_calls),
        lambda: cold_apply(admin, project, names["cold"], count, v, env),
        lambda: psql_one_transaction(admin, all_sql, names["one_tx"], count, v, env),
    ]
    shift = (i - 1) % len(steps)
    try:
        for step in steps[shift:] + steps[:shift]:
            step()
        psql_per_file(admin, files, names["per_file"], count, v, env)
        parts.find.append(timed(lambda: find_migrations(project / "migrations")))
        elapsed, proc = run_timed([sys.executable, "-c", IMPORT_PROBE], cwd=project, env=env)
        require_ok(proc, "python -c 'import workspace.cli ...'")
        parts.imports.append(elapsed)
    finally:
        for name in names.values():
            with contextlib.suppress(psycopg.Error):
                admin.drop(name)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def full_apply(admin: Admin, project: Path, count: int, v: dict[str, Variant],
               trips: list[tuple[int, int]], env: dict[str, str], parts: Breakdown,
               startup_calls: int) -> None:
    """a, then on its database b, f, g and e. (a)'s database has the same name (so URL)
    in every run, dropped and created again empty: as a user's configured database, its
    configuration cache entry is warm."""
    url_a = admin.create(APP_DATABASE)
    settle(admin)
    cmd = [*workspace_command(), "db", "migrate", "--database-url", url_a]
    elapsed, proc = run_timed(cmd, cwd=project, env=env)
    require_ok(proc, "workspace db migrate (full apply)")
    rows = Admin.scalar(url_a, "SELECT count(*) FROM public.schema_migrations")
    if rows != count:
        raise BenchError(f"full apply: schema_migrations has {rows} rows, expected {count}")
    check_schema(url_a, count, "full apply")
    v["a"].samples.append(elapsed)
    total = APPLIED_TOTAL.search(proc.stdout)
    if total is None or int(total[1]) != count:
        raise BenchError(f"full apply did not report {count} migrations applied:\n"
                         f"{redact.redact(proc.stdout)[-2000:]}")
    parts.applied.append(float(total[2]) / (1000 if total[3] == "ms" else 1))

    # b. no-op, same command again
    elapsed, proc = run_timed(cmd, cwd=project, env=env)
    require_ok(proc, "workspace db migrate (no-op)")
    if UP_TO_DATE not in proc.stdout + proc.stderr:
        raise BenchError(f"no-op run did not print {UP_TO_DATE!r}:\n"
                         f"{redact.redact(proc.stdout + proc.stderr)[-2000:]}")
    v["b"].samples.append(elapsed)

    # f. floor for (b): python, import psycopg, connect, SELECT 1
    elapsed, proc = run_timed([sys.executable, "-c", BARE_PSYCOPG, url_a], env=env)
    require_ok(proc, "python -c 'import psycopg; ... SELECT 1'")
    v["f"].samples.append(elapsed)

    # g. `workspace status`: nothing running here, so it checks the embedded server
    elapsed, proc = run_timed([*workspace_command(), "status"], cwd=project, env=env)
    if proc.returncode != 1 or "No workspace is running" not in proc.stdout:
        raise BenchError(f"workspace status exited {proc.returncode}:\n"
                         f"{redact.redact(proc.stdout + proc.stderr)[-2000:]}")
    v["g"].samples.append(elapsed)

    # e. the in-process startup hook, no-op path, on (a)'s database
    with clean_os_environ():
        for _ in range(startup_calls):
            started = time.perf_counter()
            result = migrate_on_startup(url_a, project_dir=project)
            elapsed = time.perf_counter() - started
            if result is None or result.applied or result.plan.pending:
                raise BenchError("migrate_on_startup on a migrated database did work")
            v["e"].samples.append(elapsed)
        with counting_round_trips() as counts:
            migrate_on_startup(url_a, project_dir=project)
    trips.append((counts["queries"], counts["connections"]))
    admin.drop(APP_DATABASE)


def cold_apply(admin: Admin, project: Path, name: str, count: int, v: dict[str, Variant],
               env: dict[str, str]) -> None:
    """h. (a) on a fresh checkout: no configuration or parse cache."""
    url_h = admin.create(name)
    cold = project.parent / "project_cold"
    shutil.rmtree(cold / ".workspace", ignore_errors=True)
    settle(admin)
    elapsed, proc = run_timed([*workspace_command(), "db", "migrate", "--database-url",
                               url_h], cwd=cold, env=env)
    require_ok(proc, "workspace db migrate (full apply, no caches)")
    check_schema(url_h, count, "full apply, no caches")
    v["h"].samples.append(elapsed)
    admin.drop(name)


def psql_one_transaction(admin: Admin, all_sql: Path, name: str, count: int,
                         v: dict[str, Variant], env: dict[str, str]) -> None:
    """c. floor 1: psql, everything in one transaction."""
    url_c = admin.create(name)
    settle(admin)
    elapsed, proc = run_timed(psql_command(url_c, all_sql), env=env)
    require_ok(proc, "psql -1 -f all.sql")
    check_schema(url_c, count, "psql one transaction")
    v["c"].samples.append(elapsed)
    admin.drop(name)


def psql_per_file(admin: Admin, files: list[Path], name: str, count: int,
                  v: dict[str, Variant], env: dict[str, str]) -> None:
    """d. floor 2: psql once per file, one transaction each."""
    url_d = admin.create(name)
    settle(admin)
    started = time.perf_counter()
    for path in files:
        proc = subprocess.run(psql_command(url_d, path), env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL,
                              timeout=COMMAND_TIMEOUT_S, check=False)
        require_ok(proc, f"psql -1 -f {path.name}")
    v["d"].samples.append(time.perf_counter() - started)
    check_schema(url_d, count, "psql per file")
    admin.drop(name)


def warm_up(admin: Admin, project: Path, env: dict[str, str]) -> None:
    """One untimed dry run on (a)'s database (it parses every file, so it loads what a
    full apply loads): the bytecode cache is filled before the first timed command, and
    the project's configuration and parse caches as by a user's earlier command (`db
    migrate --dry-run`, `db lint`, a migrate of another database). `status` fills its
    own configuration cache entry. (h) shows the same apply without any of them."""
    try:
        url = admin.create(APP_DATABASE)
        proc = subprocess.run([*workspace_command(), "db", "migrate", "--dry-run",
                               "--database-url", url], cwd=project, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=COMMAND_TIMEOUT_S, check=False)
        require_ok(proc, "workspace db migrate --dry-run (warm-up)")
        subprocess.run([*workspace_command(), "status"], cwd=project, env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=COMMAND_TIMEOUT_S, check=False)
    finally:
        with contextlib.suppress(psycopg.Error):
            admin.drop(APP_DATABASE)


# -- profile ---------------------------------------------------------------------------


def profile_in_process(admin: Admin, project: Path, top: int) -> None:
    """cProfile of `workspace.cli.main(["db", "migrate", ...])` in this process: a full
    apply on a fresh database, then the no-op on the same database."""
    name = "bench_profile"
    try:
        url = admin.create(name)
        argv = ["--project-dir", str(project), "db", "migrate", "--database-url", url]
        for title in ("full apply", "no-op"):
            profile_cli(argv, f"`workspace db migrate`, {title}", top,
                        orders=("tottime", "cumulative"))
    finally:
        with contextlib.suppress(psycopg.Error):
            admin.drop(name)


# -- report ----------------------------------------------------------------------------


def print_report(variants: dict[str, Variant], trips: list[tuple[int, int]],
                 facts: list[tuple[str, str]], parts: Breakdown, *, count: int, runs: int,
                 startup_calls: int) -> None:
    floor = variants["c"].median
    print()
    print_facts(facts)
    print()
    print(f"{count} migrations x 2 statements, {runs} run(s); "
          f"e: {startup_calls} calls per run; wall clock seconds")
    header = ("variant", "n", "median s", "min s", "max s", "x floor c")
    rows = [(f"{v.key}. {v.label}", str(len(v.samples)), f"{v.median:.3f}",
             f"{min(v.samples):.3f}", f"{max(v.samples):.3f}", f"{v.median / floor:.2f}x")
            for v in variants.values()]
    print_table(header, rows)
    print()
    distinct = sorted(set(trips))
    q, c = distinct[0] if len(distinct) == 1 else (
        "/".join(str(t[0]) for t in distinct), "/".join(str(t[1]) for t in distinct))
    print(f"round trips (queries) on startup no-op: {q}, connections: {c}")
    noop = variants["b"].median
    print(f"no-op `workspace db migrate` (b): median {noop:.3f} s vs aim <= {NOOP_AIM_S} s: "
          f"{'aim met' if noop <= NOOP_AIM_S else 'aim missed'}; "
          f"{noop / variants['f'].median:.2f}x a bare psycopg script (f)")
    for key, what in (("b", "no-op `workspace db migrate`"), ("g", "`workspace status`")):
        x = variants[key].median / variants["f"].median
        print(f"{what} ({key}) / bare psycopg script (f): {x:.2f}x vs aim <= "
              f"{STARTUP_AIM_X:g}x: {'aim met' if x <= STARTUP_AIM_X else 'aim missed'}")
    ratio = variants["a"].median / floor
    print(f"full apply (a) / psql one transaction (c): {ratio:.2f}x vs aim <= "
          f"{FULL_APPLY_AIM_X:g}x: {'aim met' if ratio <= FULL_APPLY_AIM_X else 'aim missed'}")
    paired = statistics.median(a / c for a, c in zip(variants["a"].samples,
                                                      variants["c"].samples, strict=True))
    print(f"  median of the per-run ratios (a)/(c): {paired:.2f}x")
    cold = variants["h"].median / floor
    print(f"  on a fresh checkout, no configuration or parse cache (h) / (c): {cold:.2f}x")
    loop = statistics.median(parts.applied)
    print(f"  apply loop alone (the runner's \"applied in\", wall clock, lock held) / (c): "
          f"{loop / floor:.2f}x; the rest of (a) is interpreter, imports, parsing, connecting")
    print(f"  (for reference: full apply / psql per file (d): "
          f"{variants['a'].median / variants['d'].median:.2f}x; startup hook no-op (e) "
          f"median {variants['e'].median * 1000:.1f} ms)")
    imports, find = statistics.median(parts.imports), statistics.median(parts.find)
    applied = statistics.median(parts.applied)
    a, b = variants["a"].median, variants["b"].median
    print()
    print("Where the time goes (medians, s)")
    pieces = [
        ("interpreter + imports (python -c \"import workspace.cli, .config.cache, "
         ".db.runner, .deps; build_parser()\")", imports),
        (f"find_migrations() of {count} files (read + checksum; their SQL checked "
         "before applying, from the parse cache), in-process", find),
        ("apply loop, as the runner reports it in (a) (\"N migrations applied in\")", applied),
        ("rest of (a): connect, lock, tracking table, reads, output, exit",
         a - imports - find - applied),
        ("rest of (b): connect, one query, output, exit", b - imports - find),
    ]
    width = max(len(k) for k, _ in pieces)
    for k, seconds in pieces:
        print(f"  {k:<{width}}  {seconds:6.3f}")


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="runs (default 5; 2 with --quick)")
    p.add_argument("--count", type=int, default=None,
                   help="generated migrations (default 500; 50 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke test: --count 50 --runs 2")
    p.add_argument("--startup-calls", type=int, default=5,
                   help="timed migrate_on_startup calls per run (default 5)")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, cProfile an in-process full apply and no-op")
    p.add_argument("--profile-top", type=int, default=25, help="entries per profile listing")
    p.add_argument("--no-bytecode-cache", action="store_true",
                   help="time the commands with the inherited PYTHONDONTWRITEBYTECODE / "
                        "PYTHONPYCACHEPREFIX (by default their bytecode is cached in the temp "
                        "directory and warmed up, as on an installed workspace)")
    p.add_argument("--tmpdir", type=Path, default=None,
                   help="where to put the server and the project (default: the system temp "
                        "directory; /dev/shm takes disk noise out of the numbers)")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.count is None:
        args.count = 50 if args.quick else 500
    if args.runs < 1 or args.count < 1 or args.startup_calls < 1:
        p.error("--runs, --count and --startup-calls must be at least 1")
    return args


@bench_main
def main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-migrate-", dir=args.tmpdir))
    srv = EmbeddedPostgres(tmp / "data", port=free_port(), database="postgres")
    try:
        project = tmp / "project"
        files, all_sql = write_migrations(project, args.count)
        shutil.copytree(project, tmp / "project_cold")  # (h)'s: its caches removed each run
        workspace_command()  # fail early when it is missing
        print(f"starting embedded PostgreSQL in {srv.data_dir} on port {srv.port} ...",
              flush=True)
        srv.start()
        admin = Admin(srv)
        facts = machine_facts(admin)
        if args.no_bytecode_cache:
            facts.append(("bytecode", "as inherited: PYTHONDONTWRITEBYTECODE="
                                      f"{env.get('PYTHONDONTWRITEBYTECODE', '(unset)')}"))
        else:
            facts.append(("bytecode", bytecode_cache(env, tmp / "pycache")))
            warm_up(admin, project, env)
        variants = {k: Variant(k, label) for k, label in (
            ("a", "workspace db migrate, full apply"),
            ("b", "workspace db migrate, no-op"),
            ("c", "psql -1 all.sql (floor 1)"),
            ("d", "psql -1 per file (floor 2)"),
            ("e", "migrate_on_startup no-op, in-process"),
            ("f", "python: import psycopg, SELECT 1"),
            ("g", "workspace status (none running)"),
            ("h", "(a) on a fresh checkout: no caches"),
        )}
        trips: list[tuple[int, int]] = []
        parts = Breakdown()
        for i in range(1, args.runs + 1):
            started = time.perf_counter()
            one_run(i, admin=admin, project=project, files=files, all_sql=all_sql,
                    count=args.count, startup_calls=args.startup_calls, v=variants,
                    trips=trips, env=env, parts=parts)
            last = {k: v.samples[-1] for k, v in variants.items()}
            print(f"run {i}/{args.runs} ({time.perf_counter() - started:.1f} s): "
                  + "  ".join(f"{k}={s:.3f}" for k, s in last.items()), flush=True)
        print_report(variants, trips, facts, parts, count=args.count, runs=args.runs,
                     startup_calls=args.startup_calls)
        if args.profile:
            profile_in_process(admin, project, args.profile_top)
        return 0
    finally:
        finish(srv, tmp)


if __name__ == "__main__":
    sys.exit(main(None))
