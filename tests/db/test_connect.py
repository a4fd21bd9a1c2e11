"""Connections: which failures waiting may fix, and what a local server's log explains."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from workspace.db import connect as connect_module
from workspace.db.connect import connect
from workspace.errors import DatabaseNotUp, DatabaseUnreachable, WorkspaceError


class _Watched:
    """A local server that records being asked for a post-mortem."""

    def __init__(self) -> None:
        self.asked = 0

    def log_mark(self) -> int:
        return 0

    def disk_full(self, detail: str) -> WorkspaceError:
        return DatabaseUnreachable(detail)

    def post_mortem(self, since: int) -> WorkspaceError | None:
        self.asked += 1
        return None


def test_a_refused_login_is_not_searched_for_in_the_servers_log(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = urlsplit(db_url)
    watched = _Watched()
    monkeypatch.setitem(connect_module._local_servers, (parts.hostname, parts.port), watched)
    wrong = parts._replace(netloc=f"{parts.username}:wrong-Pa55word@{parts.hostname}:"
                                  f"{parts.port}").geturl()
    with pytest.raises(DatabaseUnreachable) as caught:
        connect(wrong, timeout_s=5)
    assert not isinstance(caught.value, DatabaseNotUp)  # waiting cannot fix it
    assert "password authentication failed" in caught.value.message
    assert watched.asked == 0  # the post-mortem's wait (a second) is not paid for it


def test_a_refused_connection_is_not_up_yet() -> None:
    with pytest.raises(DatabaseNotUp):
        connect("postgresql://app@127.0.0.1:1/app", timeout_s=1)
