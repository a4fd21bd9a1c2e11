"""The expected schema: what the migrations define, learned by applying them.

Every migration is applied to a scratch database on the same server (created from
template0, dropped afterwards) and its catalog read: nothing is counted by hand. The
result is cached in `.workspace/cache/`, keyed by the migrations' checksums, the server's
major version and the catalog format, so a repeated validation reads only the live
catalog. Where the role may not create databases, a committed snapshot (written by
`workspace db snapshot`) stands in, as long as it was made from the same migrations.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.db.catalog import FORMAT, Catalog, read_catalog
from workspace.db.connect import connection
from workspace.errors import ValidationUnavailable, display_path
from workspace.userfile import NotReadable, read_regular

if TYPE_CHECKING:  # a warm validation reads the cache: the runner and scratch load on a miss
    from workspace.db.files import MigrationFile
    from workspace.db.runner import RunnerSettings

__all__ = ["Expected", "expected_catalog", "migrations_key", "write_snapshot"]

MAX_SNAPSHOT_BYTES = 1 << 30  # as a migration file: PostgreSQL's own query limit


@dataclass(frozen=True)
class Expected:
    catalog: Catalog
    source: str  # "cache", "scratch database" or "snapshot <path>"


def migrations_key(migrations: list[MigrationFile]) -> str:
    digest = hashlib.sha256(f"catalog-format-{FORMAT}".encode())
    for m in migrations:
        digest.update(f"{m.version}:{m.checksum}\n".encode())
    return digest.hexdigest()[:32]


def build_expected(url: str, migrations: list[MigrationFile],
                   settings: RunnerSettings) -> Catalog:
    """Apply every migration to a scratch database and read what they made."""
    from workspace.db.runner import migrate
    from workspace.db.scratch import scratch_database

    with scratch_database(url, timeout_s=settings.connect_timeout_s) as scratch_url:
        migrate(scratch_url, migrations, settings)
        with connection(scratch_url, timeout_s=settings.connect_timeout_s) as conn:
            return read_catalog(conn)


def expected_catalog(url: str, migrations: list[MigrationFile], settings: RunnerSettings, *,
                     server_major: int, cache_dir: Path, snapshot: Path) -> Expected:
    key = f"{migrations_key(migrations)}-pg{server_major}"
    cached = cache_dir / f"expected-{key}.json"
    if cached.is_file():
        try:
            return Expected(Catalog.from_json(_object(json.loads(cached.read_text()))), "cache")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    try:
        catalog = build_expected(url, migrations, settings)
    except ValidationUnavailable as exc:
        from_snapshot, why = _read_snapshot(snapshot, migrations)
        if from_snapshot is None:
            raise ValidationUnavailable(f"{exc.message}, and {why}", remedy=exc.remedy) from None
        return Expected(from_snapshot, f"snapshot {display_path(snapshot)}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    _publish(cached, json.dumps(catalog.to_json()))
    return Expected(catalog, "scratch database")


def write_snapshot(path: Path, catalog: Catalog, migrations: list[MigrationFile]) -> None:
    data = {"migrations_key": migrations_key(migrations), "catalog": catalog.to_json()}
    _publish(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _publish(path: Path, text: str) -> None:
    """Write `path` atomically, through a temporary file of this writer's own: two
    validations at once each rename a whole file (the last one wins), a reader sees all
    of one or nothing, and no writer finds its temporary file taken by the other."""
    import tempfile  # a cache miss only: a warm validation writes nothing

    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(temp, 0o644)  # mkstemp makes it 0600; a snapshot is committed and shared
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    return data


def _read_snapshot(path: Path, migrations: list[MigrationFile]) -> tuple[Catalog | None, str]:
    """The snapshot's catalog, or None and why it cannot serve. Read as a regular file
    only (a FIFO there would block the read forever)."""
    where = display_path(path)
    try:
        data = _object(json.loads(read_regular(path, max_bytes=MAX_SNAPSHOT_BYTES)))
    except NotReadable as exc:
        if not path.exists() and not path.is_symlink():
            return None, f"no snapshot is committed at {where}"
        return None, f"the snapshot at {where} {exc.problem}"
    except ValueError as exc:  # not JSON, not UTF-8, not an object
        return None, f"the snapshot at {where} is unreadable ({exc})"
    if data.get("migrations_key") != migrations_key(migrations):
        return None, (f"the snapshot at {where} was made from other migrations: run "
                      "`workspace db snapshot` again where CREATE DATABASE is allowed")
    try:
        return Catalog.from_json(data["catalog"]), ""
    except (KeyError, TypeError, ValueError):
        return None, f"the snapshot at {where} is damaged: write it again"
