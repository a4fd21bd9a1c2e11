#!/usr/bin/env python
"""Benchmark an app's start as the supervisor does it: PR_SET_PDEATHSIG by the exec shim
(supervisor/deathsig.py) against a bare Popen of the same command (the baseline).

    python benchmarks/bench_spawn.py [--runs 30]

Each sample: from the start to the child's first line (`/bin/echo`, so the command
itself costs next to nothing), for Process.start() (a) through setpriv and sh, as where
util-linux is installed, (b) through the Python shim, the fallback, (c) with the command
started directly (the baseline: as with the old preexec_fn, minus the hook), and (d)
subprocess.Popen alone. Prints the medians and their ratios to (c). Interleaved, so each
variant sees the same machine load. Standard library + workspace only.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_main, print_table  # noqa: E402

from workspace.supervisor import deathsig  # noqa: E402
from workspace.supervisor import process as process_module  # noqa: E402
from workspace.supervisor.deathsig import Check  # noqa: E402
from workspace.supervisor.process import Event, Process  # noqa: E402

COMMAND = ["/bin/echo", "up"]


def _process(tmp: Path) -> float:
    events: queue.Queue[Event] = queue.Queue()
    began = time.perf_counter()
    Process("app", COMMAND, cwd=tmp, env={}, log_path=tmp / "app.log", events=events).start()
    while events.get(timeout=10).type != "line":
        pass
    took = time.perf_counter() - began
    while events.get(timeout=10).type != "exit":
        pass
    return took


def _bare(tmp: Path) -> float:
    began = time.perf_counter()
    with subprocess.Popen(COMMAND, cwd=tmp, stdout=subprocess.PIPE,
                          start_new_session=True) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()
        took = time.perf_counter() - began
    return took


@bench_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {"setpriv": [], "shim": [], "direct": [], "bare": []}
    real, setpriv = process_module.spawn_args, deathsig.SETPRIV

    def direct(command: Sequence[str], **_: object) -> tuple[list[str], tuple[int, ...], Check]:
        return list(command), (), lambda popen: None

    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            try:
                if setpriv is not None:
                    samples["setpriv"].append(_process(Path(tmp)))
                deathsig.SETPRIV = None
                samples["shim"].append(_process(Path(tmp)))
                process_module.spawn_args = direct  # type: ignore[assignment]
                samples["direct"].append(_process(Path(tmp)))
            finally:
                process_module.spawn_args, deathsig.SETPRIV = real, setpriv
            samples["bare"].append(_bare(Path(tmp)))
    base = statistics.median(samples["direct"])
    labels = {"setpriv": "a. Process.start, setpriv + sh", "shim": "b. Process.start, Python shim",
              "direct": "c. Process.start, direct (baseline)", "bare": "d. bare Popen"}
    print_table(["variant", "median ms", "ratio to c"],
                [[labels[k], f"{statistics.median(v) * 1000:.1f}",
                  f"{statistics.median(v) / base:.2f}x"] for k, v in samples.items() if v])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
