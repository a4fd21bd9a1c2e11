"""The page's database jobs (page/database.py) on a real database."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import query
from workspace.page.database import LiveDatabase
from workspace.page.state import LiveState


def test_the_pages_fix_shows_the_remedy_when_rows_keep_a_step_out(
        admin_url: str, db_url: str, tmp_path: Path) -> None:
    """The page's fix, like `db fix`, names the rows to deal with instead of leaving the
    user to press fix again, which would fail the same way."""
    from tests.db.tenant import build, ensure_app_role, make_project

    ensure_app_role(admin_url)
    config = make_project(tmp_path)
    build(config, db_url)
    query(db_url, "DROP TABLE kb.documents CASCADE")
    said: list[str] = []
    db = LiveDatabase(config, db_url, LiveState([]), say=said.append)
    db.start()
    try:
        db.submit("fix")
        assert db.idle.wait(timeout=120), said
    finally:
        db.stop()
    failed = next(i for i, line in enumerate(said)
                  if "could not create foreign key kb.chunks.chunks_document_id_fkey" in line)
    remedy = said[failed + 1]
    assert "chunks_document_id_fkey" in remedy and "SELECT " in remedy, said
    assert remedy.rstrip().endswith("then run workspace db fix"), remedy
