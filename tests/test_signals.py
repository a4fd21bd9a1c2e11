"""The launcher's signal windows: real signals sent to this process, and to real
`workspace start` runs at random instants."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli
from tests.lines import LineProcess
from tests.stack import FORBIDDEN, Stack, assert_nothing_left, sleeper_apps
from workspace.run.state import RunLock
from workspace.signals import (
    deferred,
    interruptible,
    signals_deferred,
    signals_ignored,
    terminate_as_exit,
)


def deliver(sig: int) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.05)  # Python runs the handler at the next bytecode boundary


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_terminate_as_exit_raises_so_cleanup_runs(sig: int, code: int) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(SystemExit) as info, terminate_as_exit():
        deliver(sig)
    assert info.value.code == code
    assert signal.getsignal(sig) is before  # restored


def test_ignored_signals_do_nothing() -> None:
    with signals_ignored():
        deliver(signal.SIGINT)
        deliver(signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_signals_are_kept_in_order_for_later() -> None:
    with signals_deferred() as pending:
        deliver(signal.SIGTERM)
        deliver(signal.SIGINT)
    assert pending == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_waits_for_the_end_of_a_deferred_block() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), deferred():
        deliver(signal.SIGINT)
        done.append("the block ran to its end")
    assert done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_deferred_block_ending_by_an_error_keeps_the_error() -> None:
    with pytest.raises(ValueError), deferred():
        deliver(signal.SIGTERM)
        raise ValueError("the error that ended the run")


def test_a_waiting_signal_raises_where_the_code_may_be_cut_short() -> None:
    done = []
    with deferred():
        deliver(signal.SIGHUP)
        done.append("bookkeeping")
        with pytest.raises(SystemExit) as info, interruptible():
            done.append("never: cut short as it begins")
    assert info.value.code == 129 and done == ["bookkeeping"]


def test_only_the_first_signal_raises_so_the_teardown_runs_to_its_end() -> None:
    torn_down = []
    with pytest.raises(KeyboardInterrupt), interruptible():
        try:
            deliver(signal.SIGINT)
        finally:
            deliver(signal.SIGINT)  # a second Ctrl-C, during the teardown
            deliver(signal.SIGTERM)
            torn_down.append(True)
    assert torn_down


# -- the mode switches of the one handler ------------------------------------------------

# start() runs supervise() inside deferred(raise_at_end=False): switches 1 and 4 are in and
# out of signals_deferred() (the hand-off), 2 and 3 in and out of the supervisor's recorder.
SWITCHES = {1: 143, 2: 143, 3: 130, 4: 130}


@pytest.mark.parametrize(("switch", "code"), SWITCHES.items(), ids=[
    "into the hand-off", "into the supervisor", "out of the supervisor", "out of the hand-off"])
def test_a_sigterm_at_each_mode_switch_still_stops_the_dependencies(
        project: Path, monkeypatch: pytest.MonkeyPatch, switch: int, code: int) -> None:
    """A SIGTERM delivered right at a switch (a hook in signals._switch) neither kills the
    process nor skips the teardown: the run ends with a code and what it started is
    stopped. The apps end by a Ctrl-C once ready (130) unless the SIGTERM came first."""
    import yaml

    from tests.stack import app
    from workspace import signals
    from workspace.config.models import load_config
    from workspace.deps.ref import EMBEDDED_POSTGRES, DepRef
    from workspace.run import session
    from workspace.run.launcher import UpResult
    from workspace.supervisor.printer import Printer

    (project / "config.yaml").write_text(yaml.safe_dump(
        {"apps": {"api": app("sleeper.py", "api up", ready={"log": "api up"})},
         "supervisor": {"stop_grace_s": 2}}))
    config = load_config(project)
    stopped: list[list[DepRef]] = []

    def stop_started(config: object, started: list[DepRef], **kw: object) -> list[str]:
        stopped.append(list(started))
        started.clear()
        return ["embedded PostgreSQL"]

    monkeypatch.setattr(session, "stop_started", stop_started)
    switches = 0

    def hook() -> None:
        nonlocal switches
        switches += 1
        if switches == switch:
            os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode

    result = UpResult(started=[EMBEDDED_POSTGRES])
    with deferred(raise_at_end=False):
        monkeypatch.setattr(signals, "_switch_hooks", [hook])
        returned = session.supervise(
            config, result, mode="foreground", printer=Printer(["api"], colour=False),
            on_all_ready=lambda apps: os.kill(os.getpid(), signal.SIGINT))
    assert switches >= 4
    assert (returned, stopped, result.started) == (code, [[EMBEDDED_POSTGRES]], [])


# -- end to end: a signal at any instant of a real `workspace start` ----------------------
#
# "From the first instruction of workspace on": before it, the interpreter starts and runs
# `site` (no program can handle a signal there: Python's own handler is not even installed
# at first). A build that installs its handlers first shows them at once in the process's
# caught-signals mask (SigCgt: SIGTERM, which Python itself never catches); one that
# installs none early is known to run its own code once it loads its dependencies'
# compiled modules.

SEED_ENV = "WORKSPACE_SIGNALS_SEED"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
# What may never reach the user on a signal: a traceback, and what Python or a library
# prints of an error ignored on the way out (psycopg's "error ignored in rollback on
# <psycopg.Connection ...>", "Exception ignored in: ...").
FOREIGN = ("Traceback", "error ignored", "Exception ignored", "query cancellation",
           "query not terminated")


def caught(pid: int) -> set[int]:
    """The signals `pid` has a handler for (/proc/<pid>/status, SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return set()
    mask = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt:")), 16)
    return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}


