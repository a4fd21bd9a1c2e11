"""`workspace db reset`: drop the workspace's own database, create it again, migrate.

    reset(url, connect_timeout_s=10.0, extensions=("vector",))  # then the caller migrates

Only a database workspace made itself is dropped: the command decides which
(`workspace.commands.db_daily`: not one given by URL, not while a workspace runs); this
module only drops and creates.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from workspace.db.connect import connection, map_psycopg_errors
from workspace.errors import DatabaseNotOurs
from workspace.output import redact

__all__ = ["reset"]

MAINTENANCE_DB = "postgres"


def reset(url: str, *, connect_timeout_s: float, extensions: Sequence[str] = ()) -> str:
    """Drop the URL's database (closing its connections) and create it again, with the
    required `extensions`; returns its name."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = str(conninfo_to_dict(url).get("dbname") or "")
    if not name or name == MAINTENANCE_DB:
        raise DatabaseNotOurs(f"{redact.mask_url(url)}: workspace does not drop the "
                              f"`{name or '?'}` database")
    timeout_s = connect_timeout_s
    with map_psycopg_errors("db reset"):
        with connection(make_conninfo(url, dbname=MAINTENANCE_DB), timeout_s=timeout_s) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with connection(url, timeout_s=timeout_s) as conn:
            for extension in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(extension)))
    return name
