#!/usr/bin/env python
"""Benchmark `workspace.output.redact.redact` on long lines: linear, also on hostile input.

    python benchmarks/bench_redact.py [--runs 7] [--size 1048576]

Times, in-process (time.perf_counter), the median of --runs calls per input at two sizes
(size/2 and size), with a weak and a strong password registered as `workspace` does:

  baseline  an ordinary log line of that size (words, no secret, no marker)
  urls      many `postgresql://u:pw@h/db password=x` pieces, every one masked
  hostile   runs of `@`, `:` and `/` (and variants: `//u:`, `a:b@`, `password=`, blanks),
            the shapes that make a backtracking regex quadratic

and prints each median, its ratio to the baseline of the same size, and the growth from
size/2 to size (about 2 for linear time; a quadratic scan shows about 4). Nothing is
asserted: aims are reported as met or missed, the exit status is 0 unless redaction
left a secret visible.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from workspace.output import redact

SECRET = "Str0ng-Secret-77"

INPUTS: dict[str, Callable[[int], str]] = {
    "baseline": lambda n: ("workspace server ready on port 3002 after 12 ms " * n)[:n],
    "urls": lambda n: (f"postgresql://u:{SECRET}@h/db password={SECRET} " * n)[:n],
    "hostile @:/": lambda n: ("@:/" * n)[:n],
    "hostile //u:": lambda n: ("//u:" * n)[:n],
    "hostile a:b@": lambda n: ("a:b@" * n)[:n],
    "hostile password=": lambda n: ("password=" * n)[:n],
    "hostile x@y:z/ ": lambda n: ("x@y:z/ " * n)[:n],
    "hostile quote": lambda n: ("password='" + "\\'" * n)[:n],
}

SHORT_LINES = [
    "14:02:07 server    | API listening on port 3002 GET /health 200 in 1.2ms",
    "14:02:07 workspace | run `workspace db migrate` again (workspace 0.1)",
    f"cannot connect to postgresql://app:{SECRET}@db:5432/x: connection refused",
]


def median_s(text: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        out = redact.redact(text)
        samples.append(time.perf_counter() - began)
        if SECRET in out:
            raise SystemExit(f"benchmark failed: the secret is visible after redact ({text[:60]!r}...)")
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", type=int, default=2**20, help="bytes of the larger line")
    args = parser.parse_args(argv)
    redact.on_weak_password(lambda _: None)
    redact.register_url("postgresql://workspace:workspace@localhost/workspace")  # weak
    redact.register_url(f"postgresql://u:{SECRET}@h/db")  # strong
    half, full = args.size // 2, args.size
    print(f"Python {sys.version.split()[0]}; median of {args.runs} calls; sizes {half} and {full} chars")
    print(f"{'input':<20}{'median ' + str(half):>16}{'median ' + str(full):>16}"
          f"{'x baseline':>12}{'growth':>9}")
    base = {n: median_s(INPUTS["baseline"](n), args.runs) for n in (half, full)}
    worst = 0.0
    for name, make in INPUTS.items():
        small = base[half] if name == "baseline" else median_s(make(half), args.runs)
        large = base[full] if name == "baseline" else median_s(make(full), args.runs)
        growth = large / small if small else float("nan")
        worst = max(worst, growth)
        print(f"{name:<20}{small * 1000:>13.2f} ms{large * 1000:>13.2f} ms"
              f"{large / base[full]:>11.1f}x{growth:>9.2f}")
    print("short lines (an app's output, line by line): median of runs x 20000 calls")
    for line in SHORT_LINES:
        samples = []
        for _ in range(args.runs):
            began = time.perf_counter()
            for _ in range(20000):
                redact.redact(line)
            samples.append((time.perf_counter() - began) / 20000)
        print(f"  {statistics.median(samples) * 1e6:7.2f} us  {line[:60]}")
    print(f"aim: growth below 3 when the line doubles (linear): "
          f"{'aim met' if worst < 3 else 'aim missed'} (worst {worst:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
