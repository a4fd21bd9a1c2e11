"""The one bounded wait loop, driven by a fake clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import workspace
from workspace.waits import polling


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_attempts_at_each_interval_and_a_last_one_at_the_deadline() -> None:
    clock = FakeClock()
    lefts = [round(left, 6) for left in polling(1.0, interval_s=0.3, clock=clock,
                                                  sleep=clock.sleep)]
    assert lefts == [1.0, 0.7, 0.4, 0.1, 0.0]
    assert clock.slept == [0.3, 0.3, 0.3, 0.1]  # never past the deadline


def test_break_is_success_and_else_is_the_timeout() -> None:
    clock = FakeClock()
    for attempt, _ in enumerate(polling(5.0, clock=clock, sleep=clock.sleep)):
        if attempt == 2:
            break
    else:
        pytest.fail("the loop ended without success")
    assert clock.now == pytest.approx(100.1)


def test_backoff_doubles_up_to_its_cap() -> None:
    clock = FakeClock()
    for _ in polling(2.0, interval_s=0.1, backoff=2, max_interval_s=0.5, clock=clock,
                     sleep=clock.sleep):
        pass
    assert clock.slept == [0.1, 0.2, 0.4, 0.5, 0.5, 0.3]


def test_a_slow_attempt_is_counted_against_the_bound() -> None:
    clock = FakeClock()
    attempts = 0
    for _ in polling(1.0, interval_s=0.1, clock=clock, sleep=clock.sleep):
        attempts += 1
        clock.now += 2.0  # one attempt takes longer than the whole bound
    assert attempts == 2 and clock.slept == []  # the first, then the last at the deadline


# Modules that sleep without polling(), and why that is not a bounded wait.
NOT_BOUNDED_WAITS = {
    "workspace/commands/start.py": "`workspace logs --follow`: tail -f until the workspace stops",
}


def test_every_bounded_wait_is_polling() -> None:
    # one wait helper (issue 13): a deadline loop of its own sleeps with time.sleep
    package = Path(workspace.__file__).parent
    sleeping = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "sleep" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "time"):
                sleeping.add(path.relative_to(package.parent).as_posix())
    assert sleeping - {"workspace/waits.py"} == set(NOT_BOUNDED_WAITS)
