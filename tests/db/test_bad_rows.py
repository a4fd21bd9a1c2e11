"""The remedy when rows stop `db fix` restoring a constraint (the queries are run on a
real PostgreSQL in tests/db/test_fix.py, test_tenant.py and commands/test_schema.py)."""

from __future__ import annotations

from workspace.db.bad_rows import data_remedy, is_data_error, quote_ident


def test_only_integrity_violations_are_about_rows() -> None:
    assert is_data_error("23503") and is_data_error("23P01")
    assert not is_data_error("42704") and not is_data_error("")


def test_a_multi_column_match_full_foreign_key_finds_partly_null_keys_too() -> None:
    sql = ("ALTER TABLE app.lines ADD CONSTRAINT lines_order_fkey FOREIGN KEY (org, num) "
           "REFERENCES app.orders(org, num) MATCH FULL")
    assert data_remedy(sql, "23503") == (
        "Table app.lines has rows that break foreign key lines_order_fkey: find them with "
        "`SELECT * FROM app.lines c WHERE NOT (c.org IS NULL AND c.num IS NULL) AND NOT "
        "EXISTS (SELECT 1 FROM app.orders p WHERE p.org = c.org AND p.num = c.num)`, fix "
        "or delete them, then run workspace db fix")


def test_duplicates_are_found_for_a_unique_constraint() -> None:
    sql = "ALTER TABLE app.users ADD CONSTRAINT users_email_key UNIQUE (email)"
    assert "`SELECT email, count(*) FROM app.users GROUP BY email HAVING count(*) > 1`" \
        in data_remedy(sql, "23505")


def test_without_a_query_the_table_and_constraint_are_still_named() -> None:
    sql = "CREATE UNIQUE INDEX users_lower_email ON app.users USING btree (lower(email))"
    assert data_remedy(sql, "23505", table="app.users", constraint="users_lower_email") == (
        "Table app.users has rows that break unique constraint users_lower_email: fix or "
        "delete them, then run workspace db fix")


def test_names_from_the_servers_diagnostics_are_quoted_only_when_sql_needs_it() -> None:
    assert quote_ident("chunks") == "chunks" and quote_ident("") == ""  # none given
    assert quote_ident("Order Lines") == '"Order Lines"' and quote_ident('a"b') == '"a""b"'
    assert data_remedy("ALTER TABLE x ALTER COLUMN y SET NOT NULL", "23502",
                       table='app."Lines"', column='"Qty"') == (
        'Table app."Lines" has rows that break NOT NULL constraint of column "Qty": find '
        'them with '
        '`SELECT * FROM app."Lines" WHERE "Qty" IS NULL`, fix or delete them, then run '
        "workspace db fix")
