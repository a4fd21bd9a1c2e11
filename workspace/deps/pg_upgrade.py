"""`workspace db server upgrade`: a cluster made by pgserver's PostgreSQL 16 upgraded in
place to the embedded PostgreSQL 18, with `pg_upgrade`.

The old binaries come from the `pgserver` 0.1.4 wheel: the installed package when it is
still there (an older workspace installed it), else its wheel fetched once with `pip
download` (wheels exist for Python <= 3.12; the binaries do not use Python) into the
per-user cache beside the extensions' (deps/pg_extensions.py). pgserver is no longer a
dependency: only this command needs it.

Steps, each bounded, as the server's system user when root: the old server stopped (with
its own pg_ctl); a new cluster initialised beside the old one (same superuser and
password, no data checksums as the old one has none); `pg_upgrade --copy`; then the new
directory takes the old one's place, and the old one is kept as `<data_dir>.pg<major>`
(nothing of it changed) for the user to remove; the server started and every extension
updated (`ALTER EXTENSION ... UPDATE`, in every database). A failure before the swap
leaves the old cluster exactly as it was and removes the half-made new one.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from workspace.deps import pg_extensions, wheels
from workspace.deps.embedded import PG_MAJOR, SUPERUSER, EmbeddedPostgres, bin_dir, cluster_major
from workspace.errors import EmbeddedPostgresError
from workspace.output import redact

__all__ = ["OLD_PGSERVER", "old_bin_dir", "upgrade"]

OLD_PGSERVER = "0.1.4"  # PostgreSQL 16.2 + pgvector: the embedded server before 18
OLD_MAJOR = "16"
_FETCH_TIMEOUT_S = 300.0
_UPGRADE_TIMEOUT_S = 1800.0


def old_bin_dir() -> Path:
    """pgserver 0.1.4's binaries: the installed package's, else a cached copy of its wheel's."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (installed / "pg_ctl").is_file():
            return installed
    cache = pg_extensions.cache_dir().parent.parent / f"pgserver-{OLD_PGSERVER}"
    binaries = cache / "pgserver" / "pginstall" / "bin"
    if (binaries / "pg_upgrade").is_file() or (binaries / "pg_ctl").is_file():
        return binaries
    tmp = Path(tempfile.mkdtemp(prefix="workspace-pgserver-"))
    try:
        wheel, problem = wheels.download(f"pgserver=={OLD_PGSERVER}", "3.11", tmp / "wheel",
                                         _FETCH_TIMEOUT_S)
        if wheel is None:
            raise EmbeddedPostgresError(
                f"the PostgreSQL {OLD_MAJOR} binaries needed to read the old cluster (the "
                f"pgserver {OLD_PGSERVER} wheel) could not be fetched: {problem}",
                remedy=f"Let pip reach PyPI, or `pip install pgserver=={OLD_PGSERVER}` "
                       "(Python <= 3.12), then run `workspace db server upgrade` again.")
        staging = tmp / "cache"
        with zipfile.ZipFile(wheel) as whl:
            for info in whl.infolist():
                if info.filename.startswith(("pgserver/pginstall/", "pgserver.libs/")):
                    whl.extract(info, staging)
                    mode = (info.external_attr >> 16) & 0o777
                    (staging / info.filename).chmod(mode | 0o444 if mode else 0o644)
        for path in staging.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
        staging.rename(cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return binaries


def upgrade(server: EmbeddedPostgres, progress: Callable[[str], None]) -> Path | None:
    """Upgrade the server's cluster to PostgreSQL 18 in place; return where the old
    directory is kept (None when the cluster was already current)."""
    major = cluster_major(server.data_dir)
    if major is None:
        raise EmbeddedPostgresError(f"{server.data_dir} holds no cluster to upgrade",
                                    remedy="Nothing to do: `workspace db server start` creates one.")
    if major == PG_MAJOR:
        return None
    if major != OLD_MAJOR:
        raise EmbeddedPostgresError(
            f"{server.data_dir} holds a PostgreSQL {major} cluster; only {OLD_MAJOR} (pgserver) "
            "clusters are upgraded", remedy="Dump it with that version's pg_dump and restore it.")
    old_bin = old_bin_dir()
    kept = server.data_dir.with_name(f"{server.data_dir.name}.pg{major}")
    new = server.data_dir.with_name(f"{server.data_dir.name}.upgrading")
    if kept.exists():
        raise EmbeddedPostgresError(f"{kept} exists (a copy kept by an earlier upgrade?)",
                                    remedy=f"Move or remove {kept}, then run the command again.")
    with server._exclusive():
        if (server.data_dir / "postmaster.pid").is_file():
            progress(f"stopping the PostgreSQL {major} server")
            _stop_old(server, old_bin)
        shutil.rmtree(new, ignore_errors=True)  # a half-made one from an interrupted attempt
        progress(f"initialising a PostgreSQL {PG_MAJOR} cluster")
        server._initdb(new, checksums=False)
        work = Path(tempfile.mkdtemp(prefix="workspace-upgrade-"))
        try:
            server._hand_over(work)
            progress("running pg_upgrade")
            try:
                server._run(["pg_upgrade", "-b", str(old_bin), "-d", str(server.data_dir),
                             "-B", str(bin_dir()), "-D", str(new), "-U", SUPERUSER, "--copy",
                             "-s", str(work)],
                            timeout=_UPGRADE_TIMEOUT_S, cwd=work,
                            env={"PGPASSWORD": server._password()})
            except EmbeddedPostgresError as exc:
                logs = "\n".join(_upgrade_logs(new))
                shutil.rmtree(new, ignore_errors=True)
                raise EmbeddedPostgresError(
                    f"{exc.message}\n{redact.redact(logs)}".strip(),
                    remedy=f"The old cluster in {server.data_dir} is untouched; fix what the "
                           "lines above name, then run `workspace db server upgrade` again.") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        server.data_dir.rename(kept)  # its server.log stays with it
        new.rename(server.data_dir)
    progress(f"starting PostgreSQL {PG_MAJOR} and updating extensions")
    server.start()
    _update_extensions(server)
    return kept


def _stop_old(server: EmbeddedPostgres, old_bin: Path) -> None:
    argv = [str(old_bin / "pg_ctl"), "stop", "-D", str(server.data_dir), "-m", "fast", "-w",
            "-t", str(int(server.start_timeout_s))]
    try:
        server._run(argv, timeout=server.start_timeout_s + 5)
    except EmbeddedPostgresError:
        if (server.data_dir / "postmaster.pid").is_file():
            server._run([*argv[:5], "immediate", *argv[6:]], timeout=server.start_timeout_s + 5)


def _upgrade_logs(new: Path) -> list[str]:
    """The last lines pg_upgrade logged under the new cluster (why it failed)."""
    lines: list[str] = []
    for log in sorted(new.glob("pg_upgrade_output.d/*/log/*.log")):
        try:
            lines += log.read_text(errors="replace").strip().splitlines()[-5:]
        except OSError:
            continue
    return lines[-20:]


def _update_extensions(server: EmbeddedPostgres) -> None:
    """`ALTER EXTENSION ... UPDATE` for every extension older than the new server's, in
    every database (pg_upgrade keeps the old versions' SQL objects)."""
    try:
        with psycopg.connect(server.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn").fetchall()]
        for name in names:
            with psycopg.connect(server.url(name), autocommit=True, connect_timeout=10) as conn:
                rows = conn.execute(
                    "SELECT e.extname FROM pg_extension e JOIN pg_available_extensions a "
                    "ON a.name = e.extname WHERE a.default_version <> e.extversion").fetchall()
                for (ext,) in rows:
                    conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE").format(sql.Identifier(ext)))
    except psycopg.Error as exc:
        raise EmbeddedPostgresError(
            f"the cluster was upgraded, but updating its extensions failed: "
            f"{redact.redact(str(exc).strip())}",
            remedy="Run `ALTER EXTENSION <name> UPDATE` in the database named.") from None

