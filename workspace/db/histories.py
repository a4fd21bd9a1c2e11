"""Other migration tools' tracking tables: where each keeps its history, and the columns
that tell it apart. The one list `workspace init` (project/detect.py), `workspace db
adopt` (db/adopt.py) and the refusal of a foreign table in our table's place
(db/tracking.py) recognise them by.

    of_shape({"version", "dirty"}).tool                            # "golang-migrate"
    recognise("public.goose_db_version", {"id", "version_id"}).owner   # "goose's"

Three tools share `schema_migrations`: dbmate (and Rails) keep `version` only,
golang-migrate `version, dirty`, the guide's original runner `version, filename,
applied_at`. Flyway's columns are those `db adopt` reads.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["HISTORIES", "History", "of_shape", "recognise"]


class History:
    """(A plain class: a dataclass costs about 3M instructions to define, and the runner
    loads this module at every start.)"""

    __slots__ = ("columns", "owner", "table", "tool")

    def __init__(self, tool: str, owner: str, table: str, columns: frozenset[str]) -> None:
        self.tool = tool  # as `workspace db adopt --from` names it (those it can import)
        self.owner = owner  # whose history, as a phrase: "dbmate's (or Rails')"
        self.table = table  # where the tool keeps it, schema-qualified
        self.columns = columns  # that tell it apart (it may have more)


SCHEMA_MIGRATIONS = "public.schema_migrations"
# In this order: the first whose columns a table has is the one (dbmate's `version` last).
HISTORIES: tuple[History, ...] = (
    History("guide", "the guide's original runner's", SCHEMA_MIGRATIONS,
            frozenset({"version", "filename", "applied_at"})),
    History("golang-migrate", "golang-migrate's", SCHEMA_MIGRATIONS,
            frozenset({"version", "dirty"})),
    History("dbmate", "dbmate's (or Rails')", SCHEMA_MIGRATIONS, frozenset({"version"})),
    History("flyway", "Flyway's", "public.flyway_schema_history",
            frozenset({"installed_rank", "version", "script", "checksum", "installed_on",
                       "success"})),
    History("diesel", "diesel's", "public.__diesel_schema_migrations", frozenset({"version"})),
    History("goose", "goose's", "public.goose_db_version", frozenset({"version_id"})),
    History("alembic", "Alembic's", "public.alembic_version", frozenset({"version_num"})),
    History("prisma", "Prisma's", "public._prisma_migrations",
            frozenset({"migration_name"})),
)


def recognise(table: str, columns: Collection[str]) -> History | None:
    """The first history kept in `table` (schema-qualified) whose columns it has."""
    have = set(columns)
    return next((h for h in HISTORIES if h.table == table and h.columns <= have), None)


def of_shape(columns: Collection[str]) -> History | None:
    """The tool whose `schema_migrations` has exactly these columns, wherever the table is
    (ours under another name, or set aside)."""
    have = frozenset(columns)
    return next((h for h in HISTORIES
                 if h.table == SCHEMA_MIGRATIONS and h.columns == have), None)
