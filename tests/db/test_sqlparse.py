"""Splitting, positions, directives and transaction rules, on in-memory SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspace.db.sqlparse import line_col, parse_directives, split_migration, split_statements
from workspace.errors import MigrationFileError

F = Path("0001_x.sql")


def test_statements_keep_their_offsets_in_the_file() -> None:
    text = "-- intro\nCREATE TABLE a (id int);\n\n  /* c */ SELECT 'é;x';\nSELECT 2"
    stmts = split_statements(F, text)
    assert [s.text for s in stmts] == ["CREATE TABLE a (id int)", "SELECT 'é;x'", "SELECT 2"]
    assert [(s.line, s.column) for s in stmts] == [(2, 1), (4, 11), (5, 1)]
    assert all(text[s.offset:].startswith(s.text) for s in stmts)


def test_dollar_quoted_function_bodies_are_one_statement() -> None:
    text = ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n"
            "BEGIN\n  PERFORM 1; RETURN 2;\nEND $$;\nSELECT f();")
    assert [s.kind for s in split_statements(F, text)] == ["CreateFunctionStmt", "SelectStmt"]


def test_line_col_counts_characters_not_bytes_and_ignores_cr() -> None:
    text = "ab\r\nçé x"
    assert line_col(text, text.index("x")) == (2, 4)


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(MigrationFileError) as info:
        split_statements(F, "SELECT 1;\nSELEC 'é' FROM t;")
    assert info.value.line == 2 and info.value.column == 1
    assert info.value.message.startswith("0001_x.sql:2:1: SQL syntax error")


def test_psql_meta_commands_get_their_own_remedy() -> None:
    with pytest.raises(MigrationFileError) as info:
        split_statements(F, "\\set ON_ERROR_STOP on\nSELECT 1;")
    assert "meta-commands" in info.value.remedy


def test_comment_only_file_has_no_statement() -> None:
    with pytest.raises(MigrationFileError, match="no SQL statement"):
        split_statements(F, "-- nothing here yet\n/* later */\n")


@pytest.mark.parametrize("sql, what", [
    ("CREATE INDEX CONCURRENTLY i ON t (a);", "CREATE INDEX CONCURRENTLY"),
    ("DROP INDEX CONCURRENTLY i;", "DROP INDEX CONCURRENTLY"),
    ("REINDEX TABLE CONCURRENTLY t;", "REINDEX CONCURRENTLY"),
    ("VACUUM t;", "VACUUM"),
    ("CREATE DATABASE x;", "CREATE DATABASE"),
    ("ALTER SYSTEM SET work_mem = '8MB';", "ALTER SYSTEM"),
    ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", "DETACH PARTITION CONCURRENTLY"),
])
def test_non_transactional_statement_in_transactional_file_is_refused_with_the_fix(
        sql: str, what: str) -> None:
    with pytest.raises(MigrationFileError) as info:
        split_statements(F, "SELECT 1;\n" + sql)
    assert what in info.value.message and info.value.line == 2
    assert "-- workspace: no-transaction" in info.value.remedy
    assert split_statements(F, sql, transactional=False)[0].outside_transaction


def test_begin_and_commit_are_refused_in_transactional_files() -> None:
    with pytest.raises(MigrationFileError, match="COMMIT") as info:
        split_statements(F, "CREATE TABLE a (id int);\nCOMMIT;")
    assert "transaction of its own" in info.value.remedy


def test_analyze_and_savepoints_may_run_in_a_transaction() -> None:
    stmts = split_statements(F, "ANALYZE t;\nSAVEPOINT s;\nRELEASE SAVEPOINT s;")
    assert [s.outside_transaction for s in stmts] == [None, None, None]


def test_directive_line_sets_options() -> None:
    d = parse_directives(F, "-- workspace: no-transaction lock_timeout=30s statement_timeout=5min\n")
    assert (d.transactional, d.lock_timeout, d.statement_timeout) == (False, "30s", "5min")
    assert parse_directives(F, "-- just a comment\nSELECT 1").transactional


@pytest.mark.parametrize("line", ["-- workspace: no-transactions",
                                  "-- workspace: lock_timeout=soon",
                                  "-- workspace: statement_timeout='1s'; DROP TABLE x"])
def test_unknown_or_unsafe_directive_is_refused(line: str) -> None:
    with pytest.raises(MigrationFileError) as info:
        parse_directives(F, line + "\nSELECT 1;")
    assert info.value.line == 1 and "Known options" in info.value.remedy


def test_line_col_counts_a_lone_carriage_return_as_a_line_break() -> None:
    text = "SELECT 1;\rSELECT 2;\r\nSELEC x"
    assert line_col(text, text.index("x")) == (3, 7)
    with pytest.raises(MigrationFileError) as info:
        split_statements(F, text)
    assert (info.value.line, info.value.column) == (3, 1)


def test_directive_line_may_end_with_a_lone_carriage_return() -> None:
    d = parse_directives(F, "-- workspace: no-transaction\rCREATE INDEX CONCURRENTLY i ON t (a);")
    assert not d.transactional


def test_nul_is_refused_before_the_parser_would_stop_at_it() -> None:
    with pytest.raises(MigrationFileError, match="NUL byte") as info:
        split_statements(F, "CREATE TABLE a (id int);\0\nDROP TABLE a;")
    assert (info.value.line, info.value.column) == (1, 25)


@pytest.mark.parametrize("value", ["2147483648", "2147484s", "25d", "99999999999999999999h"])
def test_directive_timeout_past_the_servers_limit_is_refused(value: str) -> None:
    with pytest.raises(MigrationFileError, match="past PostgreSQL's limit") as info:
        parse_directives(F, f"-- workspace: lock_timeout={value}\nSELECT 1;")
    assert info.value.line == 1
    assert parse_directives(F, "-- workspace: statement_timeout=2147483s\n").statement_timeout


def test_one_outer_begin_commit_pair_is_left_out_with_a_note() -> None:
    parsed = split_migration(F, "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n"
                                "COMMIT;\n")
    assert [s.kind for s in parsed.statements] == ["CreateStmt", "InsertStmt"]
    (note,) = parsed.notes
    assert note.line == 1 and "COMMIT (line 4)" in note.text
    start = split_migration(F, "START TRANSACTION;\nSELECT 1;\nEND;")
    assert [s.kind for s in start.statements] == ["SelectStmt"]


@pytest.mark.parametrize("sql", [
    "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;",  # two pairs
    "BEGIN;\nSELECT 1;\nROLLBACK;",  # not a commit
    "SELECT 0;\nBEGIN;\nSELECT 1;\nCOMMIT;",  # not outer
    "BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;",
])
def test_other_transaction_control_stays_an_error(sql: str) -> None:
    with pytest.raises(MigrationFileError, match="migration's own transaction"):
        split_migration(F, sql)


PG_DUMP = """--
-- PostgreSQL database dump
--
\\restrict 4cQxuDUr9dH0aUq6fCX3Vv2UZq
SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;

