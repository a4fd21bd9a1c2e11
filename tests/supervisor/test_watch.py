"""The file watch: which rule a changed path is for, one call per burst, and the state
directory never watched (a real watchfiles watcher on real files)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.supervisor.conftest import wait_for
from workspace.config.models import load_config
from workspace.supervisor.watch import MIGRATIONS, Rule, Watcher, glob_regex, watch_rules


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/sub/a.py", False),
    ("src/**/*.py", "src/a.py", True),
    ("src/**/*.py", "src/sub/deep/a.py", True),
    ("src/**/*.py", "src/a.txt", False),
    ("a?.[ch]", "ab.c", True),
    ("a?.[!ch]", "ab.c", False),
])
def test_globs_read_as_in_a_shell_with_double_star_across_directories(
        pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_a_directory_covers_what_is_under_it_less_the_ignored() -> None:
    rule = Rule("api", ("apps/api",), ("*.log", "tmp", "apps/api/static/**"))
    assert rule.matches("apps/api/main.py")
    assert rule.matches("apps/api/sub/deep.py")
    assert not rule.matches("apps/apix/main.py")
    assert not rule.matches("apps/api/out.log")
    assert not rule.matches("apps/api/tmp/x.py")  # a name anywhere in the path
    assert not rule.matches("apps/api/static/app.css")
    assert not rule.matches("apps/api/__pycache__/main.cpython-311.pyc")  # always left out
    assert not rule.matches("apps/api/.main.py.swp")


def test_the_rules_are_the_apps_with_watch_and_the_migrations(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "apps:\n  api: {command: x, watch: [src]}\n  web: {command: y}\n"
        "  w2: {command: z, watch: {paths: ['lib/**/*.py'], ignore: [gen], debounce_s: 1}}\n")
    rules = {r.name: r for r in watch_rules(load_config(tmp_path, environ={}))}
    assert set(rules) == {"api", "w2", MIGRATIONS}
    assert rules["w2"] == Rule("w2", ("lib/**/*.py",), ("gen",), 1.0)
    assert rules[MIGRATIONS].matches("migrations/0005_x.sql")
    assert not rules[MIGRATIONS].matches("migrations/notes.md")
    off = load_config(tmp_path, environ={"WORKSPACE_MIGRATIONS__WATCH": "false"})
    assert MIGRATIONS not in {r.name for r in watch_rules(off)}


def test_an_app_named_migrations_has_a_rule_of_its_own(tmp_path: Path) -> None:
    """The migrations directory's rule is named so that no app can be: a change in the
    app `migrations` restarts it, never applies migrations."""
    (tmp_path / "config.yaml").write_text("apps:\n  migrations: {command: x, watch: [src]}\n")
    rules = watch_rules(load_config(tmp_path, environ={}))
    assert len({r.name for r in rules}) == len(rules) == 2
    assert [r.name for r in rules if r.matches("src/a.py")] == ["migrations"]
    assert [r.name for r in rules if r.matches("migrations/0001_a.sql")] == [MIGRATIONS]


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, paths: list[Path]) -> None:
        with self.lock:
            self.seen.append((name, sorted(p.name for p in paths)))


def test_a_burst_of_saves_calls_its_rule_once_after_the_quiet_time(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "other").mkdir()
    calls = Calls()
    watcher = Watcher(tmp_path, [Rule("api", ("src",), debounce_s=0.3),
                                 Rule("web", ("other/*.js",), debounce_s=0.1)], calls)
    watcher.start()
    try:
        time.sleep(0.2)  # inotify watches in place
        for i in range(5):
            (tmp_path / "src" / "main.py").write_text(f"v{i}")
            (tmp_path / "src" / "util.py").write_text(f"v{i}")
            time.sleep(0.05)
        wait_for(lambda: len(calls.seen) >= 1, 10, "the api rule to fire")
        time.sleep(0.5)  # no second call for the same burst
        assert calls.seen == [("api", ["main.py", "util.py"])]
        (tmp_path / "other" / "x.css").write_text("not watched")
        (tmp_path / "other" / "x.js").write_text("watched")
        wait_for(lambda: len(calls.seen) >= 2, 10, "the web rule to fire")
        assert calls.seen[1] == ("web", ["x.js"])
    finally:
        watcher.stop()


def test_the_state_directory_is_never_watched_even_under_a_watched_one(tmp_path: Path) -> None:
    state = tmp_path / ".workspace"
    (state / "logs").mkdir(parents=True)
    (tmp_path / "app.py").write_text("x")
    calls = Calls()
    watcher = Watcher(tmp_path, [Rule("all", ("**",), debounce_s=0.05)], calls, state_dir=state)
    (tmp_path / "lib").mkdir()
    assert watcher.roots() == {tmp_path: False, tmp_path / "lib": True}
    watcher.start()
    try:
        time.sleep(0.2)
        (state / "logs" / "all.log").write_text("a line the restart wrote")
        (tmp_path / "app.py").write_text("y")
        wait_for(lambda: len(calls.seen) >= 1, 10, "the change to app.py")
        time.sleep(0.3)
        assert calls.seen == [("all", ["app.py"])]
    finally:
        watcher.stop()


def test_a_watched_file_is_watched_through_its_directory_to_survive_a_rename_save(
        tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "app.toml").write_text("a = 1")
    calls = Calls()
    watcher = Watcher(tmp_path, [Rule("api", ("conf/app.toml",), debounce_s=0.05)], calls)
    assert watcher.roots() == {tmp_path / "conf": False}
    watcher.start()
    try:
        time.sleep(0.2)
        for i in range(2):  # as editors save: a new file renamed over the old one
            (tmp_path / "conf" / "app.toml.tmp").write_text(f"a = {i}")
            (tmp_path / "conf" / "app.toml.tmp").rename(tmp_path / "conf" / "app.toml")
            wait_for(lambda n=i: len(calls.seen) > n, 10, f"save {i}")
        assert [c[0] for c in calls.seen] == ["api", "api"]
    finally:
        watcher.stop()


def test_a_missing_path_is_reported_not_watched(tmp_path: Path) -> None:
    watcher = Watcher(tmp_path, [Rule("api", ("nowhere/*.py",))], Calls())
    assert watcher.roots() == {}
    assert watcher.skipped == [tmp_path / "nowhere"]


def test_a_migrations_directory_outside_the_project_is_watched_by_its_path(
        tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "shared" / "migrations"
    project.mkdir()
    elsewhere.mkdir(parents=True)
    config = load_config(project, environ={"MIGRATIONS_DIR": str(elsewhere)})
    calls = Calls()
    watcher = Watcher(project, watch_rules(config), calls)
    assert watcher.roots() == {elsewhere: True}
    watcher.changed([elsewhere / "0009_x.sql", elsewhere / "README.md"])
    wait_for(lambda: len(calls.seen) >= 1, 10, "the migrations rule")
    assert calls.seen == [(MIGRATIONS, ["0009_x.sql"])]
    watcher.stop()
