"""`workspace up`: dependencies up and prechecked, no apps (for scripts and CI);
`workspace down`: stop what the launcher started (volumes and data kept)."""

from __future__ import annotations

import argparse
from typing import Any

from workspace.commands.common import add_common, config_from
from workspace.output.console import Console

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("up", help="bring the dependencies up and precheck them (no apps)",
                       description="PostgreSQL and Zitadel up, readiness polled within "
                                   "bounds, migrations applied and the schema validated; on "
                                   "any failure a PRECHECK_* code and nothing more starts. "
                                   "--json streams one event per step.")
    add_common(p)
    p.set_defaults(handler=_up)
    p = sub.add_parser("down", help="stop the dependencies the launcher started (data kept)")
    add_common(p, url=False)
    p.set_defaults(handler=_down)


def _up(args: argparse.Namespace, console: Console) -> int:
    from workspace.output.events import Steps  # not loaded by the parser: a dataclass costs
    from workspace.run.launcher import up

    config = config_from(args)
    steps = Steps(console)
    if not console.json_mode:
        console.line("🔍 Validating configuration..." if console.fancy
                     else "Validating configuration...")
    result = up(config, steps)
    total = sum(s.duration_s for s in steps.done)
    if console.json_mode:
        console.json({"event": "done", "status": "ok", "duration_s": round(total, 3),
                      "backend": result.backend, "oidc_issuer": result.oidc_issuer,
                      "oidc_client_id": result.oidc_client_id,
                      "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()}})
    else:
        console.line("✅ All validations passed" if console.fancy else "All validations passed")
    return 0


def _down(args: argparse.Namespace, console: Console) -> int:
    from workspace.errors import AlreadyRunning
    from workspace.run.launcher import down
    from workspace.run.state import RunLock

    config = config_from(args)
    lock = RunLock(config.state_dir)  # held throughout: no `start` begins meanwhile
    if not lock.acquire():
        raise AlreadyRunning("a workspace is running, and its apps use these dependencies",
                             remedy="`workspace stop` stops the apps, then what it started.")
    try:
        stopped = down(config)
    finally:
        lock.release()
    if console.json_mode:
        console.json({"ok": True, "stopped": stopped})
    else:
        for name in stopped:
            console.ok(f"Stopped {name}")
        if not stopped:
            console.ok("Nothing of ours was running")
    return 0