def loads_dependencies(pid: int) -> bool:
    """Whether `pid` has mapped a compiled module of this venv's site-packages."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return any(SITE_PACKAGES in line and ".so" in line for line in maps.splitlines())


def first_instruction(proc: subprocess.Popen[str], timeout_s: float = 30) -> float:
    """When the launched `workspace` reached its own code (see above): a monotonic time."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if signal.SIGTERM in caught(proc.pid) or loads_dependencies(proc.pid):
            return time.monotonic()
        time.sleep(0.001)
    raise AssertionError(f"workspace (pid {proc.pid}) did not reach its own code in "
                         f"{timeout_s}s (exit {proc.poll()})")


def console_script() -> list[str]:
    return [str(Path(sys.executable).parent / "workspace")]


def launch(stack: Stack, entry: list[str], **env: str) -> LineProcess:
    full = {k: v for k, v in os.environ.items() if k not in FORBIDDEN} | env
    return LineProcess("workspace start", [*entry, "start"], cwd=stack.root, env=full)


def problems(stack: Stack, launcher: LineProcess, code: int, expected: int) -> list[str]:
    """What a signalled run left wrong: its exit, its output (stdout and stderr), the
    run's record and lock, its processes."""
    found = []
    if code != expected:
        found.append(f"exit {code}, expected {expected}")
    found += [f"{text!r} in the output" for text in FOREIGN if text in launcher.output]
    if (stack.root / ".workspace" / "run" / "state.json").exists():
        found.append("state.json left")
    if RunLock(stack.root / ".workspace").held():
        found.append("the run lock held")
    try:
        assert_nothing_left(stack.root)
    except AssertionError as exc:
        found.append(str(exc))
    return found


def clean_up(stack: Stack) -> None:
    """After a failed trial: what the next trial must not inherit."""
    stack.cli("stop", timeout=60)
    stack.cli("down", timeout=60)
    for proc in psutil.process_iter(["pid", "cwd", "cmdline"]):
        if str(stack.root) in " ".join(proc.info["cmdline"] or []) or \
                (proc.info["cwd"] or "").startswith(str(stack.root)):
            with contextlib.suppress(psutil.Error):
                proc.kill()


# The phases of `workspace start`, each begun by the line that ends the one before (a
# step is reported as it ends: output/events.py); the first begins at the first
# instruction. A signal in a phase shows its begin line last, then the run's end.
PHASES = {"startup": None,  # imports, the lock and the record, config, ports
          "server": "Ports free",  # pg_ctl start (initdb on a fresh project), the database
          "migrations": "Database ready",
          "validation": "Migrations applied",
          "apps": "All validations passed",  # the page, the apps started, their readiness
          "up": "press Ctrl-C to stop"}
