"""Scratch databases: made from template0 on the same server, always dropped afterwards.

Atlas calls this the dev database, Prisma the shadow database: the place where the
migrations are applied to learn what they define.

    with scratch_database(url, timeout_s=10) as scratch_url:
        ...
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from workspace.db.connect import connect
from workspace.errors import ValidationUnavailable
from workspace.output import redact

__all__ = ["database_url_for", "scratch_database"]

PREFIX = "workspace_scratch_"


def database_url_for(url: str, database: str) -> str:
    """`url` (a URL or a key/value string) with its database replaced, as libpq reads it:
    a `?dbname=` in the query wins over the URL's path, several hosts and a socket host
    (`?host=/path`) are kept. The result is a key/value connection string."""
    return make_conninfo(url, dbname=database)


@contextmanager
def scratch_database(url: str, *, timeout_s: float) -> Iterator[str]:
    """A new, empty database next to the one `url` names; dropped on the way out."""
    name = PREFIX + uuid.uuid4().hex[:16]
    conn = connect(url, timeout_s=timeout_s)
    try:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
                         .format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            user = conn.info.user
            raise ValidationUnavailable(
                f"role {user!r} may not create a scratch database on "
                f"{redact.mask_url(url)}",
                remedy=f"Grant it (ALTER ROLE {user} CREATEDB), or commit a snapshot of the "
                       "expected schema with `workspace db snapshot` where it is allowed."
            ) from None
        try:
            yield database_url_for(url, name)
        finally:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))
    finally:
        conn.close()
