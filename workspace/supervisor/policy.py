"""What an app's exit leads to, by its restart policy (compose's names).

    should_restart(app, returncode=1, restarts=0)   # True for on-failure, always, ...

`no`: never. `on-failure`: a non-zero exit (a kill by signal included: the liveness
probe's kill too). `always` and `unless-stopped`: any exit (workspace has no per-app
stop for `unless-stopped` to remember). Every policy stops after `max_restarts`
restarts in a run; then the exit is final and `on_exit` decides for the others. A task
that exits 0 has completed and is never restarted.
"""

from __future__ import annotations

from workspace.config.apps import AppConfig

__all__ = ["should_restart"]


def should_restart(app: AppConfig, *, returncode: int | None, restarts: int) -> bool:
    if restarts >= app.max_restarts or app.restart == "no":
        return False
    failed = returncode != 0
    if app.kind == "task" and not failed:
        return False
    return failed if app.restart == "on-failure" else True
