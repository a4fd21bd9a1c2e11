"""Migration file layouts: which entries of `migrations/` are migrations, and their versions.

    numbered        0001_name.sql                    version 1 (workspace's own)
    timestamp       20240101120000_name.sql          version 20240101120000 (dbmate, Rails)
    flyway          V1__name.sql, V1.1__, V2_1__     version "1", "1.1", "2.1": numeric by parts
    golang-migrate  1_name.up.sql (.down.sql ignored)
    diesel          2024-01-01-120000_name/up.sql    version 20240101120000 (down.sql ignored)

One layout per project: configured (`migrations.layout`), or detected from the names
(`auto`); names of two layouts in one directory are an error naming a file of each.
Versions are integers (the tracking table's bigint, as ever), except Flyway's, which
are dotted; `order` sorts both as Flyway does (1.2 < 1.10; 1.0 is 1).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workspace.errors import MigrationFileError

__all__ = ["LAYOUTS", "Entry", "choose_layout", "naming_rule", "order_of", "parse_version",
           "scan"]

LAYOUTS = ("numbered", "timestamp", "flyway", "golang-migrate", "diesel")
Version = int | str
NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
_NUMBERED = re.compile(rf"^(?P<version>\d+)_{NAME}\.sql$", re.ASCII)
# The other layouts' patterns as text, compiled by `re` on first use (its own cache): a
# compile costs about 0.6M instructions, more than a numbered project's whole use of them.
_TIMESTAMP = (r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])"
              r"[0-5]\d[0-5]\d$")
_FLYWAY = r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<name>[^/]+)\.sql$"
_FLYWAY_OTHER = r"^(?P<kind>[UR])(\d+(?:[._]\d+)*)?__[^/]+\.sql$"
_GOLANG = rf"^(?P<version>\d+)_{NAME}\.(?P<direction>up|down)\.sql$"
_DIESEL_DIR = r"^(?P<version>\d[\d-]*)_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$"
_RULES = {
    "numbered": "Name migrations NNNN_description.sql (digits, an underscore, then letters, "
                "digits, _ . or -), e.g. 0005_add_tags.sql.",
    "timestamp": "Name migrations YYYYMMDDHHMMSS_description.sql (a UTC timestamp, an "
                 "underscore, then letters, digits, _ . or -), e.g. 20240101120000_add_tags.sql.",
    "flyway": "Name migrations V<version>__description.sql (Flyway's: V1__init.sql, "
              "V1.1__add_tags.sql, V2_1__fix.sql).",
    "golang-migrate": "Name migrations <version>_description.up.sql, with an optional "
                      "<version>_description.down.sql (golang-migrate's), e.g. "
                      "000005_add_tags.up.sql.",
    "diesel": "Put each migration in a directory YYYY-MM-DD-HHMMSS_description/ holding up.sql "
              "(diesel's; down.sql is ignored), e.g. 2024-01-01-120000_add_tags/up.sql.",
}


def naming_rule(layout: str) -> str:
    return _RULES.get(layout, _RULES["numbered"])


class Entry:
    """One entry of the migrations directory that looks like a migration of `layout`
    (None: a `.sql` name no layout accepts). `ignored`: a down migration, kept only
    because it tells the layout apart. `file` is its path as a string, for the system
    calls; `path` (a Path) is made on first use: joining a Path costs more than reading
    a small file, and a run with nothing to apply names no file.

    (A plain class, as the others built for every file at every start: a dataclass costs
    about 3M instructions to define.)"""

    __slots__ = ("_path", "file", "ignored", "layout", "name", "numbered")

    def __init__(self, file: str | Path, name: str, layout: str | None,
                 ignored: bool = False, numbered: re.Match[str] | None = None) -> None:
        self._path = file if isinstance(file, Path) else None
        self.file = os.fspath(file)
        self.name = name  # relative to the migrations directory, e.g. "2024-01-01-120000_x/up.sql"
        self.layout = layout
        self.ignored = ignored
        self.numbered = numbered  # the name's match of the numbered pattern, when classified

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(self.file)
        return self._path


def scan(directory: Path, names: list[str]) -> list[Entry]:
    """Classify the sorted entry names of `directory` (hidden ones already left out)."""
    out: list[Entry] = []
    prefix = os.path.join(directory, "")
    for name in names:
        if not name.lower().endswith(".sql"):
            if _match(_DIESEL_DIR, name) and (directory / name).is_dir():
                out.append(Entry(f"{prefix}{name}/up.sql", f"{name}/up.sql", "diesel"))
            continue  # READMEs, editor files, other directories
        out.append(_classify(prefix + name, name))
    return out


def _classify(file: str, name: str) -> Entry:
    # Tried in this order; a name's first character (and golang-migrate's ending) rules
    # out the patterns it cannot match: each attempt costs a few thousand instructions,
    # per file, at every start. (Every name here ends in .sql, in some case.)
    first = name[:1]
    if "0" <= first <= "9":
        if name.endswith((".up.sql", ".down.sql")) and (match := _match(_GOLANG, name)):
            return Entry(file, name, "golang-migrate", ignored=match["direction"] == "down")
        if match := _NUMBERED.match(name):
            return Entry(file, name, "timestamp" if _is_timestamp(match["version"])
                         else "numbered", numbered=match)
    elif first == "V" and _match(_FLYWAY, name):
        return Entry(file, name, "flyway")
    elif first in ("U", "R") and (match := _match(_FLYWAY_OTHER, name)):
        return Entry(file, name, "flyway", ignored=match["kind"] == "U")
    return Entry(file, name, None)


def _match(pattern: str, text: str) -> re.Match[str] | None:
    return re.match(pattern, text, re.ASCII)


def _is_timestamp(digits: str) -> bool:
    return len(digits) == 14 and _match(_TIMESTAMP, digits) is not None


def choose_layout(directory: Path, entries: list[Entry], configured: str = "auto") -> str:
    """The project's layout: the configured one, or the one every name follows."""
    if configured != "auto":
        return configured
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.layout is not None:
            seen.setdefault(entry.layout, entry)
    if len(seen) <= 1:
        return next(iter(seen), "numbered")
    (one, a), (other, b) = list(seen.items())[:2]
    raise MigrationFileError(
        directory, f"mixed migration layouts: {a.name} is {one}, {b.name} is {other}",
        remedy="Keep one layout per project: rename the files that differ, or set "
               f"migrations.layout in config.yaml (one of {', '.join(LAYOUTS)}) to say "
               "which names are migrations.")


