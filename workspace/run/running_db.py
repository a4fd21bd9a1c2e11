"""The database of the workspace that runs for this project, for the `db` commands.

    url = running_database_url(config)   # None when no workspace runs (or not yet up)
    url = database_url(config)           # configured, else running, else the backend's

The launcher records the URL it used in `.workspace/run/state.json`, masked (no password
ever lands in a file). The password is found again where the backend keeps it
(`Backend.recorded_url`: the embedded server's password file, the Docker backend's env
file, an external database's configured URL), or the URL this command was configured
with, or the launcher's own environment (`DATABASE_URL`, readable by its user only). A
candidate counts only when it masks to the recorded URL, so the `db` commands reach the
very database the apps use, whatever this shell's environment (no Docker variables, no
DATABASE_URL), and never start another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from workspace.errors import DatabaseUnreachable
from workspace.output import redact

if TYPE_CHECKING:
    from workspace.config.models import Config
    from workspace.run.state import RunState

__all__ = ["database_url", "running_database_url", "running_state"]


def running_state(config: Config) -> RunState | None:
    """The record of the launcher running for this project, None when none runs."""
    from workspace.run.state import RunLock, StateStore  # psutil: only for this question

    state = StateStore(config.state_dir).read()
    if state is None or not state.alive() or not RunLock(config.state_dir).held():
        return None
    return state


def running_database_url(config: Config) -> str | None:
    """The real URL of the running workspace's database; None when no workspace runs or
    it has no database yet; DatabaseUnreachable when its password cannot be found here."""
    state = running_state(config)
    if state is None or not state.database:
        return None
    masked = state.database
    if redact.MASK not in masked:
        return masked  # no password in it
    for candidate in _candidates(config, state):
        with contextlib.suppress(Exception):  # a candidate that cannot be read is no match
            url = candidate()
            if url and redact.mask_url(url) == masked:
                return url
    raise DatabaseUnreachable(
        f"the running workspace (pid {state.pid}) uses {masked}, whose password is not "
        "known to this command",
        remedy="Pass --database-url (or DATABASE_URL) as the workspace was started with.")


def _candidates(config: Config, state: RunState) -> Iterator[Callable[[], str | None]]:
    def backends() -> str | None:  # where the backend that runs it keeps its password
        from workspace.deps import backend_for
        from workspace.deps.ref import DepRef

        return backend_for(config, DepRef("postgres", state.backend)).recorded_url(
            state.database)
    yield backends
    if config.database.url is not None:
        configured = config.database.url.get_secret_value()
        yield lambda: configured

    def launchers_environment() -> str | None:
        import psutil

        return psutil.Process(state.pid).environ().get("DATABASE_URL")
    yield launchers_environment


def database_url(config: Config) -> str:
    """The configured URL (flag, DATABASE_URL, .env, config.yaml), else the database of
    the workspace running for this project, else the database of the
    backend `workspace up` would use, started on demand and left running."""
    if config.database.url is not None:
        return config.database.url.get_secret_value()
    running = running_database_url(config)
    if running is not None:
        return running
    from workspace.deps import choose_backend  # the backends only when no URL is known

    backend, _ = choose_backend(config)
    return backend.start()
