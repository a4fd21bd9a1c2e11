"""The embedded default, as a user meets it: no URL anywhere, `workspace db ...` just works."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import SHIPPED_MIGRATIONS, free_port, run_cli
from workspace.db.connect import connection
from workspace.deps.embedded import EmbeddedPostgres, bin_dir
from workspace.errors import DependencyExited, EmbeddedPostgresError, PortInUse


def test_embedded_default_starts_on_demand_stays_up_and_stops(outside_tmp: Path) -> None:
    shutil.copytree(SHIPPED_MIGRATIONS, outside_tmp / "migrations")
    port = free_port()
    (outside_tmp / "config.yaml").write_text(f"embedded:\n  port: {port}\n")
    try:
        first = run_cli(outside_tmp, "db", "migrate")
        assert first.returncode == 0, first.stderr
        assert "Applied: 0001_init.sql" in first.stdout
        status = json.loads(run_cli(outside_tmp, "db", "server", "status", "--json").stdout)
        assert status["running"] and status["port"] == port
        assert status["url"].startswith("postgresql://postgres:********@127.0.0.1:")
        password = (outside_tmp / ".workspace" / "postgres.password").read_text().strip()
        assert password not in json.dumps(status)
        second = run_cli(outside_tmp, "db", "migrate")  # the same server, kept running
        assert second.stdout.strip() == "All migrations up to date"
        assert json.loads(run_cli(outside_tmp, "db", "server", "status", "--json").stdout)["pid"] \
            == status["pid"]
    finally:
        stopped = run_cli(outside_tmp, "db", "server", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    after = json.loads(run_cli(outside_tmp, "db", "server", "status", "--json").stdout)
    assert after["running"] is False and after["initialised"] is True


def test_port_held_by_another_process_is_named(outside_tmp: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = EmbeddedPostgres(outside_tmp / "pg", port=port)
        with pytest.raises(PortInUse) as info:
            server.start()
    assert info.value.code == "PRECHECK_PORT_IN_USE"
    assert "pid" in info.value.message and "embedded.port" in info.value.remedy
    assert not server.status().running


def test_foreign_files_in_the_data_directory_are_refused_untouched(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError) as info:
        EmbeddedPostgres(data, port=free_port()).start()
    assert info.value.code == "PRECHECK_EMBEDDED_POSTGRES_FAILED"
    assert "embedded.data_dir" in info.value.remedy
    assert (data / "notes.txt").read_text() == "mine"


def test_stop_reaches_a_server_not_yet_in_postmaster_pid(outside_tmp: Path) -> None:
    """A `pg_ctl start` cut short by Ctrl-C leaves a postmaster that is not in
    postmaster.pid (yet): stop() finds pgserver's postgres running on exactly this data
    directory and shuts it down, and nothing else that merely names the directory."""
    import psutil

    data = outside_tmp / "data"
    server = EmbeddedPostgres(data, port=free_port())
    server.start()
    postmaster = server.status().pid
    decoy = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()",
                              "-D", str(data), str(data / "server.log")], stdin=subprocess.PIPE)
    try:
        (data / "postmaster.pid").unlink()  # what a start cut short looks like
        assert server.stop() is True
        assert postmaster is not None and not psutil.pid_exists(postmaster)
        assert decoy.poll() is None  # only names the directory: left alone
        assert server.stop() is False  # nothing left to stop
    finally:
        decoy.kill()
        decoy.wait()
        assert decoy.stdin is not None
        decoy.stdin.close()


# Starts a server as a child subreaper that never reaps: once pg_ctl exits, the
# postmaster is re-parented to this process, and a killed postmaster stays a zombie until
# this process exits (a container whose init does not reap, deterministically).
_NEVER_REAPS = r"""
import ctypes, sys
from pathlib import Path
from workspace.deps.embedded import EmbeddedPostgres, bin_dir
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
server = EmbeddedPostgres(Path(sys.argv[1]), port=int(sys.argv[2]))
server.start()
print("postmaster", server.status().pid, flush=True)
sys.stdin.read()
"""


def _wait_until(condition: object, what: str, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not {what} within {timeout_s}s"
        time.sleep(0.01)


def test_a_killed_postmaster_not_yet_reaped_is_restarted_at_once(outside_tmp: Path) -> None:
    """SIGKILL leaves the postmaster a zombie (its parent has not reaped it) and its
    postmaster.pid behind: the next command sees it is dead, removes the stale lock
    file and starts the server, with no wait and no `lock file ... already exists`."""
    import os
    import signal

    import psutil

    data, port = outside_tmp / "data", free_port()
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "config.yaml").write_text(
        f"embedded:\n  port: {port}\n  data_dir: {data}\n")
    holder = subprocess.Popen([sys.executable, "-c", _NEVER_REAPS, str(data), str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    server = EmbeddedPostgres(data, port=port)
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.startswith("postmaster "), line
        pid = int(line.split()[1])
        assert psutil.Process(pid).ppid() == holder.pid  # re-parented to the non-reaper
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, "a zombie")
        out = run_cli(outside_tmp, "db", "status")  # at once: no sleep before it
        assert out.returncode == 0, out.stdout + out.stderr
        assert "already exists" not in out.stderr
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # still unreaped
        restarted = server.status()
        assert restarted.running and restarted.pid != pid
    finally:
        server.stop()
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


@pytest.fixture
def small_disk(outside_tmp: Path) -> Iterator[Path]:
    """A tmpfs of its own (64 MiB until the test shrinks it), unmounted afterwards."""
    mnt = outside_tmp / "disk"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        reason = mounted.stderr.strip()
        if any(w in reason.lower() for w in ("permission denied", "not permitted",
                                             "must be superuser", "only root")):
            pytest.skip(f"mounting a tmpfs is not permitted here: {reason}")
        raise AssertionError(f"mount failed: {reason}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _resize(mnt: Path, size_bytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_bytes // 1024}k", str(mnt)],
                   check=True, capture_output=True, timeout=30)


def test_disk_full_is_named_with_the_free_space_and_the_server_recovers_once_freed(
        outside_tmp: Path, small_disk: Path) -> None:
    """The cluster on a tmpfs with 4 MiB left: a migration inserting data, then one
    writing a lot of WAL (the server PANICs, and its crash recovery cannot write either),
    each ends in PRECHECK_DISK_FULL naming the data directory, the free space and the
    remedy; once space is freed, the next command works."""
    data, port = small_disk / "pg", free_port()
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "config.yaml").write_text(
        f"embedded:\n  port: {port}\n  data_dir: {data}\n")
    server = EmbeddedPostgres(data, port=port)
    try:
        assert run_cli(outside_tmp, "db", "server", "start").returncode == 0
        _resize(small_disk, shutil.disk_usage(small_disk).used + 4 * 2**20)
        fill = outside_tmp / "migrations" / "0001_fill.sql"
        fill.write_text("CREATE TABLE filler (id int, pad text);\n"
                        "INSERT INTO filler SELECT g, repeat(md5(g::text), 8) "
                        "FROM generate_series(1, 400000) g;\n")
        inserted = run_cli(outside_tmp, "db", "migrate")
        fill.write_text("SELECT pg_logical_emit_message(true, 'fill', repeat('x', 1000000)) "
                        "FROM generate_series(1, 40);\n")
        wal = run_cli(outside_tmp, "db", "migrate")
        after_crash = run_cli(outside_tmp, "db", "status")
        for out in (inserted, wal, after_crash):
            assert out.returncode == 26, out.stdout + out.stderr
            assert "PRECHECK_DISK_FULL" in out.stderr and "Traceback" not in out.stderr
            assert "No space left on device" in out.stderr
            assert f"data directory {data}" in out.stderr
            assert "MiB free of 4" in out.stderr and f"mounted at {small_disk}" in out.stderr
            assert "workspace db server start" in out.stderr
        assert "PANIC" in wal.stderr  # the WAL could not grow: the server crashed
        assert not server.status().running  # and its recovery failed for want of space
        _resize(small_disk, 256 * 2**20)
        recovered = run_cli(outside_tmp, "db", "status")
        assert recovered.returncode == 0, recovered.stderr
        assert "pending   0001_fill.sql" in recovered.stdout
    finally:
        server.stop()


def test_a_server_that_crashes_under_a_command_is_explained_from_its_log(
        outside_tmp: Path) -> None:
    """A backend killed: the postmaster restarts every process (a crash). The lost
    connection is told as that crash, with the server's last log lines, not as a URL
    to check."""
    import os
    import signal

    server = EmbeddedPostgres(outside_tmp / "data", port=free_port())
    url = server.start()
    try:
        with connection(url, timeout_s=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            os.kill(row[0], signal.SIGKILL)
            with pytest.raises(DependencyExited) as info:
                conn.execute("SELECT 1")
        assert info.value.code == "PRECHECK_DEPENDENCY_EXITED"
        assert "crashed" in info.value.message
        assert f"was terminated by signal {signal.SIGKILL.value}" in info.value.message
        assert "workspace db server start" in info.value.remedy
        _wait_until(lambda: _accepts(url), "recovered", timeout_s=60)  # on its own
    finally:
        server.stop()


def _accepts(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def test_stop_right_after_a_crash_ends_the_server(outside_tmp: Path) -> None:
    """A fast shutdown requested while the server recovers from a crash can be missed
    (PostgreSQL 16.2): stop() falls back to an immediate shutdown, bounded."""
    import os
    import signal

    import psutil

    server = EmbeddedPostgres(outside_tmp / "data", port=free_port(), start_timeout_s=10)
    url = server.start()
    postmaster = server.status().pid
    assert postmaster is not None
    try:
        with connection(url, timeout_s=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            os.kill(row[0], signal.SIGKILL)
        _wait_until(lambda: "terminated by signal" in server.log_file.read_text(), "crashed")
        assert server.stop() is True
        assert not server.status().running
        _wait_until(lambda: not psutil.pid_exists(postmaster)
                    or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE, "gone")
    finally:
        if server.status().running:
            subprocess.run([str(bin_dir() / "pg_ctl"), "stop", "-D", str(server.data_dir),
                            "-m", "immediate"], capture_output=True, timeout=30,
                           user="pgserver" if os.geteuid() == 0 else None)


def test_a_killed_postmasters_busy_backend_is_waited_for_before_restarting(
        outside_tmp: Path) -> None:
    """A backend busy in a loop does not notice its postmaster died, and keeps the old
    shared memory attached ("pre-existing shared memory block is still in use"): the
    next command waits for it to finish (bounded), then starts the server."""
    import os
    import signal
    import threading

    import psutil
    import psycopg

    data, port = outside_tmp / "data", free_port()
    (outside_tmp / "migrations").mkdir()
    (outside_tmp / "config.yaml").write_text(
        f"embedded:\n  port: {port}\n  data_dir: {data}\n")
    server = EmbeddedPostgres(data, port=port)
    url = server.start()
    postmaster = server.status().pid
    assert postmaster is not None
    busy_loop = ("DO $$ DECLARE t timestamptz := clock_timestamp(); BEGIN "
                 "WHILE clock_timestamp() < t + interval '3 s' LOOP END LOOP; END $$")
    busy = threading.Thread(target=lambda: _run_ignoring_errors(url, busy_loop))
    busy.start()
    try:
        with psycopg.connect(url, autocommit=True) as watcher:
            def backend() -> int | None:
                row = watcher.execute("SELECT pid FROM pg_stat_activity "
                                      "WHERE query LIKE 'DO $$%' AND state = 'active'").fetchone()
                return row[0] if row else None

            _wait_until(lambda: backend() is not None, "busy")
            orphan = backend()
        assert orphan is not None
        os.kill(postmaster, signal.SIGKILL)
        _wait_until(lambda: not psutil.pid_exists(postmaster)
                    or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE, "dead")
        assert psutil.Process(orphan).status() != psutil.STATUS_ZOMBIE  # still busy
        out = run_cli(outside_tmp, "db", "status")
        assert out.returncode == 0, out.stdout + out.stderr
        assert not psutil.pid_exists(orphan) \
            or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
        assert server.status().running
    finally:
        busy.join(30)
        server.stop()


def _run_ignoring_errors(url: str, statement: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.encode())
    except psycopg.Error:
        pass  # its server was killed under it


def test_two_projects_run_their_embedded_servers_at_once(outside_tmp: Path) -> None:
    """No port configured: each project gets its own, chosen once (54320 when free) and
    recorded in .workspace/postgres.port, so both servers run side by side."""
    projects = [outside_tmp / "one", outside_tmp / "two"]
    for project in projects:
        (project / "migrations").mkdir(parents=True)
    try:
        for project in projects:
            started = run_cli(project, "db", "server", "start")
            assert started.returncode == 0, started.stdout + started.stderr
        statuses = [json.loads(run_cli(p, "db", "server", "status", "--json").stdout)
                    for p in projects]
        assert all(s["running"] for s in statuses)
        ports = [s["port"] for s in statuses]
        assert ports[0] != ports[1]
        for project, port in zip(projects, ports, strict=True):
            assert (project / ".workspace" / "postgres.port").read_text().strip() == str(port)
            url = EmbeddedPostgres(project / ".workspace" / "postgres", port=None).url()
            with connection(url, timeout_s=10) as conn:
                assert conn.execute("SELECT current_setting('port')").fetchone() == (str(port),)
        # Recorded: the next start (after a stop) uses the same port again.
        assert run_cli(projects[0], "db", "server", "stop").returncode == 0
        assert run_cli(projects[0], "db", "server", "start").returncode == 0
        assert json.loads(run_cli(projects[0], "db", "server", "status", "--json").stdout)[
            "port"] == ports[0]
    finally:
        for project in projects:
            run_cli(project, "db", "server", "stop")


def _in_thread(work: Callable[[], object], timeout_s: float) -> BaseException | None:
    """Run `work` in a thread; what it raised, or fail the test when it is still running
    after `timeout_s` (an unbounded wait)."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 -- handed to the test
            caught.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"still waiting after {timeout_s}s: unbounded"
    return caught[0] if caught else None


