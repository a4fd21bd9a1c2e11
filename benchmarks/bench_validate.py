#!/usr/bin/env python
"""Benchmark `workspace db validate` against `pg_dump --schema-only` of the same database.

    python benchmarks/bench_validate.py [--runs 5] [--tables 2000] [--quick] [--profile]

Starts its own embedded PostgreSQL (temp directory, free port) and times, as whole
commands (wall clock), on databases migrated beforehand with `workspace db migrate`:

  1. the shipped schema (the repository's migrations/ and config.yaml, copied into a
     temp project):
     a. `workspace db validate` cold: <project>/.workspace/cache/ removed before each
        run, so it builds the expected schema in a scratch database
     b. the same command warm (the cached expected schema present)
     c. baseline: `pg_dump --schema-only -f /dev/null` of the same database
  2. generated schemas of N tables (default N = 250, 500, 1000, 2000; `--tables` sets
     the largest; --quick: 100, 200), ~100 tables per migration file: warm and cold
     validate and pg_dump for each N, the time per table, and whether it grows linearly
  3. the multi-tenant fixture schema of the tests (tests/db/fixtures/tenant/: RLS and 4
     policies a table, grants, comments, domains, partitions, ...) and a generated
     history of `--history` small migrations (default 320: tables created, then altered,
     indexed, secured with RLS and a policy, granted, commented, each in its own file):
     cold, warm, pg_dump
  4. the catalog reads alone, in-process: the queries of the earlier reader (tables,
     columns, constraints, indexes, functions, triggers, views, sequences, types) and
     the new ones (policies, grants, comments, domains, statistics, ...), beside
     `pg_dump --schema-only` of the same database

The variants are interleaved within each run so machine noise hits them alike. Aims
are reported ("aim met"/"aim missed"), never enforced: the exit status is non-zero only
when a command fails or its result is wrong. `--profile` adds a cProfile of an
in-process warm validate at the largest N and each catalog query timed alone. Standard
library + workspace's own dependencies only; the server is stopped and the temp
directory removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - needs the path above
    COMMAND_TIMEOUT_S,
    Admin,
    BenchError,
    Variant,
    bench_main,
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

from workspace.config.models import PrecheckConfig
from workspace.deps.embedded import EmbeddedPostgres, bin_dir
from workspace.output import redact

REPO = Path(__file__).resolve().parent.parent
WARM_AIM_S = 0.5  # warm `workspace db validate` of the shipped schema
LINEAR_WITHIN_X = 1.5  # per-table time at the largest N vs the smallest
PASSED = "VALIDATION PASSED"
# What `workspace db validate` loads before it touches the database.
IMPORT_PROBE = "import workspace.cli as c; c.build_parser(); import workspace.db.validate"
TENANT_MIGRATIONS = REPO / "tests" / "db" / "fixtures" / "tenant" / "migrations"
APP_ROLES = ("tenant_app", "bench_app")  # named by the tenant fixture and the history
SCRATCH_LEFT = ("SELECT count(*) FROM pg_database "
                "WHERE datname LIKE 'workspace\\_scratch\\_%'")
# Generated projects have none of the shipped kb.* objects, nor the vector extension
# (their databases come from template1, where the embedded server does not create it).
GENERATED_CONFIG = """\
precheck:
  critical_tables: {}
  critical_functions: []
  required_extensions: []
"""


# -- the projects ----------------------------------------------------------------------


def copy_shipped(project: Path) -> int:
    """The repository's migrations and config.yaml; returns the number of migrations."""
    shutil.copytree(REPO / "migrations", project / "migrations")
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    return sum(1 for p in (project / "migrations").iterdir() if p.suffix == ".sql")


def table_sql(n: int, width: int) -> str:
    """One generated table: 6 columns (an FK to the previous table on every second
    one), a named check constraint and an index."""
    name = f"gen_{n:0{width}d}"
    fk = f" REFERENCES gen_{n - 1:0{width}d} (id)" if n % 2 == 0 else ""
    return (f"CREATE TABLE IF NOT EXISTS {name} (\n"
            "    id integer PRIMARY KEY,\n"
            "    name text NOT NULL,\n"
            "    created_at timestamptz NOT NULL DEFAULT now(),\n"
            "    payload jsonb,\n"
            "    quantity integer NOT NULL DEFAULT 0,\n"
            f"    prev_id integer{fk},\n"
            f"    CONSTRAINT {name}_quantity_check CHECK (quantity >= 0)\n"
            ");\n"
            f"CREATE INDEX IF NOT EXISTS {name}_created_at_idx ON {name} (created_at);\n")


