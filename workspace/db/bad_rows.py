"""What to do when rows stop `db fix` restoring a constraint (SQLSTATE class 23).

A foreign key whose referenced rows went with a dropped table, a CHECK or NOT NULL that
rows broke while it was gone: running `db fix` again fails the same way. `db fix` never
touches rows, so the remedy names the table and the constraint and, where it can, gives
the query that finds the rows to fix or delete first.

    data_remedy("ALTER TABLE kb.chunks ADD CONSTRAINT chunks_document_id_fkey "
                "FOREIGN KEY (document_id) REFERENCES kb.documents(id)", "23503")
    # 'Table kb.chunks has rows that break foreign key chunks_document_id_fkey: find them
    #  with `SELECT * FROM kb.chunks c WHERE ...`, fix or delete them, then run workspace db fix'
"""

from __future__ import annotations

import re

__all__ = ["data_remedy", "is_data_error", "quote_ident"]

_WORDS = {"23503": "foreign key", "23514": "check constraint", "23505": "unique constraint",
          "23502": "NOT NULL constraint", "23P01": "exclusion constraint"}
_ALTER = re.compile(r"^ALTER TABLE (?P<table>\S+) ADD CONSTRAINT (?P<name>\S+) (?P<def>.*)$",
                    re.DOTALL)
_FOREIGN_KEY = re.compile(r"^FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES (?P<ref>[^(]+)"
                          r"\((?P<refcols>[^)]*)\)(?P<rest>.*)$", re.DOTALL)
_ADD_COLUMN = re.compile(r"^(?P<add>ALTER TABLE (?P<table>\S+) ADD COLUMN IF NOT EXISTS "
                         r"(?P<name>\S+) .*?) NOT NULL$", re.DOTALL)
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
_CHECK = re.compile(r"^CHECK (?P<expr>\(.*\))(?: NOT VALID)?$", re.DOTALL)


def quote_ident(name: str) -> str:
    """A name from the server's diagnostics (bare) as SQL names it: quoted when needed."""
    return name if not name or _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def is_data_error(sqlstate: str) -> bool:
    """Class 23, integrity constraint violation: rows, not the schema, are in the way."""
    return sqlstate.startswith("23")


def data_remedy(step_sql: str, sqlstate: str, *, table: str = "", constraint: str = "",
                column: str = "") -> str:
    """The remedy for a step that rows stopped. `table`, `constraint` and `column` are
    the server's diagnostics; the step's own SQL, when it adds a constraint, names them
    qualified and gives the definition the query is built from."""
    column_sql = _ADD_COLUMN.match(step_sql.strip())
    if sqlstate == "23502" and column_sql is not None:
        # no default to fill the rows with: the user picks the values
        t, name = column_sql["table"], column_sql["name"]
        return (f"Column {t}.{name} cannot come back NOT NULL while {t} has rows: add it "
                f"with `{column_sql['add']}`, fill it, then "
                f"`ALTER TABLE {t} ALTER COLUMN {name} SET NOT NULL`, then run workspace db fix")
    alter = _ALTER.match(step_sql.strip())
    if alter is not None:
        table, constraint = alter["table"], alter["name"]
    query = ""
    if sqlstate == "23502" and table and column:
        query = f"SELECT * FROM {table} WHERE {column} IS NULL"
    elif alter is not None:
        query = _finder(table, alter["def"])
    what = _WORDS.get(sqlstate, "constraint")
    if constraint:
        what += f" {constraint}"
    elif column:
        what += f" of column {column}"
    subject = f"Table {table} has rows that break {what}" if table else f"Rows break {what}"
    find = f": find them with `{query}`, fix or delete them" if query else \
        ": fix or delete them"
    return f"{subject}{find}, then run workspace db fix"


def _finder(table: str, definition: str) -> str:
    """A query for the rows that break the constraint `definition` on `table`."""
    fk = _FOREIGN_KEY.match(definition)
    if fk is not None:
        cols = [c.strip() for c in fk["cols"].split(",")]
        refcols = [c.strip() for c in fk["refcols"].split(",")]
        match = " AND ".join(f"p.{r} = c.{c}" for c, r in zip(cols, refcols, strict=True))
        if "MATCH FULL" in fk["rest"]:  # only all-NULL keys are exempt
            exempt = " AND ".join(f"c.{c} IS NULL" for c in cols)
            given = f"NOT ({exempt})"
        else:  # MATCH SIMPLE: a key with any NULL is not checked
            given = " AND ".join(f"c.{c} IS NOT NULL" for c in cols)
        return (f"SELECT * FROM {table} c WHERE {given} AND NOT EXISTS "
                f"(SELECT 1 FROM {fk['ref'].strip()} p WHERE {match})")
    check = _CHECK.match(definition)
    if check is not None:  # NULL passes a CHECK: only false breaks it
        return f"SELECT * FROM {table} WHERE NOT {check['expr']}"
    unique = re.match(r"^(?:UNIQUE|PRIMARY KEY) \((?P<cols>[^)]*)\)", definition)
    if unique is not None:
        return (f"SELECT {unique['cols']}, count(*) FROM {table} GROUP BY {unique['cols']} "
                "HAVING count(*) > 1")
    return ""