UP_WINDOW_S = 0.5  # the last phase has no end: signals within this much of its begin
ENDS = ("FAILED", "received: stopping", "interrupted")
PER_PHASE = 5  # warm trials aimed at each phase
COLD_TRIALS = 3  # a fresh project each (initdb): one measures, two aim at the server's start
EXTRA_MIGRATIONS = 6  # beside the shipped ones: a migration step of a few tenths of a second


def phase_reached(lines: list[str]) -> str:
    """The phase under way when the run began to end: the last one whose begin line it
    printed."""
    shown = lines[:next((i for i, ln in enumerate(lines) if any(e in ln for e in ENDS)),
                        len(lines))]
    return [name for name, begin in PHASES.items()
            if begin is None or any(begin in ln for ln in shown)][-1]


def begins(launcher: LineProcess, first: float, *, until: str) -> dict[str, float]:
    """When each phase began (seconds after the first instruction), read as the lines
    come, up to the line holding `until`."""
    seen: dict[str, float] = {"startup": 0.0}
    read, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline:
        lines = list(launcher.lines)
        for line in lines[read:]:
            for name, begin in PHASES.items():
                if begin is not None and begin in line and name not in seen:
                    seen[name] = time.monotonic() - first
            if until in line:
                return seen
        read = len(lines)
        if launcher.proc.poll() is not None and len(launcher.lines) == read:
            break
        time.sleep(0.001)
    raise AssertionError(f"no {until!r} line (exit {launcher.proc.poll()}):\n{launcher.output}")


def lengths(seen: dict[str, float]) -> dict[str, float]:
    """How long each phase lasted that a run (read by `begins`) saw end."""
    names = list(PHASES)
    return {name: seen[after] - seen[name] for name, after in itertools.pairwise(names)
            if name in seen and after in seen}


def add_migrations(project: Path, count: int) -> None:
    """Tables with an index and some rows each, applied after the shipped migrations."""
    for i in range(count):
        (project / "migrations" / f"{9000 + i}_signals_{i}.sql").write_text(
            f"CREATE TABLE signals_{i} (id bigint PRIMARY KEY, name text NOT NULL);\n"
            f"INSERT INTO signals_{i} SELECT g, md5(g::text) FROM generate_series(1, 2000) g;\n"
            f"CREATE INDEX signals_{i}_name ON signals_{i} (name);\n")