CREATE SCHEMA kb;

SET default_tablespace = '';
SET default_table_access_method = heap;

CREATE TABLE kb.documents (
    id integer NOT NULL,
    title text
);

CREATE TABLE public.schema_migrations (
    version text NOT NULL,
    filename text NOT NULL,
    applied_at timestamp with time zone DEFAULT now()
);

ALTER TABLE public.schema_migrations OWNER TO someone_else;

COPY public.schema_migrations (version, filename, applied_at) FROM stdin;
0001\t0001_init.sql\t2024-01-01 12:00:00+00
0002\t0002_more.sql\t2024-02-01 12:00:00+00
\\.

INSERT INTO public.schema_migrations VALUES ('0003', '0003_x.sql', now());

ALTER TABLE ONLY kb.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

--
-- PostgreSQL database dump complete
--

\\unrestrict 4cQxuDUr9dH0aUq6fCX3Vv2UZq
"""


def test_a_dump_creating_another_tools_tracking_table_skips_it_and_its_rows() -> None:
    parsed = split_migration(F, PG_DUMP)
    kinds = [s.kind for s in parsed.statements]
    assert kinds.count("CreateStmt") == 1 and "CopyStmt" not in kinds
    assert "InsertStmt" not in kinds
    assert not any("schema_migrations" in s.text for s in parsed.statements)
    assert [s.text for s in parsed.statements][-1].startswith("ALTER TABLE ONLY kb.documents")
    restrict, note = parsed.notes
    assert restrict.line == 4 and "pg_dump's \\restrict and \\unrestrict lines" in restrict.text
    assert note.line == 23 and "the guide's original runner's tracking table" in note.text


def test_a_table_named_schema_migrations_elsewhere_or_unlike_a_runners_is_kept() -> None:
    for sql in ("CREATE TABLE app.schema_migrations (version text, filename text, "
                "applied_at timestamptz);",
                "CREATE TABLE public.schema_migrations (version text, note text);"):
        assert [s.kind for s in split_migration(F, sql).statements] == ["CreateStmt"]


def test_a_dump_with_crlf_line_endings_is_read_the_same() -> None:
    crlf = split_migration(F, PG_DUMP.replace("\n", "\r\n"))
    plain = split_migration(F, PG_DUMP)
    assert [s.text.replace("\r\n", "\n") for s in crlf.statements] == \
        [s.text for s in plain.statements]
    assert [n.line for n in crlf.notes] == [n.line for n in plain.notes] == [4, 23]
