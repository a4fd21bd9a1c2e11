"""A real headless Chromium for the admin page's tests (installed from Debian's packages
on first use when missing): the rendered DOM, parsed.

    dom = render(chromium, "http://127.0.0.1:3001/", tmp_path / "profile")
    dom.by_id("launcher").attrs["data-running"]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.debian import ensure_package

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Dom(HTMLParser):
    """The elements of a serialized page with their attributes and text content."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def by_id(self, element_id: str) -> Element:
        found = self.find(id=element_id)
        assert len(found) == 1, f"expected one #{element_id}, found {len(found)}"
        return found[0]

    def find(self, **attrs: str) -> list[Element]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements if all(e.attrs.get(k) == v for k, v in wanted.items())]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium. Not a skip when it is missing: installed with apt-get when we
    may (root, as sessions and CI run), else a failure saying how to install it."""
    def found() -> str | None:
        return shutil.which("chromium") or shutil.which("chromium-browser")

    ensure_package("chromium", lambda: found() is not None,
                   "the admin page's browser tests need Chromium")
    path = found()
    assert path is not None
    return path


def render(chromium: str, url: str, profile: Path, *, timeout_s: float = 60) -> Dom:
    """The DOM after the page's scripts ran for 10 s of virtual time (a few refreshes)."""
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its renderer and helper processes too
        proc.communicate()
        raise
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}:\n{err[-3000:]}"
    return Dom(out)
