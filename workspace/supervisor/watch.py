"""File watch while `workspace start` runs: which app (or the migrations) a change is for.

    rules = watch_rules(config)                     # one per app with `watch:`, + migrations
    watcher = Watcher(config.project_dir, rules, on_change=lambda name, paths: ...)
    watcher.start()
    ...
    watcher.stop()

One `watchfiles` watcher (inotify on Linux, FSEvents, ReadDirectoryChangesW; a Rust
thread, so idle costs nothing but its 50 ms check of the stop flag) covers the
directories every rule needs. A change is matched against each rule's globs and ignores;
`on_change(name, paths)` is called once per rule after its quiet time (`debounce_s`: a
burst of saves, an editor's write-and-rename, calls it once), from a timer thread.

The state directory (`.workspace`: the embedded server's data, the logs) is never
watched, even under a watched directory: its files change all the time, and a restart
that writes a log line would restart again.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workspace.config.models import Config

__all__ = ["MIGRATIONS", "Rule", "Watcher", "glob_regex", "watch_rules"]

# The rule name of the migrations directory: one no app can have (config/apps.py's
# APP_NAME starts with a letter or digit), so an app named `migrations` keeps its own rule.
MIGRATIONS = "(migrations)"
_GLOB_CHARS = re.compile(r"[*?\[]")
# what no one means to watch (watchfiles' DefaultFilter's list, and ours)
_ALWAYS_IGNORED = ("__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", ".idea",
                   "node_modules", ".mypy_cache", ".pytest_cache", ".hypothesis", "*.py[cod]",
                   "*.sw?", "*~", ".#*", ".DS_Store")


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over `/`-separated relative paths: `*` and `?` within a name, `**` across
    directories (`src/**/*.py` also matches `src/a.py`), `[...]` a set."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 1)) > i:
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str] = field(compare=False)

    @classmethod
    def of(cls, text: str) -> _Pattern:
        return cls(text, glob_regex(text.strip("/")))

    def covers(self, rel: str) -> bool:
        """The path itself, or something under it (a directory pattern)."""
        parts = rel.strip("/").split("/")
        return any(self.regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))

    def names(self, rel: str) -> bool:
        return any(self.regex.fullmatch(part) for part in rel.split("/"))


@dataclass(frozen=True)
class Rule:
    """What one app (or `MIGRATIONS`) watches, relative to the project."""

    name: str
    paths: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    debounce_s: float = 0.3

    def roots(self, project: Path) -> list[Path]:
        """The directories (or files) to watch: each path up to its first glob."""
        found = []
        for path in self.paths:
            static = []
            for part in path.split("/"):
                if _GLOB_CHARS.search(part):
                    break
                static.append(part)
            found.append((project / "/".join(static)) if static else project)
        return found

    def matches(self, rel: str) -> bool:
        if any(_Pattern.of(p).names(rel) if "/" not in p.strip("/") else _Pattern.of(p).covers(rel)
               for p in (*_ALWAYS_IGNORED, *self.ignore)):
            return False
        return any(_Pattern.of(p).covers(rel) for p in self.paths)


def watch_rules(config: Config) -> list[Rule]:
    rules = [Rule(name, tuple(app.watch.paths), tuple(app.watch.ignore), app.watch.debounce_s)
             for name, app in config.apps.items() if app.watch is not None]
    if config.migrations.watch and not config.migrations.skip:
        directory = config.migrations_dir
        try:
            rel = directory.resolve().relative_to(config.project_dir.resolve()).as_posix()
        except ValueError:  # outside the project: watched by its absolute path
            rel = directory.resolve().as_posix()
        base = "" if rel == "." else f"{rel}/"  # diesel's layout: <dir>/up.sql
        rules.append(Rule(MIGRATIONS, (f"{base}*.sql", f"{base}*/up.sql")))
    return rules


class Watcher:
    """One watchfiles thread for every rule; `on_change(rule name, changed paths)`."""

    def __init__(self, project: Path, rules: Iterable[Rule],
                 on_change: Callable[[str, list[Path]], object], *,
                 state_dir: Path | None = None) -> None:
        self._project = project.resolve()
        self._rules = list(rules)
        self._on_change = on_change
        self._state_dir = (state_dir or self._project / ".workspace").resolve()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pending: dict[str, set[Path]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self.skipped: list[Path] = []  # configured roots that do not exist (not watched)

    def roots(self) -> dict[Path, bool]:
        """What watchfiles gets, each path with whether it is watched recursively: the
        rules' roots; a file's directory (an editor that saves by renaming would replace
        a watched file); a directory holding the state directory watched alone, its
        other subdirectories whole (so the database's files are never watched)."""
        roots: dict[Path, bool] = {}
        for rule in self._rules:
            for root in rule.roots(self._project):
                if not root.exists():
                    self.skipped.append(root)
                    continue
                root = root.resolve()
                if root.is_file():
                    roots.setdefault(root.parent, False)
                    continue
                for path, recursive in self._around_state_dir(root):
                    roots[path] = roots.get(path, False) or recursive
        covered = [r for r, recursive in roots.items() if recursive]
        return {r: recursive for r, recursive in sorted(roots.items())
                if not any(o != r and o in r.parents for o in covered)}

    def _around_state_dir(self, root: Path) -> list[tuple[Path, bool]]:
        if root == self._state_dir:
            return []
        if root not in self._state_dir.parents:
            return [(root, True)]
        return [(root, False)] + [
            p for child in sorted(root.iterdir()) if child.is_dir() and not child.is_symlink()
            and not any(_Pattern.of(i).names(child.name) for i in _ALWAYS_IGNORED)
            for p in self._around_state_dir(child)]

    def start(self) -> None:
        roots = self.roots()
        for recursive in (True, False):
            chosen = [r for r, rec in roots.items() if rec is recursive]
            if chosen:
                thread = threading.Thread(target=self._run, args=(chosen, recursive),
                                          name="watch", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, roots: list[Path], recursive: bool) -> None:
        import watchfiles  # its Rust extension loads only when something is watched

        for changes in watchfiles.watch(*roots, stop_event=self._stop, debounce=1600, step=50,
                                        raise_interrupt=False, watch_filter=None,
                                        recursive=recursive, ignore_permission_denied=True):
            self.changed(Path(path) for _, path in changes)

    def changed(self, paths: Iterable[Path]) -> None:
        """Match changed paths against the rules; arm each matching rule's quiet timer."""
        for path in paths:
            try:
                rel = path.resolve().relative_to(self._project).as_posix()
            except ValueError:
                rel = path.resolve().as_posix()
            if self._state_dir == path.resolve() or self._state_dir in path.resolve().parents:
                continue
            for rule in self._rules:
                if rule.matches(rel):
                    self._arm(rule, path)

    def _arm(self, rule: Rule, path: Path) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._pending.setdefault(rule.name, set()).add(path)
            old = self._timers.get(rule.name)
            if old is not None:
                old.cancel()
            timer = threading.Timer(rule.debounce_s, self._fire, args=(rule.name,))
            timer.daemon = True
            self._timers[rule.name] = timer
            timer.start()

    def _fire(self, name: str) -> None:
        with self._lock:
            paths = sorted(self._pending.pop(name, set()))
            self._timers.pop(name, None)
            if self._stop.is_set() or not paths:
                return
        self._on_change(name, paths)
