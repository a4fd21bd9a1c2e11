"""`workspace restart APP`: ask the running launcher to restart an app and the apps that
depend on it, through its live page (POST with the token from the state file), then wait
until each is ready again.

    code = restart(config, console, "server")   # 0; 1: no workspace runs, or not ready in time
"""

from __future__ import annotations

from typing import Any

import httpx

from workspace.config.apps import dependents
from workspace.config.models import Config
from workspace.errors import ConfigError
from workspace.output.console import Console
from workspace.page.server import TOKEN_HEADER
from workspace.run.state import RunLock, StateStore
from workspace.waits import polling

__all__ = ["restart"]

EXIT_NOT_DONE = 1
_POLL_S = 0.1
_SLACK_S = 10.0


def restart(config: Config, console: Console, app: str) -> int:
    if app not in config.apps:
        known = ", ".join(config.apps) or "none configured"
        raise ConfigError(f"no app named `{app}` in the configuration (apps: {known})",
                          remedy="Name one of the apps of config.yaml.")
    state = StateStore(config.state_dir).read()
    if state is None or not state.alive() or not RunLock(config.state_dir).held():
        console.info("No workspace is running: `workspace start` first")
        return EXIT_NOT_DONE
    if not state.page and state.phase == "starting":
        console.fail("The workspace is still starting: try again once its apps run")
        return EXIT_NOT_DONE
    if not state.page:
        console.fail("The running workspace serves no page (page.enabled: false), which "
                     "`restart` talks to: restart the workspace instead")
        return EXIT_NOT_DONE
    names = [n for n in config.app_order if n in dependents(config.apps, app)]
    url = state.page["url"]
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        before = _pids(client, url)
        try:
            answer = client.post(f"{url}api/restart/{app}",
                                 headers={TOKEN_HEADER: state.page["token"]})
        except httpx.HTTPError as exc:
            console.fail(f"The launcher's page at {url} does not answer: {exc}")
            return EXIT_NOT_DONE
        if answer.status_code != 202:
            console.fail(f"The launcher refused: {answer.status_code} "
                         f"{answer.json().get('error', '') if answer.content else ''}")
            return EXIT_NOT_DONE
        console.info(f"Restarting {', '.join(names)}...")
        budget = sum(_budget(config, n) for n in names)
        for _ in polling(budget, interval_s=_POLL_S):
            now = _apps(client, url)
            done = {n for n in names if now.get(n, {}).get("state") == "ready"
                    and now[n].get("pid") not in (None, before.get(n))}
            if done == set(names):
                for n in names:
                    console.ok(f"{n} restarted (pid {now[n]['pid']})")
                return 0
    console.fail(f"Not ready again within {budget:g}s: see `workspace logs`")
    return EXIT_NOT_DONE


def _budget(config: Config, name: str) -> float:
    cfg = config.apps[name]
    grace = cfg.stop_grace_s if cfg.stop_grace_s is not None else config.supervisor.stop_grace_s
    return float(grace + cfg.ready_timeout_s + _SLACK_S)


def _apps(client: httpx.Client, url: str) -> dict[str, dict[str, Any]]:
    try:
        return {a["name"]: a for a in client.get(f"{url}api/state").json()["apps"]}
    except (httpx.HTTPError, ValueError, KeyError):  # the launcher is busy or stopping
        return {}


def _pids(client: httpx.Client, url: str) -> dict[str, int | None]:
    return {name: app.get("pid") for name, app in _apps(client, url).items()}
