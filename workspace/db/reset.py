"""`workspace db reset`: drop the workspace's own database, create it again, migrate.

    url, backend = own_database(config)   # DatabaseNotOurs for a database given to us
    reset(config, url)                    # then the caller migrates

Only a database workspace made itself is dropped: the embedded server's, or the Docker
backend's (its compose file creates it). A URL given by flag, DATABASE_URL, .env or
config.yaml is someone else's, whatever it points at. Nothing is dropped while a
workspace runs: its apps are connected to it.
"""

from __future__ import annotations

from psycopg import sql

from workspace.config.models import Config
from workspace.db.connect import connection, map_psycopg_errors
from workspace.errors import AlreadyRunning, DatabaseNotOurs
from workspace.output import redact

__all__ = ["own_database", "reset"]

MAINTENANCE_DB = "postgres"


def own_database(config: Config) -> tuple[str, str]:
    """The URL of the database workspace created, and its backend; the backend is
    started when it is not running."""
    if config.database.url is not None:
        masked = redact.mask_url(config.database.url.get_secret_value())
        raise DatabaseNotOurs(f"{masked} is a database workspace was given, not one it "
                              "created (database.url: a flag, DATABASE_URL, .env or "
                              "config.yaml); nothing was dropped")
    from workspace.run.running_db import running_state

    state = running_state(config)
    if state is not None:
        raise AlreadyRunning(f"a workspace is running (pid {state.pid}) and its apps use "
                             "the database; nothing was dropped",
                             remedy="`workspace stop`, then `workspace db reset` again.")
    from workspace.deps import choose_backend

    backend, _ = choose_backend(config)
    if backend.name not in ("embedded", "docker"):
        raise DatabaseNotOurs(f"the {backend.name} backend's database was not created by "
                              "workspace; nothing was dropped")
    return backend.start(), backend.name


def reset(config: Config, url: str) -> str:
    """Drop the URL's database (closing its connections) and create it again, with the
    required extensions; returns its name."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = str(conninfo_to_dict(url).get("dbname") or "")
    if not name or name == MAINTENANCE_DB:
        raise DatabaseNotOurs(f"{redact.mask_url(url)}: workspace does not drop the "
                              f"`{name or '?'}` database")
    timeout_s = config.database.connect_timeout_s
    with map_psycopg_errors("db reset"):
        with connection(make_conninfo(url, dbname=MAINTENANCE_DB), timeout_s=timeout_s) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with connection(url, timeout_s=timeout_s) as conn:
            for extension in config.precheck.required_extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(extension)))
    return name
