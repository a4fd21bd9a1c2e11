"""Helpers shared by the benchmarks in this directory (not a benchmark itself).

The benchmarks import it as `_common` (their own directory is first on sys.path when
they run as `python benchmarks/bench_<name>.py`). Standard library + workspace's own
dependencies only.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import io
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from workspace.deps.embedded import EmbeddedPostgres
from workspace.output import redact

COMMAND_TIMEOUT_S = 900

# Variables that would make the runs use another database or skip work.
_DROP_ENV = ("DATABASE_URL", "SKIP_MIGRATIONS", "MIGRATIONS_DIR")


class BenchError(RuntimeError):
    """A command failed or produced the wrong result: the numbers would be meaningless."""


@dataclass
class Variant:
    key: str
    label: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


# -- environment -----------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """Our environment without anything that would redirect workspace or psql."""
    return {k: v for k, v in os.environ.items()
            if k not in _DROP_ENV and not k.startswith(("WORKSPACE_", "PG"))}


def bytecode_cache(env: dict[str, str], cache_dir: Path) -> str:
    """Let the timed commands cache their compiled modules, as an installed workspace
    does. Without it (PYTHONDONTWRITEBYTECODE=1, as some shells and CI set), every start
    compiles workspace's own modules from source again (about 0.1 s of CPU here), which
    no user's installation pays. The cache goes to `cache_dir` (PYTHONPYCACHEPREFIX), not
    into the source tree. Returns the line for the machine facts."""
    inherited = "PYTHONDONTWRITEBYTECODE" in env
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    return (f"cached in {cache_dir} (PYTHONPYCACHEPREFIX"
            f"{'; PYTHONDONTWRITEBYTECODE dropped' if inherited else ''}), warmed up")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workspace_command() -> list[str]:
    """The `workspace` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "workspace"
    if script.is_file():
        return [str(script)]
    found = shutil.which("workspace")
    if found:
        return [found]
    raise BenchError(f"no `workspace` console script next to {sys.executable} or on PATH; "
                     "install the project (pip install -e .)")


@contextlib.contextmanager
def clean_os_environ() -> Iterator[None]:
    """For the in-process calls: the same environment the subprocesses get."""
    saved = dict(os.environ)
    for k in list(os.environ):
        if k in _DROP_ENV or k.startswith("WORKSPACE_"):
            del os.environ[k]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- the database ----------------------------------------------------------------------


class Admin:
    def __init__(self, srv: EmbeddedPostgres) -> None:
        self.srv = srv

    def create(self, name: str) -> str:
        with psycopg.connect(self.srv.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.srv.url(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.srv.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))

    @staticmethod
    def scalar(url: str, query: str) -> Any:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(query.encode()).fetchone()
            assert row is not None
            return row[0]


# -- running and timing ----------------------------------------------------------------


def run_timed(cmd: list[str], *, cwd: Path | None = None,
              env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT_S, check=False)
    return time.perf_counter() - started, proc


def require_ok(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BenchError(f"{what} exited {proc.returncode}:\n{redact.redact(tail)}")


# -- report ----------------------------------------------------------------------------


def filesystem_of(path: Path) -> str:
    """`<device> (<type>) on <mount point>` for `path`, from /proc/mounts (Linux)."""
    try:
        mounts = [ln.split()[:3] for ln in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    path = path.resolve()
    best = max((m for m in mounts if len(m) == 3 and path.is_relative_to(m[1])),
               key=lambda m: len(m[1]), default=None)
    return f"{best[0]} ({best[2]}) on {best[1]}" if best else "unknown"


def machine_facts(admin: Admin) -> list[tuple[str, str]]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    pg = Admin.scalar(admin.srv.url("postgres"), "SELECT version()")
    return [
        ("nproc", f"{affinity} (cpu_count {os.cpu_count()})"),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("postgresql", str(pg)),
        ("psycopg", f"{psycopg.__version__}, libpq {psycopg.pq.version()}"),
        ("server settings", "embedded: fsync=off, synchronous_commit=off, "
                            "full_page_writes=off, TCP 127.0.0.1"),
        ("data directory", f"{admin.srv.data_dir}: {filesystem_of(admin.srv.data_dir)}"),
    ]


def print_facts(facts: list[tuple[str, str]]) -> None:
    print("Machine")
    width = max(len(k) for k, _ in facts)
    for k, val in facts:
        print(f"  {k:<{width}}  {val}")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned first column, the others right-aligned, a dashed rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if n == 0 else c.rjust(w)
                         for n, (c, w) in enumerate(zip(cells, widths, strict=True)))

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


# -- signals ---------------------------------------------------------------------------


def terminate(signum: int, _frame: Any) -> None:
    """SIGTERM handler: raise SystemExit so that the finally blocks stop the server."""
    print(f"signal {signum}; stopping the embedded server", file=sys.stderr)
    raise SystemExit(128 + signum)


def bench_main(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """A benchmark's `main`: SIGTERM ends it as Ctrl-C does, and a failed command
    (BenchError) or Ctrl-C is reported with exit 1 or 130. Its own `finally` stops what
    it started, before this reports."""

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        signal.signal(signal.SIGTERM, terminate)
        try:
            return main(argv)
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted; what it had started is stopped", file=sys.stderr)
            return 130

    return run


def finish(srv: EmbeddedPostgres, tmp: Path) -> None:
    """The end of every benchmark: stop its server; remove its directory only when the
    server is known to be down (a running server would keep writing there)."""
    try:
        srv.stop()
    except Exception as exc:  # noqa: BLE001 - report, and still remove what we can
        print(f"warning: could not stop the embedded server in {srv.data_dir}: {exc}",
              file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def profile_cli(argv: list[str], title: str, top: int, *, expect: str | None = None,
                orders: Sequence[str] = ("cumulative", "tottime")) -> None:
    """cProfile of `workspace.cli.main(argv)` in this process (its imports are already
    made), its output swallowed; print the top `top` entries for each sort order.
    BenchError when it fails, or its output lacks `expect`."""
    from workspace.cli import main

    prof = cProfile.Profile()
    sink = io.StringIO()
    with clean_os_environ(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        started = time.perf_counter()
        prof.enable()
        code = main(argv)
        prof.disable()
        elapsed = time.perf_counter() - started
    if code != 0 or (expect is not None and expect not in sink.getvalue()):
        raise BenchError(f"in-process {title} exited {code}:\n"
                         f"{redact.redact(sink.getvalue())[-2000:]}")
    print(f"\n== cProfile: in-process {title}: {elapsed:.3f} s wall (under the profiler) ==")
    for order in orders:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((n for n, ln in enumerate(lines) if "ncalls" in ln), 0)
        print(f"-- top {top} by {order} --")
        print("\n".join(ln for ln in lines[start:] if ln.strip()))
