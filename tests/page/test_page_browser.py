"""The live page as a user sees it, in a real headless Chromium clicking its buttons
(tests/cdp.py): log lines arriving, a drift line after a manual DROP TABLE, an app
restarted by its button, a pending migration with its error. Screenshots of each step
are kept in ARTEFACTS (printed; .workspace/ is not committed)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from tests.cdp import Browser, Tab
from tests.conftest import REPO, free_port
from tests.page.test_session import LAUNCH_S, Page, answer, web
from tests.stack import Stack

ARTEFACTS = Path(os.environ.get("WORKSPACE_TEST_ARTEFACTS", REPO / ".workspace" / "test-artefacts"))
SHOTS: list[Path] = []  # written in this run (tests/page/conftest.py prints where)


def q(selector: str) -> str:
    return f"document.querySelector({selector!r})"


def shot(tab: Tab, name: str) -> None:
    path = tab.screenshot(ARTEFACTS / "page" / name)
    SHOTS.append(path)
    print(f"screenshot: {path}")


def test_the_page_shows_logs_drift_restarts_and_a_pending_migration(
        stack: Stack, chromium: str, tmp_path: Path) -> None:
    ports = {"api": free_port(), "web": free_port()}
    stack.configure({"api": web("api", ports["api"], 0.3),
                     "web": web("web", ports["web"], depends_on=["api"])})
    launcher = stack.launch()
    page = Page(launcher)
    launcher.wait_for("all apps ready", LAUNCH_S)
    print(f"screenshots in {ARTEFACTS / 'page'}")
    with Browser(chromium, tmp_path / "profile") as browser:
        tab = browser.open(f"{page.url}#key={page.token}")
        tab.wait_for(q("#apps tr[data-app=web][data-state=ready]") + " !== null")
        assert tab.eval(q("#launcher") + ".dataset.connected") == "true"
        assert tab.eval(q("#deps tr[data-dep=postgres]") + ".dataset.state") == "running"
        assert tab.eval(q("#validation") + ".dataset.valid") == "true"
        tab.wait_for(q("#migrations") + ".dataset.rows === '3'")

        # log lines arriving, streamed
        seen = int(tab.wait_for(q("[data-log=api] pre") + ".dataset.lines"))
        tab.wait_for(f"Number({q('[data-log=api] pre')}.dataset.lines) > {seen}")
        assert "api tick" in tab.eval(q("[data-log=api] pre") + ".textContent")
        shot(tab, "1-running-with-logs.png")

        # a drift line after a manual DROP TABLE, on demand
        password = (stack.root / ".workspace" / "postgres.password").read_text().strip()
        url = f"postgresql://postgres:{password}@127.0.0.1:{stack.pg_port}/workspace"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE kb.tags CASCADE")
        tab.eval(q("#validate") + ".click()")
        tab.wait_for(q("#validation") + ".dataset.valid === 'false'", 60)
        drift = tab.eval("[...document.querySelectorAll('#drift li')].map(e => e.textContent)")
        assert any("kb.tags" in line for line in drift), drift
        shot(tab, "2-drift-after-drop-table.png")
        tab.eval(q("#fix") + ".click()")
        tab.wait_for(q("#validation") + ".dataset.valid === 'true'", 60)

        # an app restarted by its button, with what depends on it
        before = {name: answer(port) for name, port in ports.items()}
        pid = tab.eval(q("#apps tr[data-app=api]") + ".dataset.pid")
        tab.eval(q("button[data-restart=api]") + ".click()")
        tab.wait_for(f"{q('#apps tr[data-app=api]')}.dataset.pid !== {pid!r} && "
                     f"{q('#apps tr[data-app=web]')}.dataset.state === 'ready' && "
                     f"{q('#apps tr[data-app=api]')}.dataset.state === 'ready'", 30)
        assert all(answer(port) != before[name] for name, port in ports.items())
        shot(tab, "3-api-restarted-by-its-button.png")

        # a pending migration: this one fails, the apps stay up, the error is shown
        (stack.root / "migrations" / "0100_broken.sql").write_text(
            "CREATE TABLE IF NOT EXISTS kb.broken (id int REFERENCES kb.nowhere(id));\n")
        tab.wait_for(q("#migrations tr[data-version='100'][data-state=pending]") + " !== null")
        tab.wait_for(q("#live-migration") + ".dataset.ok === 'false'")
        assert "kb.nowhere" in tab.eval(q("#live-migration") + ".textContent")
        assert tab.eval(q("#apps tr[data-app=api]") + ".dataset.state") == "ready"
        shot(tab, "4-pending-migration-not-applied.png")
    launcher.interrupt()
    assert launcher.wait() == 130, launcher.output