def test_ctrl_c_at_any_instant_of_start_leaves_nothing(stack: Stack) -> None:
    """SIGINT to the launcher's group (Ctrl-C) at instants drawn in each phase of real
    runs: the first ones on a fresh project (initdb), the others warm (the cluster made
    once, stopped between runs; each run on a database of its own, so that every run
    applies the migrations and validates them). The first run of each kind is stopped
    once all its apps are ready; each next one is aimed at a phase (PER_PHASE warm runs
    per phase, in a seeded order): its signal goes at a random instant after the line
    that begins that phase, within the phase's median length in the runs so far (of its
    kind), however busy the machine. A third of the runs get a second Ctrl-C soon after
    (in the teardown). Each must exit 130, print nothing but our own lines (no
    traceback, no library's ignored error), and leave no state, no lock and no process;
    every phase must be reached by some run; a database whose migrations were cut short
    then migrates. Seeded: the seed and each run's aim and phase reached are printed, and
    WORKSPACE_SIGNALS_SEED replays the draw."""
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(10**6))
    print(f"{SEED_ENV}={seed}")
    rng = random.Random(seed)
    stack.configure(sleeper_apps())
    add_migrations(stack.root, EXTRA_MIGRATIONS)
    cluster = stack.root / ".workspace" / "postgres"
    warm = [phase for phase in PHASES for _ in range(PER_PHASE)]
    rng.shuffle(warm)
    plan = ["up", *["server"] * (COLD_TRIALS - 1), "up", *warm]  # the two "up" measure
    entry = [sys.executable, "-m", "workspace"]
    failures, reached, cut_short = [], [], None
    seen_lasting: dict[tuple[bool, str], list[float]] = {}  # (cold, phase): its lengths
    for trial, aim in enumerate(plan):
        cold = trial < COLD_TRIALS
        if cold:
            shutil.rmtree(cluster, ignore_errors=True)
            cluster.with_name("postgres.password").unlink(missing_ok=True)
        elif not (cluster / "PG_VERSION").exists():  # the cold runs were cut short
            assert stack.cli("db", "server", "start").returncode == 0
            assert stack.cli("db", "server", "stop").returncode == 0
        database = f"trial_{trial}"
        again = rng.uniform(0.01, 0.5) if rng.random() < 1 / 3 else None
        lasting = seen_lasting.get((cold, aim))
        window = statistics.median(lasting) if lasting and aim != "up" else UP_WINDOW_S
        offset = rng.uniform(0, 0.9 * window)
        launcher = launch(stack, entry, WORKSPACE_EMBEDDED__DATABASE=database)
        first = first_instruction(launcher.proc)
        try:
            begin = PHASES[aim]
            seen = {"startup": 0.0} if begin is None else begins(launcher, first, until=begin)
            for phase, length in lengths(seen).items():
                seen_lasting.setdefault((cold, phase), []).append(length)
            time.sleep(max(0.0, first + seen[aim] + offset - time.monotonic()))
            sent = f"{time.monotonic() - first - seen[aim]:.3f}s into {aim}"
        except AssertionError as exc:  # the run ended first: a failure of its own
            sent = f"never sent ({exc})"
        launcher.interrupt()
        if again is not None:
            time.sleep(again)
            launcher.interrupt()
        code = launcher.wait(120)
        found = problems(stack, launcher, code, 130)
        phase = phase_reached(launcher.lines)
        reached.append(phase)
        if phase == "migrations":
            cut_short = database
        kind = "cold" if cold else "warm"
        print(f"trial {trial:2d} {kind} aimed at {aim:10} {sent:26}{' x2' if again else '   '} "
              f"exit {code}: reached {phase}" + (f" -> {'; '.join(found)}" if found else ""))
        if found:
            tail = "\n    ".join(launcher.lines[-12:])
            failures.append(f"trial {trial} ({kind}, SIGINT {sent}, reached {phase}"
                            f"{f', again {again:.2f}s later' if again else ''}): "
                            f"{'; '.join(found)}\n    {tail}")
            clean_up(stack)
    print("phases reached:", {p: reached.count(p) for p in PHASES}, "median lengths:",
          {f"{'cold' if c else 'warm'} {p}": round(statistics.median(v), 3)
           for (c, p), v in seen_lasting.items()})
    assert not failures, (f"{len(failures)}/{len(plan)} trials failed ({SEED_ENV}={seed}):\n"
                          + "\n".join(failures))
    missed = [p for p in PHASES if p not in reached]
    assert not missed, f"no trial reached {missed} ({SEED_ENV}={seed}): {reached}"
    assert cut_short is not None
    after = run_cli(stack.root, "db", "migrate", env={"WORKSPACE_EMBEDDED__DATABASE": cut_short})
    assert after.returncode == 0, after.stdout + after.stderr


ENTRIES = {"python -m workspace": [sys.executable, "-m", "workspace"],
           "console script": console_script()}


@pytest.mark.parametrize("entry", ENTRIES.values(), ids=ENTRIES.keys())
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                           (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_in_the_first_tenth_of_a_second(stack: Stack, entry: list[str], sig: int,
                                                 code: int) -> None:
    """During the imports: the documented exit code, no traceback, nothing left."""
    stack.configure(sleeper_apps())
    for delay in (0.0, 0.02, 0.05, 0.1):
        launcher = launch(stack, entry)
        ready = first_instruction(launcher.proc)
        time.sleep(max(0.0, ready + delay - time.monotonic()))
        launcher.interrupt(sig)
        found = problems(stack, launcher, launcher.wait(60), code)
        assert not found, f"{delay}s: {'; '.join(found)}\n{launcher.output}"
