"""The database of the workspace that runs for this project, for the `db` commands.

    url = running_database_url(config)   # None when no workspace runs (or not yet up)

The launcher records the URL it used in `.workspace/run/state.json`, masked (no password
ever lands in a file). The password is found again where the backend keeps it: the
embedded server's password file, the Docker backend's env file, or, for an external
database, the URL this command was configured with or the launcher's own environment
(`DATABASE_URL`, readable by its user only). A candidate counts only when it masks to the
recorded URL, so the `db` commands reach the very database the apps use, whatever this
shell's environment (no Docker variables, no DATABASE_URL), and never start another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from workspace import redact
from workspace.errors import DatabaseUnreachable
from workspace.runstate import RunLock, RunState, StateStore

if TYPE_CHECKING:  # a cached configuration is a view: a warm command never imports pydantic
    from workspace.config import Config

__all__ = ["running_database_url", "running_state"]


def running_state(config: Config) -> RunState | None:
    """The record of the launcher running for this project, None when none runs."""
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
    masked = state.database
    if state.backend == "embedded":
        def embedded() -> str:
            from workspace.deps.embedded import EmbeddedPostgres

            server = EmbeddedPostgres(config.path(config.embedded.data_dir))
            password = server.password_file.read_text().strip()
            redact.register(password)
            return masked.replace(f":{redact.MASK}@", f":{quote(password, safe='')}@", 1)
        yield embedded
    if state.backend == "docker":
        def docker() -> str:
            from workspace.deps.compose import ComposeProject
            from workspace.deps.docker import postgres_url

            return postgres_url(config, ComposeProject(config).env_values())
        yield docker
    if config.database.url is not None:
        configured = config.database.url.get_secret_value()
        yield lambda: configured

    def launchers_environment() -> str | None:
        import psutil

        return psutil.Process(state.pid).environ().get("DATABASE_URL")
    yield launchers_environment