def write_generated(project: Path, tables: int, per_file: int) -> int:
    """`tables` tables in files of `per_file`, and a config.yaml without the shipped
    critical objects; returns the number of files."""
    mdir = project / "migrations"
    mdir.mkdir(parents=True)
    (project / "config.yaml").write_text(GENERATED_CONFIG)
    width = max(4, len(str(tables)))
    files = 0
    for first in range(1, tables + 1, per_file):
        last = min(first + per_file - 1, tables)
        files += 1
        path = mdir / f"{files:04d}_create_gen_{first:0{width}d}_{last:0{width}d}.sql"
        path.write_text("\n".join(table_sql(n, width) for n in range(first, last + 1)))
    return files


def copy_tenant(project: Path) -> int:
    shutil.copytree(TENANT_MIGRATIONS, project / "migrations")
    (project / "config.yaml").write_text(GENERATED_CONFIG)
    return sum(1 for p in (project / "migrations").iterdir() if p.suffix == ".sql")


def history_sql(i: int) -> str:
    """Migration i of a long history: every sixth file creates a table, the next five
    alter, index, secure, grant, comment it, each a file of its own."""
    t = f"h_{i // 6:04d}"
    return [
        f"CREATE TABLE {t} (id bigint PRIMARY KEY, project_id bigint NOT NULL, name text);",
        f"ALTER TABLE {t} ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();\n"
        f"CREATE INDEX {t}_project_idx ON {t} (project_id, created_at);",
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY {t}_tenant ON {t} TO bench_app\n"
        "    USING (project_id = current_setting('app.current_project_id')::bigint);",
        f"GRANT SELECT, INSERT, UPDATE ON {t} TO bench_app;\n"
        f"COMMENT ON TABLE {t} IS 'table {i // 6}';",
        f"CREATE FUNCTION {t}_count() RETURNS bigint LANGUAGE sql STABLE\n"
        f"    AS 'SELECT count(*) FROM {t}';\n"
        f"COMMENT ON FUNCTION {t}_count() IS 'rows of {t}';",
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_name_check CHECK (name <> '');\n"
        f"CREATE VIEW {t}_names WITH (security_invoker = true) AS SELECT id, name FROM {t};",
    ][i % 6] + "\n"


def write_history(project: Path, files: int) -> int:
    mdir = project / "migrations"
    mdir.mkdir(parents=True)
    (project / "config.yaml").write_text(GENERATED_CONFIG)
    for i in range(files):
        (mdir / f"{i + 1:04d}_step_{i + 1:04d}.sql").write_text(history_sql(i))
    return files


def cache_dir(project: Path) -> Path:
    return project / ".workspace" / "cache"


# -- commands --------------------------------------------------------------------------


def validate_command(url: str) -> list[str]:
    return [*workspace_command(), "db", "validate", "--database-url", url]


def pg_dump_command(url: str, out: str = "/dev/null") -> list[str]:
    return [str(bin_dir() / "pg_dump"), "--schema-only", "-f", out, "-d", url]


def check_validate(proc: subprocess.CompletedProcess[str], source: str, what: str) -> None:
    """Exit 0, VALIDATION PASSED, and the expected schema taken from `source`."""
    require_ok(proc, what)
    out = proc.stdout + proc.stderr
    if PASSED not in out or f"expected schema from {source}" not in out:
        raise BenchError(f"{what}: expected {PASSED!r} with the expected schema from "
                         f"{source}, got:\n{redact.redact(out)[-3000:]}")


def timed_validate(project: Path, url: str, env: dict[str, str], *, cold: bool,
                   what: str) -> float:
    if cold:
        shutil.rmtree(cache_dir(project), ignore_errors=True)
    elif not any(cache_dir(project).glob("expected-*.json")):
        raise BenchError(f"{what}: no cached expected schema in {cache_dir(project)}")
    elapsed, proc = run_timed(validate_command(url), cwd=project, env=env)
    check_validate(proc, "scratch database" if cold else "cache", what)
    return elapsed


