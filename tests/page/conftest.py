"""Says where the live page's screenshots went (test artefacts), at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from tests.page.test_page_browser import ARTEFACTS, SHOTS

    if SHOTS:
        terminalreporter.write_line(f"live page screenshots ({len(SHOTS)}): {ARTEFACTS / 'page'}")