def test_the_setup_lock_wait_is_bounded_and_names_its_holder(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from workspace.deps.embedded import EmbeddedPostgres; "
         "s = EmbeddedPostgres(Path(sys.argv[1]), port=1)\n"
         "with s._exclusive():\n print('held', flush=True); time.sleep(60)",
         str(data), "db-server-start-elsewhere"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert data.with_name("data.lock").read_text().split() == [str(holder.pid)]
        server = EmbeddedPostgres(data, port=free_port(), lock_wait_s=1.5)
        with caplog.at_level(logging.WARNING, "workspace.deps.embedded"):
            exc = _in_thread(server.start, timeout_s=10)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert isinstance(exc, EmbeddedPostgresError), exc
    assert f"pid {holder.pid}" in exc.message and "db-server-start-elsewhere" in exc.message
    assert "after 1.5s" in exc.message
    assert any(f"waiting for pid {holder.pid}" in r.getMessage() for r in caplog.records)


def test_setup_queries_are_bounded(pg_server: EmbeddedPostgres, db_url: str) -> None:
    # CREATE EXTENSION reads pg_extension: a lock held on it stalls the setup as a hung
    # server would
    database = db_url.rsplit("/", 1)[1]
    server = EmbeddedPostgres(pg_server.data_dir, port=pg_server.port, database=database,
                              extensions=["vector"], setup_timeout_s=1.0)
    with psycopg.connect(db_url) as blocker:
        blocker.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        try:
            exc = _in_thread(lambda: server.start(ensure_database=True), timeout_s=10)
        finally:
            blocker.rollback()
    assert isinstance(exc, EmbeddedPostgresError) and "refused setup" in exc.message, exc
    assert "timeout" in exc.message


def test_the_embedded_backend_names_its_postmaster_and_finds_its_password_again(
        pg_server: EmbeddedPostgres) -> None:
    """Its identity is the postmaster's pid and start (a record of a server stopped
    since no longer matches); the password of a masked URL it gave comes from its
    password file; its own running server's port counts as free."""
    from workspace.deps.embedded import EmbeddedBackend
    from workspace.output import redact
    from workspace.supervisor.identity import process_started

    backend = EmbeddedBackend(pg_server)
    pid = pg_server.status().pid
    assert pid is not None
    assert backend.identity() == [pid, process_started(pid)]
    assert backend.still_runs(backend.identity())
    assert not backend.still_runs([pid, "another start"])
    url = pg_server.url()
    assert backend.recorded_url(redact.mask_url(url)) == url
    backend.check_ports([])  # held by this very server: reused, not refused
    stopped = EmbeddedBackend(EmbeddedPostgres(pg_server.data_dir.parent / "none",
                                               port=pg_server.port))
    assert stopped.identity() is None
    with pytest.raises(PortInUse):  # not running: the port is another server's
        stopped.check_ports([])