def timed_dump(url: str, env: dict[str, str], what: str) -> float:
    elapsed, proc = run_timed(pg_dump_command(url), env=env)
    require_ok(proc, what)
    return elapsed


def migrate(project: Path, url: str, env: dict[str, str], what: str) -> float:
    elapsed, proc = run_timed([*workspace_command(), "db", "migrate", "--database-url", url],
                              cwd=project, env=env)
    require_ok(proc, f"workspace db migrate ({what})")
    return elapsed


# -- the generated sizes ---------------------------------------------------------------


@dataclass
class Size:
    n: int
    project: Path
    url: str = ""
    files: int = 0
    migrate_s: float = 0.0
    objects: dict[str, int] = field(default_factory=dict)
    dump_bytes: int = 0
    v: dict[str, Variant] = field(default_factory=dict)
    parts: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.v = {k: Variant(k, label) for k, label in (
            ("warm", "workspace db validate, warm"),
            ("cold", "workspace db validate, cold"),
            ("dump", "pg_dump --schema-only"),
        )}


@dataclass
class Schema:
    """A fixed schema timed as a whole (section 3): the tenant fixture, the history."""

    label: str
    project: Path
    url: str = ""
    files: int = 0
    v: dict[str, Variant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.v = {k: Variant(k, label) for k, label in (
            ("cold", "workspace db validate, cold"),
            ("warm", "workspace db validate, warm"),
            ("dump", "pg_dump --schema-only"),
        )}


def prepare_schema(admin: Admin, schema: Schema, env: dict[str, str], dbname: str) -> None:
    schema.url = admin.create(dbname)
    migrate(schema.project, schema.url, env, schema.label)
    _, proc = run_timed(validate_command(schema.url), cwd=schema.project, env=env)
    check_validate(proc, "scratch database", f"{schema.label}: first validate")


def create_roles(admin: Admin) -> None:
    with psycopg.connect(admin.srv.url("postgres"), autocommit=True) as conn:
        for role in APP_ROLES:
            conn.execute(f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; "
                         "EXCEPTION WHEN duplicate_object THEN NULL; END $$".encode())


def count_objects(url: str) -> dict[str, int]:
    """What `read_catalog` sees in the live database."""
    from workspace.db.catalog import read_catalog

    with psycopg.connect(url, autocommit=True) as conn:
        cat = read_catalog(conn)
    return {
        "tables": len(cat.tables),
        "columns": sum(len(t.columns) for t in cat.tables.values()),
        "constraints": sum(len(t.constraints) for t in cat.tables.values()),
        "indexes": len(cat.indexes),
    }


def dump_size(url: str, env: dict[str, str]) -> int:
    proc = subprocess.run([str(bin_dir() / "pg_dump"), "--schema-only", "-d", url], env=env,
                          capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=COMMAND_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise BenchError(f"pg_dump exited {proc.returncode}: "
                         f"{redact.redact(proc.stderr.decode(errors='replace'))[-2000:]}")
    return len(proc.stdout)


def prepare_size(admin: Admin, size: Size, per_file: int, env: dict[str, str]) -> str | None:
    """Write, migrate and validate once (which fills the cache); None when it is valid,
    else the reason with validate's output."""
    size.files = write_generated(size.project, size.n, per_file)
    size.url = admin.create(f"bench_gen_{size.n}")
    size.migrate_s = migrate(size.project, size.url, env, f"{size.n} tables")
    tables = Admin.scalar(size.url, "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
                                    "AND relname LIKE 'gen\\_%'")
    if tables != size.n:
        raise BenchError(f"{size.n} tables: migrate made {tables} tables")
    proc = subprocess.run(validate_command(size.url), cwd=size.project, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=COMMAND_TIMEOUT_S, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or PASSED not in out:
        return (f"`workspace db validate` on the generated {size.n}-table schema exited "
                f"{proc.returncode}; output:\n{redact.redact(out).rstrip()}")
    size.objects = count_objects(size.url)
    size.dump_bytes = dump_size(size.url, env)
    return None


def sizes_for(tables: int, quick: bool) -> list[int]:
    levels = 2 if quick else 4
    return sorted({max(1, tables >> k) for k in range(levels)})


# -- where the time goes (in-process) --------------------------------------------------


PIECES = (
    ("config", "load_config()"),
    ("find", "find_migrations() (read + checksum)"),
    ("connect", "connect"),
    ("live", "read_catalog() of the live database"),
    ("tracking", "tracking table check + plan"),
    ("cache", "cached expected schema (json + from_json)"),
    ("compare", "compare() (drift)"),
    ("validate", "validate() as a whole, in-process"),
)


def in_process_pieces(project: Path, url: str) -> dict[str, float]:
    """The steps `workspace db validate` takes (validate.py), timed one by one, warm."""
    from workspace.config.db import runner_settings, validation_settings
    from workspace.config.models import load_config
    from workspace.db.catalog import read_catalog
    from workspace.db.connect import connection
    from workspace.db.drift import compare
    from workspace.db.expected import expected_catalog
    from workspace.db.files import find_migrations
    from workspace.db.validate import _tracking, validate

    out: dict[str, float] = {}
    with clean_os_environ():
        t = time.perf_counter()
        config = load_config(project, cli={"database.url": url})
        out["config"] = -t + (t := time.perf_counter())
        migrations = find_migrations(config.migrations_dir)
        out["find"] = -t + (t := time.perf_counter())
        settings = runner_settings(config)
        with connection(url, timeout_s=settings.connect_timeout_s) as conn:
            out["connect"] = -t + (t := time.perf_counter())
            major = (conn.info.server_version or 0) // 10000
            live = read_catalog(conn)
            out["live"] = -t + (t := time.perf_counter())
            _tracking(conn, migrations)
            out["tracking"] = -t + (t := time.perf_counter())
        t = time.perf_counter()  # closing the connection is not counted
        expected = expected_catalog(url, migrations, settings, server_major=major,
                                    cache_dir=config.state_dir / "cache",
                                    snapshot=config.path(config.precheck.snapshot))
        out["cache"] = time.perf_counter() - t
        if expected.source != "cache":
            raise BenchError(f"in-process: the expected schema came from {expected.source}")
        t = time.perf_counter()
        drifts = compare(expected.catalog, live, config.precheck.ignore)
        out["compare"] = time.perf_counter() - t
        if drifts:
            raise BenchError(f"in-process: {len(drifts)} drift(s), e.g. {drifts[0]}")
        t = time.perf_counter()
        report = validate(url, validation_settings(config), migrations)
        out["validate"] = time.perf_counter() - t
        if not report.valid:
            raise BenchError(f"in-process validate() found {len(report.errors)} error(s)")
    return out


READS = (("base", "the earlier reader's queries (tables ... views)"),
         ("items", "the new queries (policies, grants, comments, domains, ...)"),
         ("all", "read_catalog() as a whole"))


def catalog_reads(url: str, repeat: int = 5) -> dict[str, float]:
    """The catalog reads alone, in-process, on one open connection: medians, seconds."""
    from workspace.db.catalog import ITEMS_QUERY, QUERIES, SESSION, read_catalog

    base = [query.encode() for kind, query in QUERIES.items()]
    samples: dict[str, list[float]] = {k: [] for k, _ in READS}
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(repeat):
            for key, queries in (("base", base), ("items", [ITEMS_QUERY])):
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute(SESSION)
                    with conn.pipeline():
                        cursors = [conn.execute(q) for q in queries]
                    for cursor in cursors:
                        cursor.fetchall()
                samples[key].append(time.perf_counter() - started)
            started = time.perf_counter()
            read_catalog(conn)
            samples["all"].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in samples.items()}


def import_probe(env: dict[str, str], cwd: Path) -> float:
    elapsed, proc = run_timed([sys.executable, "-c", IMPORT_PROBE], cwd=cwd, env=env)
    require_ok(proc, "python -c 'import workspace.cli ...'")
    return elapsed


# -- one run ---------------------------------------------------------------------------


def one_run(*, shipped: Path, shipped_url: str, sv: dict[str, Variant], sizes: list[Size],
            cold_runs: int, run: int, admin: Admin, env: dict[str, str],
            imports: list[float], schemas: list[Schema],
            reads: dict[str, dict[str, list[float]]]) -> None:
    # 1. the shipped schema: a cold, b warm, c pg_dump
    sv["a"].samples.append(timed_validate(shipped, shipped_url, env, cold=True,
                                          what="shipped: cold validate"))
    sv["b"].samples.append(timed_validate(shipped, shipped_url, env, cold=False,
                                          what="shipped: warm validate"))
    sv["c"].samples.append(timed_dump(shipped_url, env, "shipped: pg_dump --schema-only"))
    # 2. every generated size, smallest first: cold, warm, pg_dump
    for size in sizes:
        if run <= cold_runs:
            size.v["cold"].samples.append(timed_validate(
                size.project, size.url, env, cold=True, what=f"{size.n} tables: cold validate"))
        size.v["warm"].samples.append(timed_validate(
            size.project, size.url, env, cold=False, what=f"{size.n} tables: warm validate"))
        size.v["dump"].samples.append(timed_dump(size.url, env, f"{size.n} tables: pg_dump"))
        for k, seconds in in_process_pieces(size.project, size.url).items():
            size.parts.setdefault(k, []).append(seconds)
    # 3. the tenant fixture and the long history: cold, warm, pg_dump
    for schema in schemas:
        if run <= cold_runs:
            schema.v["cold"].samples.append(timed_validate(
                schema.project, schema.url, env, cold=True, what=f"{schema.label}: cold"))
        schema.v["warm"].samples.append(timed_validate(
            schema.project, schema.url, env, cold=False, what=f"{schema.label}: warm"))
        schema.v["dump"].samples.append(timed_dump(schema.url, env, f"{schema.label}: pg_dump"))
    # 4. the catalog reads alone
    for label, url in read_targets(shipped_url, sizes, schemas):
        for k, seconds in catalog_reads(url).items():
            reads.setdefault(label, {}).setdefault(k, []).append(seconds)
    imports.append(import_probe(env, shipped))
    left = Admin.scalar(admin.srv.url("postgres"), SCRATCH_LEFT)
    if left:
        raise BenchError(f"{left} scratch database(s) left behind by cold validations")


def read_targets(shipped_url: str, sizes: list[Size],
                 schemas: list[Schema]) -> list[tuple[str, str]]:
    return [("shipped", shipped_url), *((s.label, s.url) for s in schemas),
            *((f"generated N={s.n}", s.url) for s in sizes[-1:])]


def print_schemas(schemas: list[Schema], reads: dict[str, dict[str, list[float]]],
                  dumps: dict[str, float], runs: int, cold_runs: int) -> None:
    print()
    print(f"3. The tenant fixture and a long history; {runs} run(s) (cold: "
          f"{min(cold_runs, runs)}); wall clock seconds, medians")
    header: tuple[str, ...] = ("schema", "files", "cold s", "warm s", "pg_dump s",
                               "cold/dump", "warm/dump")
    rows: list[tuple[str, ...]] = []
    for s in schemas:
        c, w, d = (s.v[k].median for k in ("cold", "warm", "dump"))
        rows.append((s.label, str(s.files), f"{c:.3f}", f"{w:.3f}", f"{d:.3f}",
                     f"{c / d:.2f}x", f"{w / d:.2f}x"))
    print_table(header, rows)
    print()
    print("4. Catalog reads alone (in-process, one open connection, median of 5 a run, then "
          "of the runs; ms) beside pg_dump --schema-only (whole command, ms)")
    header = ("schema", *(label for _, label in READS), "pg_dump", "new / pg_dump")
    rows = []
    for label, parts in reads.items():
        med = {k: statistics.median(v) * 1000 for k, v in parts.items()}
        dump = dumps[label] * 1000
        rows.append((label, *(f"{med[k]:.1f}" for k, _ in READS), f"{dump:.1f}",
                     f"{med['items'] / dump:.2f}x"))
    print_table(header, rows)


# -- profile ---------------------------------------------------------------------------


def time_queries(sizes: list[Size], repeat: int = 3) -> None:
    """Each query of read_catalog, alone, at every size: median of `repeat`."""
    from workspace.db.catalog import QUERIES

    table: dict[str, list[tuple[float, int]]] = {k: [] for k in QUERIES}
    for size in sizes:
        with psycopg.connect(size.url, autocommit=True) as conn:
            for kind, query in QUERIES.items():
                samples, count = [], 0
                for _ in range(repeat):
                    started = time.perf_counter()
                    count = len(conn.execute(query.encode()).fetchall())
                    samples.append(time.perf_counter() - started)
                table[kind].append((statistics.median(samples), count))
    print(f"\n== read_catalog() queries, each alone (median of {repeat}, ms; rows) ==")
    header = ("query", *(f"N={s.n}" for s in sizes),
              f"ms/table N={sizes[-1].n} / N={sizes[0].n}")
    rows = []
    for kind, cells in table.items():
        per = [t / s.n for (t, _), s in zip(cells, sizes, strict=True)]
        rows.append((kind, *(f"{t * 1000:.1f} ({r})" for t, r in cells),
                     f"{per[-1] / per[0]:.2f}x" if per[0] > 0 else "-"))
    print_table(header, rows)


def profile_in_process(size: Size, top: int) -> None:
    """cProfile of `workspace.cli.main(["db", "validate", ...])`, warm, in this process."""
    profile_cli(["--project-dir", str(size.project), "db", "validate", "--database-url",
                 size.url], f"warm `workspace db validate`, {size.n} tables", top,
                expect="expected schema from cache")


# -- report ----------------------------------------------------------------------------


def _stats_row(label: str, v: Variant, base: float) -> tuple[str, ...]:
    return (label, str(len(v.samples)), f"{v.median:.3f}", f"{min(v.samples):.3f}",
            f"{max(v.samples):.3f}", f"{v.median / base:.2f}x")


def growth_lines(sizes: list[Size], key: str, label: str) -> list[str]:
    """Per-table time at the largest N vs the smallest, and the marginal cost per table
    of the first and the last step (which leaves the fixed start-up cost out)."""
    small, large = sizes[0], sizes[-1]
    per_small = small.v[key].median / small.n * 1000
    per_large = large.v[key].median / large.n * 1000
    ratio = per_large / per_small
    verdict = "linear" if ratio <= LINEAR_WITHIN_X else "super-linear"
    lines = [f"{label}: {per_small:.3f} ms/table at N={small.n}, {per_large:.3f} ms/table "
             f"at N={large.n}: {ratio:.2f}x -> {verdict} (within {LINEAR_WITHIN_X:g}x: linear)"]
    if len(sizes) >= 3:
        def slope(a: Size, b: Size) -> float:
            return (b.v[key].median - a.v[key].median) / (b.n - a.n) * 1000
        first, last = slope(sizes[0], sizes[1]), slope(sizes[-2], sizes[-1])
        marg = last / first if first > 0 else float("inf")
        lines.append(f"  marginal: {first:.3f} ms/table from N={sizes[0].n} to {sizes[1].n}, "
                     f"{last:.3f} ms/table from N={sizes[-2].n} to {sizes[-1].n}: "
                     f"{marg:.2f}x -> {'linear' if marg <= LINEAR_WITHIN_X else 'super-linear'}")
    return lines


def print_report(*, facts: list[tuple[str, str]], sv: dict[str, Variant], shipped_files: int,
                 shipped_objects: dict[str, int], sizes: list[Size], runs: int,
                 cold_runs: int, per_file: int, imports: list[float]) -> None:
    print()
    print_facts(facts)
    print(f"  {'pg_dump':<15}  {pg_dump_version()}")

    # 1. shipped
    base = sv["c"].median
    print()
    print(f"1. Shipped schema: {shipped_files} migrations; live catalog "
          + ", ".join(f"{v} {k}" for k, v in shipped_objects.items())
          + f"; {runs} run(s); wall clock seconds")
    print_table(("variant", "n", "median s", "min s", "max s", "x pg_dump c"),
                [_stats_row(f"{v.key}. {v.label}", v, base) for v in sv.values()])
    warm = sv["b"].median
    print(f"warm `workspace db validate` (b): median {warm:.3f} s vs aim < {WARM_AIM_S} s: "
          f"{'aim met' if warm < WARM_AIM_S else 'aim missed'}")
    print(f"  (cold / warm: {sv['a'].median / warm:.1f}x; interpreter + imports alone "
          f"(python -c \"{IMPORT_PROBE}\"): median {statistics.median(imports):.3f} s)")

    # 2. generated
    print()
    print(f"2. Generated schemas: 6 columns, a check constraint and an index per table, an FK "
          f"on every second one; {per_file} tables per migration file; {runs} run(s) "
          f"(cold: {min(cold_runs, runs)}); medians, wall clock")
    header: tuple[str, ...] = ("N tables", "files", "objects", "migrate s", "dump KB", "warm s", "cold s",
              "pg_dump s", "warm/dump", "cold/dump", "warm ms/tbl", "cold ms/tbl",
              "dump ms/tbl")
    rows: list[tuple[str, ...]] = []
    for s in sizes:
        w, c, d = (s.v[k].median for k in ("warm", "cold", "dump"))
        rows.append((str(s.n), str(s.files), str(sum(s.objects.values())),
                     f"{s.migrate_s:.2f}", f"{s.dump_bytes / 1024:.0f}", f"{w:.3f}",
                     f"{c:.3f}", f"{d:.3f}", f"{w / d:.2f}x", f"{c / d:.2f}x",
                     f"{w / s.n * 1000:.3f}", f"{c / s.n * 1000:.3f}", f"{d / s.n * 1000:.3f}"))
    print_table(header, rows)
    print("  (objects: tables + columns + constraints + indexes as read_catalog() sees them, "
          "e.g. N=" + str(sizes[-1].n) + ": "
          + ", ".join(f"{v} {k}" for k, v in sizes[-1].objects.items()) + ")")
    print()
    print("min / median / max, s")
    header = ("N tables", *(sizes[0].v[k].label for k in ("warm", "cold", "dump")))
    rows = [(str(s.n), *(f"{min(s.v[k].samples):.3f} / {s.v[k].median:.3f} / "
                         f"{max(s.v[k].samples):.3f} (n={len(s.v[k].samples)})"
                         for k in ("warm", "cold", "dump"))) for s in sizes]
    print_table(header, rows)
    print()
    print("Growth, smallest to largest N")
    for key, label in (("warm", "warm validate"), ("cold", "cold validate"),
                       ("dump", "pg_dump --schema-only")):
        for ln in growth_lines(sizes, key, label):
            print(f"  {ln}")
    fast = [s.n for s in sizes if s.v["warm"].median < WARM_AIM_S]
    print(f"  warm validate under {WARM_AIM_S} s up to N = {max(fast) if fast else 'none'} "
          f"of {', '.join(str(s.n) for s in sizes)}")

    # where the time goes
    print()
    print("Where the time goes in warm validate (medians, s; in-process pieces measured "
          "next to each run)")
    header = ("piece", *(f"N={s.n}" for s in sizes))
    imp = statistics.median(imports)
    rows = [("interpreter + imports (subprocess probe)", *(f"{imp:.3f}" for _ in sizes))]
    for key, label in PIECES:
        rows.append((("  " if key != "validate" else "") + label,
                     *(f"{statistics.median(s.parts[key]):.3f}" for s in sizes)))
    rows.append(("warm CLI total (median)", *(f"{s.v['warm'].median:.3f}" for s in sizes)))
    rows.append(("rest: CLI - imports - config - find - validate()",
                 *(f"{s.v['warm'].median - imp - sum(statistics.median(s.parts[k]) for k in ('config', 'find', 'validate')):.3f}"  # noqa: E501
                   for s in sizes)))
    print_table(header, rows)
    print("  (the indented pieces are validate()'s steps timed one by one; validate() "
          "repeats them)")


def pg_dump_version() -> str:
    proc = subprocess.run([str(bin_dir() / "pg_dump"), "--version"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() or proc.stderr.strip()


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="runs (default 5; 2 with --quick)")
    p.add_argument("--tables", type=int, default=None,
                   help="largest generated schema; also 1/2, 1/4 and 1/8 of it "
                        "(default 2000; --quick: 200 and 100)")
    p.add_argument("--history", type=int, default=320,
                   help="files of the generated migration history (default 320)")
    p.add_argument("--per-file", type=int, default=100,
                   help="generated tables per migration file (default 100)")
    p.add_argument("--cold-runs", type=int, default=None,
                   help="runs that also time the cold validate of the generated schemas "
                        "(default: all)")
    p.add_argument("--quick", action="store_true", help="smoke test: --tables 200 --runs 2")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, cProfile an in-process warm validate at the largest N "
                        "and time each catalog query alone at every N")
    p.add_argument("--profile-top", type=int, default=25, help="entries per profile listing")
    p.add_argument("--tmpdir", type=Path, default=None,
                   help="where to put the server and the projects (default: the system temp "
                        "directory; /dev/shm takes disk noise out of the numbers)")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.tables is None:
        args.tables = 200 if args.quick else 2000
    if args.cold_runs is None:
        args.cold_runs = args.runs
    if min(args.runs, args.tables, args.per_file, args.cold_runs) < 1:
        p.error("--runs, --tables, --per-file and --cold-runs must be at least 1")
    return args


@bench_main
def main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-validate-", dir=args.tmpdir))
    srv = EmbeddedPostgres(tmp / "data", port=free_port(), database="postgres",
                           available=PrecheckConfig().required_extensions)
    failures: list[str] = []
    try:
        workspace_command()  # fail early when it is missing
        shipped = tmp / "shipped"
        shipped_files = copy_shipped(shipped)
        sizes = [Size(n, tmp / f"gen-{n}") for n in sizes_for(args.tables, args.quick)]
        print(f"starting embedded PostgreSQL in {srv.data_dir} on port {srv.port} ...",
              flush=True)
        srv.start()
        admin = Admin(srv)
        facts = machine_facts(admin)

        shipped_url = admin.create("bench_shipped")
        with psycopg.connect(shipped_url, autocommit=True) as conn:  # as the environment does
            for name in PrecheckConfig().required_extensions:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"'.encode())
        migrate(shipped, shipped_url, env, "shipped")
        _, proc = run_timed(validate_command(shipped_url), cwd=shipped, env=env)
        check_validate(proc, "scratch database", "shipped: first validate")
        shipped_objects = count_objects(shipped_url)
        for size in sizes:
            started = time.perf_counter()
            failure = prepare_size(admin, size, args.per_file, env)
            if failure:
                print(failure, file=sys.stderr, flush=True)
                failures.append(failure)
                continue
            print(f"generated {size.n} tables in {size.files} files, migrated in "
                  f"{size.migrate_s:.2f} s, validated ({time.perf_counter() - started:.1f} s "
                  "in all)", flush=True)
        sizes = [s for s in sizes if s.objects]
        if not sizes:
            raise BenchError("no generated schema validated")
        create_roles(admin)
        tenant = Schema("tenant fixture", tmp / "tenant")
        tenant.files = copy_tenant(tenant.project)
        history = Schema(f"history of {args.history}", tmp / "history")
        history.files = write_history(history.project, args.history)
        schemas = [tenant, history]
        for i, schema in enumerate(schemas):
            started = time.perf_counter()
            prepare_schema(admin, schema, env, f"bench_schema_{i}")
            print(f"{schema.label}: {schema.files} files migrated and validated "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
        reads: dict[str, dict[str, list[float]]] = {}

        sv = {k: Variant(k, label) for k, label in (
            ("a", "workspace db validate, cold"),
            ("b", "workspace db validate, warm"),
            ("c", "pg_dump --schema-only (baseline)"),
        )}
        imports: list[float] = []
        for i in range(1, args.runs + 1):
            started = time.perf_counter()
            one_run(shipped=shipped, shipped_url=shipped_url, sv=sv, sizes=sizes,
                    cold_runs=args.cold_runs, run=i, admin=admin, env=env, imports=imports,
                    schemas=schemas, reads=reads)
            print(f"run {i}/{args.runs} ({time.perf_counter() - started:.1f} s): "
                  + "  ".join(f"{k}={v.samples[-1]:.3f}" for k, v in sv.items()) + "  "
                  + "  ".join(f"warm{s.n}={s.v['warm'].samples[-1]:.3f}" for s in sizes),
                  flush=True)
        print_report(facts=facts, sv=sv, shipped_files=shipped_files,
                     shipped_objects=shipped_objects, sizes=sizes, runs=args.runs,
                     cold_runs=args.cold_runs, per_file=args.per_file, imports=imports)
        dumps = {"shipped": sv["c"].median, **{s.label: s.v["dump"].median for s in schemas},
                 f"generated N={sizes[-1].n}": sizes[-1].v["dump"].median}
        print_schemas(schemas, reads, dumps, args.runs, args.cold_runs)
        if args.profile:
            time_queries(sizes)
            profile_in_process(sizes[-1], args.profile_top)
        if failures:
            print(f"\n{len(failures)} generated schema(s) did not validate (see above)",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        finish(srv, tmp)


if __name__ == "__main__":
    sys.exit(main(None))