def parse_version(layout: str, entry: Entry) -> tuple[Version, str]:
    """(version, description) of a migration named in `layout`; raise when the name
    does not follow it. Integer range checks are the caller's."""
    name = entry.name
    if layout == "diesel":
        match = _match(_DIESEL_DIR, name.removesuffix("/up.sql"))
        if entry.layout == "diesel" and match:
            return int(match["version"].replace("-", "")), match["name"]
    elif layout == "flyway":
        match = _match(_FLYWAY, name)
        if match:
            return flyway_version(match["version"]), match["name"]
        if (other := _match(_FLYWAY_OTHER, name)) and other["kind"] == "R":
            raise MigrationFileError(entry.path, "Flyway repeatable migrations (R__) are not "
                                     "supported", remedy="Turn it into a versioned migration "
                                     "(V<n>__...), written to run again safely.")
    elif layout == "golang-migrate":
        match = _match(_GOLANG, name)
        if match:
            return int(match["version"]), match["name"]
    else:
        match = entry.numbered or _NUMBERED.match(name)
        if match and (layout == "numbered" or _is_timestamp(match["version"])):
            return int(match["version"]), match["name"]
    raise MigrationFileError(entry.path, "file name does not follow the naming rule"
                             + ("" if layout == "numbered" else f" of the {layout} layout"),
                             remedy=naming_rule(layout))


def flyway_version(text: str) -> str:
    """Flyway's version, as compared: parts split at `.` or `_`, as numbers (leading
    zeros dropped), trailing zero parts dropped (1.0 is 1). Raise ValueError if bad."""
    parts = [int(p) for p in re.split(r"[._]", text)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def order_of(version: Version) -> tuple[int, ...]:
    """The sort key of a version: Flyway's dotted ones by their numeric parts."""
    if isinstance(version, int):
        return (version,)
    return tuple(int(p) for p in version.split("."))


def version_from_text(layout: str, text: str) -> Version | None:
    """A version as another tool records it (`0001`, `20240101120000`, `1.1`), in this
    layout's terms; None when it cannot be one."""
    text = text.strip()
    try:
        if layout == "flyway":
            return flyway_version(text)
        return int(text.replace("-", "")) if re.fullmatch(r"\d[\d-]*", text) else None
    except ValueError:
        return None
