"""The embedded default runs real schemas: pgvector and the contrib extensions they use."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import psycopg
import pytest

from tests.conftest import SHIPPED_MIGRATIONS, query, run_cli
from workspace.deps import pg_extensions
from workspace.deps.embedded import EmbeddedPostgres
from workspace.deps.pg_extensions import mentioned_in
from workspace.errors import EmbeddedPostgresError

EXTENSIONS_SQL = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE items (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    email citext NOT NULL,
    title text NOT NULL,
    attrs hstore,
    embedding vector(3) NOT NULL,
    token_hash bytea GENERATED ALWAYS AS (digest(title, 'sha256')) STORED
);
CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_l2_ops);
CREATE INDEX items_title_trgm ON items USING gin (title gin_trgm_ops);
CREATE INDEX items_title_gist ON items USING gist (title);  -- btree_gist: text in GiST
"""


def test_every_listed_extension_is_created_and_used_on_the_embedded_default(
        outside_tmp: Path) -> None:
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "migrations" / "0001_extensions.sql").write_text(EXTENSIONS_SQL)
    (outside_tmp / "config.yaml").write_text(
        "precheck:\n  required_extensions: [vector, pgcrypto]\n  critical_tables: {}\n"
        "  critical_functions: []\n")
    try:
        migrated = run_cli(outside_tmp, "db", "migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        url = EmbeddedPostgres(outside_tmp / ".workspace" / "postgres", port=None).url()
        query(url, "INSERT INTO items (email, title, attrs, embedding) VALUES "
                   "('Ann@Example.com', 'postgres extensions', 'a=>1', '[1,0,0]'), "
                   "('bob@example.com', 'vector search', 'b=>2', '[0,1,0]')")
        assert query(url, "SELECT encode(digest('x', 'sha256'), 'hex')")[0][0] == \
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        assert query(url, "SELECT uuid_generate_v4() <> uuid_generate_v4()")[0][0] is True
        nearest = "SELECT title FROM items ORDER BY embedding <-> '[0.9,0.1,0]' LIMIT 1"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")
            assert conn.execute(nearest).fetchall() == [("postgres extensions",)]
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + nearest).fetchall())
        assert "items_embedding_hnsw" in plan
        assert query(url, "SELECT similarity(title, 'postgres extension') > 0.5 FROM items "
                          "WHERE title % 'postgres extension'") == [(True,)]
        assert query(url, "SELECT title FROM items WHERE email = 'ann@EXAMPLE.com'") == \
            [("postgres extensions",)]
        assert query(url, "SELECT attrs -> 'b' FROM items WHERE attrs ? 'b'") == [("2",)]
        assert len(query(url, "SELECT token_hash FROM items")[0][0]) == 32
        validated = run_cli(outside_tmp, "db", "validate")
        assert validated.returncode == 0, validated.stdout + validated.stderr
    finally:
        run_cli(outside_tmp, "db", "server", "stop")


def test_the_server_creates_only_the_required_extensions(outside_tmp: Path) -> None:
    """required_extensions decides: a project whose migrations never ask for vector does
    not get it (validation would call it extra)."""
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "migrations" / "0001_t.sql").write_text("CREATE TABLE t (id int PRIMARY KEY);\n")
    (outside_tmp / "config.yaml").write_text(
        "precheck:\n  required_extensions: []\n  critical_tables: {}\n  critical_functions: []\n")
    try:
        migrated = run_cli(outside_tmp, "db", "migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        url = EmbeddedPostgres(outside_tmp / ".workspace" / "postgres", port=None).url()
        assert query(url, "SELECT extname FROM pg_extension ORDER BY 1") == [("plpgsql",)]
        validated = run_cli(outside_tmp, "db", "validate")
        assert validated.returncode == 0, validated.stdout + validated.stderr
    finally:
        run_cli(outside_tmp, "db", "server", "stop")


def test_extensions_the_migrations_create_are_found() -> None:
    assert mentioned_in(SHIPPED_MIGRATIONS) >= {"vector"}


def test_a_missing_system_library_is_named_with_the_extension_and_its_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """uuid-ossp needs OSSP uuid on Linux: without it, the start stops before the server
    does, naming the extension and the package (never a silent gap)."""
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: None if name == "ossp-uuid" else real(name))
    pg_extensions.ensure(["pgcrypto", "vector"])  # OpenSSL 3 is there
    with pytest.raises(EmbeddedPostgresError) as info:
        pg_extensions.ensure(["vector", "uuid-ossp"])
    assert info.value.code == "PRECHECK_EMBEDDED_POSTGRES_FAILED"
    assert "uuid-ossp" in info.value.message and "libossp-uuid.so.16" in info.value.message
    assert "apt-get install libossp-uuid16" in info.value.remedy
    assert "gen_random_uuid()" in info.value.remedy
