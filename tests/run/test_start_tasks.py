"""`workspace start` with a task that fails: exit 36, its last lines, nothing left."""

from __future__ import annotations

from tests.stack import Stack, app, assert_nothing_left


def test_a_failing_task_stops_the_start_with_36_and_its_last_lines(stack: Stack) -> None:
    stack.configure({"seed": app("exit_with.py", 5, "loading fixtures", "duplicate key",
                                 kind="task"),
                     "api": app("sleeper.py", "api up", ready={"log": "api up"},
                                depends_on={"seed": "completed"})})
    launcher = stack.launch()
    assert launcher.wait() == 36, launcher.output
    assert "PRECHECK_TASK_FAILED" in launcher.output
    assert "seed | duplicate key" in launcher.output
    assert "api started" not in launcher.output
    assert "stopped embedded PostgreSQL" in launcher.output
    assert_nothing_left(stack.root)
