"""A cluster made by the old embedded server (pgserver's PostgreSQL 16) is refused by every
command with the remedy, and `workspace db server upgrade` upgrades it in place, intact."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port, query, run_cli
from workspace.deps import embedded, pg_extensions
from workspace.deps.embedded import EmbeddedPostgres
from workspace.deps.pg_upgrade import old_bin_dir

OLD_SCHEMA = """
CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, embedding vector(3) NOT NULL);
INSERT INTO docs (title, embedding)
    SELECT 'doc ' || i, ARRAY[i, i % 7, 1]::real[]::vector FROM generate_series(1, 200) i;
CREATE INDEX docs_embedding_hnsw ON docs USING hnsw (embedding vector_l2_ops);
CREATE FUNCTION doc_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM docs';
"""


def make_old_cluster(data: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """What an older workspace left: a cluster made and started by pgserver 0.1.4's
    binaries (the same code, driving the old binaries), with rows, an HNSW index and a
    function; left running."""
    with monkeypatch.context() as m:
        m.setattr(embedded, "bin_dir", old_bin_dir)
        m.setattr(pg_extensions, "server_options", lambda: "")  # PostgreSQL 16 lacks them
        old = EmbeddedPostgres(data, port=port)
        url = old.start()
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("16.")
        conn.execute(OLD_SCHEMA)
    return url


def test_an_old_cluster_is_refused_then_upgraded_in_place_intact(
        outside_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = outside_tmp
    (project / "migrations").mkdir()
    port = free_port()
    (project / "config.yaml").write_text(f"embedded:\n  port: {port}\n")
    data = project / ".workspace" / "postgres"
    url = make_old_cluster(data, port, monkeypatch)
    try:
        refused = run_cli(project, "db", "status")
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert "PRECHECK_EMBEDDED_POSTGRES_FAILED" in refused.stderr
        assert "PostgreSQL 16 cluster" in refused.stderr
        assert "workspace db server upgrade" in refused.stderr
        up = run_cli(project, "up")  # every command: the same error, nothing started
        assert up.returncode == 5 and "workspace db server upgrade" in up.stderr, up.stderr
        assert (data / "PG_VERSION").read_text().strip() == "16"
        assert query(url, "SELECT doc_count()") == [(200,)]  # untouched, still served

        upgraded = run_cli(project, "db", "server", "upgrade", timeout=600)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        kept = data.with_name("postgres.pg16")
        assert str(kept) in upgraded.stdout
        assert (kept / "PG_VERSION").read_text().strip() == "16"
        assert (data / "PG_VERSION").read_text().strip() == "18"

        # The same URL (same password, same port) now reaches PostgreSQL 18.
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
            assert conn.execute("SELECT doc_count()").fetchone() == (200,)
            assert conn.execute("SELECT title FROM docs WHERE id = 17").fetchone() == ("doc 17",)
            conn.execute("SET enable_seqscan = off")
            nearest = "SELECT id FROM docs ORDER BY embedding <-> '[5,5,1]' LIMIT 1"
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + nearest).fetchall())
            assert "docs_embedding_hnsw" in plan
            assert conn.execute(nearest).fetchone() == (5,)
            version, default = conn.execute(
                "SELECT e.extversion, a.default_version FROM pg_extension e "
                "JOIN pg_available_extensions a ON a.name = e.extname "
                "WHERE e.extname = 'vector'").fetchone()
            assert version == default  # updated after the upgrade

        status = run_cli(project, "db", "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        again = run_cli(project, "db", "server", "upgrade")
        assert again.returncode == 0 and "nothing to upgrade" in again.stdout
        assert json.loads(run_cli(project, "db", "server", "status", "--json").stdout)["running"]
    finally:
        run_cli(project, "db", "server", "stop")
        with monkeypatch.context() as m:  # the old server, if the upgrade never stopped it
            m.setattr(embedded, "bin_dir", old_bin_dir)
            if (data / "PG_VERSION").is_file() and \
                    (data / "PG_VERSION").read_text().strip() == "16":
                EmbeddedPostgres(data, port=port).stop()
