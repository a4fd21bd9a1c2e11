"""The launcher's signal windows: real signals sent to this process, and to real
`workspace start` runs at random instants."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psutil
import pytest

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
    stopped: list[list[str]] = []

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
TRIALS = 30
COLD_TRIALS = 3  # the first ones also create the cluster (initdb)
LATEST_S = 2.5  # at least: imports, lock, state, initdb / pg_ctl start, migrations, ...
MEASURED_CAP_S = 8.0  # ... up to the apps' start, as measured, within this
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


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


def launch(stack: Stack, entry: list[str]) -> LineProcess:
    env = {k: v for k, v in os.environ.items() if k not in FORBIDDEN}
    return LineProcess("workspace start", [*entry, "start"], cwd=stack.root, env=env)


def problems(stack: Stack, launcher: LineProcess, code: int, expected: int) -> list[str]:
    """What a signalled run left wrong: its exit, its output, the run's record and lock,
    its processes."""
    found = []
    if code != expected:
        found.append(f"exit {code}, expected {expected}")
    if "Traceback" in launcher.output:
        found.append("a traceback")
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


def phase_reached(lines: list[str]) -> str:
    """The last line before the signal showed (the step or app event under way)."""
    ends = ("FAILED", "received: stopping", "interrupted")
    before = ["(imports)"] + [ln.strip() for ln in lines]
    at = next((i for i, ln in enumerate(before) if any(e in ln for e in ends)), len(before))
    return before[at - 1]


def test_ctrl_c_at_any_instant_of_start_leaves_nothing(stack: Stack) -> None:
    """SIGINT to the launcher's group (Ctrl-C) at random instants of real runs: the first
    ones on a fresh project (initdb), the others warm (the cluster made once, stopped
    between runs). The first run of each kind is stopped once all its apps are ready, and
    measures how long that takes (at least LATEST_S): the instants of the next ones are
    spread from 0 to there, so that they fall in the imports, the lock and state, initdb
    or pg_ctl start, migrations, validation and the apps' start alike, however busy the
    machine. A third of the runs get a second Ctrl-C soon after (in the teardown). Each
    must exit 130 without a traceback, leaving no state, no lock and no process. Seeded:
    the seed is printed, and WORKSPACE_SIGNALS_SEED replays a run."""
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(10**6))
    print(f"{SEED_ENV}={seed}")
    rng = random.Random(seed)
    stack.configure(sleeper_apps())
    cluster = stack.root / ".workspace" / "postgres"
    failures, latest = [], LATEST_S
    for trial in range(TRIALS):
        cold = trial < COLD_TRIALS
        if cold:
            shutil.rmtree(cluster, ignore_errors=True)
            cluster.with_name("postgres.password").unlink(missing_ok=True)
        elif not (cluster / "PG_VERSION").exists():
            assert stack.cli("db", "server", "start").returncode == 0
            assert stack.cli("db", "server", "stop").returncode == 0
        measuring = trial in (0, COLD_TRIALS)
        delay = rng.uniform(0, latest)
        again = rng.uniform(0.01, 0.5) if rng.random() < 1 / 3 else None
        launcher = launch(stack, [sys.executable, "-m", "workspace"])
        began = time.monotonic()
        ready = first_instruction(launcher.proc)
        if measuring:
            launcher.wait_for("all apps ready", timeout_s=120)
            latest = max(LATEST_S, min(time.monotonic() - began, MEASURED_CAP_S))
        else:
            time.sleep(max(0.0, began + delay - time.monotonic()))
        sent = time.monotonic() - max(began, ready)
        launcher.interrupt()
        if again is not None:
            time.sleep(again)
            launcher.interrupt()
        code = launcher.wait(120)
        found = problems(stack, launcher, code, 130)
        reached = phase_reached(launcher.lines)
        print(f"trial {trial:2d} {'cold' if cold else 'warm'} {sent:6.3f}s"
              f"{' x2' if again else '   '} exit {code}: {reached[:80]}"
              + (f" -> {'; '.join(found)}" if found else ""))
        if found:
            tail = "\n    ".join(launcher.lines[-12:])
            failures.append(f"trial {trial} ({'cold' if cold else 'warm'}, SIGINT {sent:.3f}s "
                            f"after the first instruction"
                            f"{f', again {again:.2f}s later' if again else ''}): "
                            f"{'; '.join(found)}\n    {tail}")
            clean_up(stack)
    assert not failures, (f"{len(failures)}/{TRIALS} trials failed ({SEED_ENV}={seed}):\n"
                          + "\n".join(failures))


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
