"""Port checks: is a port free to listen on, and who holds it (pid, process name, command
line), against real sockets in this process and in a child process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.conftest import free_port
from workspace.deps.ports import any_free_port, is_free, listener_pids, port_holder, require_free
from workspace.errors import PortInUse

LISTENER = ("import socket, sys, time\n"
            "s = socket.create_server((sys.argv[1], int(sys.argv[2])))\n"
            "print('listening', flush=True)\n"
            "time.sleep(60)\n")


@contextlib.contextmanager
def listening_child(host: str, port: int) -> Iterator[subprocess.Popen[str]]:
    """Another process listening on host:port until the block ends."""
    with subprocess.Popen([sys.executable, "-c", LISTENER, host, str(port)],
                          stdout=subprocess.PIPE, text=True, start_new_session=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "listening\n"
            yield child
        finally:
            child.kill()
            child.wait(10)


@pytest.fixture
def child_listener() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Another process listening on 127.0.0.1:port; yields (port, process)."""
    port = free_port()
    with listening_child("127.0.0.1", port) as child:
        yield port, child


def test_a_free_port_is_free_and_has_no_holder() -> None:
    port = free_port()
    assert is_free("127.0.0.1", port)
    assert port_holder("127.0.0.1", port) is None
    assert listener_pids(port) == []
    require_free("127.0.0.1", port, setting="apps.web.port")  # returns


def test_a_listener_in_this_process_is_named_by_pid_name_and_command_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        assert not is_free("127.0.0.1", port)
        assert listener_pids(port) == [os.getpid()]
        described = port_holder("127.0.0.1", port)
    assert described is not None
    assert described.startswith(f"pid {os.getpid()} {psutil.Process().name()} (")
    assert "pytest" in described  # its command line


def test_a_listener_in_another_process_is_named(
        child_listener: tuple[int, subprocess.Popen[str]]) -> None:
    port, child = child_listener
    assert listener_pids(port) == [child.pid]
    described = port_holder("127.0.0.1", port)
    assert described is not None and described.startswith(f"pid {child.pid} python")
    assert "create_server" in described


def test_a_holder_gone_meanwhile_leaves_the_port_free(
        child_listener: tuple[int, subprocess.Popen[str]]) -> None:
    port, child = child_listener
    assert not is_free("127.0.0.1", port)
    child.kill()
    child.wait(10)
    deadline = time.monotonic() + 5
    while not is_free("127.0.0.1", port):  # the kernel closes the socket with the process
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert port_holder("127.0.0.1", port) is None


def test_require_free_raises_port_in_use_naming_the_holder_and_the_setting(
        child_listener: tuple[int, subprocess.Popen[str]]) -> None:
    port, child = child_listener
    with pytest.raises(PortInUse) as caught:
        require_free("127.0.0.1", port, setting="embedded.port",
                     or_else="or remove .workspace/postgres.port")
    exc = caught.value
    assert exc.code == "PRECHECK_PORT_IN_USE" and exc.port == port
    assert exc.message.startswith(f"127.0.0.1:{port} is already in use by pid {child.pid} ")
    assert exc.remedy is not None
    assert "set another port in `embedded.port`" in exc.remedy
    assert exc.remedy.endswith(", or remove .workspace/postgres.port.")


def test_any_free_port_is_one_nobody_listens_on() -> None:
    port = any_free_port("127.0.0.1")
    assert 0 < port < 65536 and is_free("127.0.0.1", port)


def test_the_holder_named_is_the_one_on_the_checked_address() -> None:
    # one port, two listeners on two loopback addresses: each check names its own
    port = free_port()
    with listening_child("127.0.0.2", port) as child, socket.create_server(("127.0.0.1", port)):
        ours = port_holder("127.0.0.1", port)
        theirs = port_holder("127.0.0.2", port)
        assert sorted(listener_pids(port)) == sorted([os.getpid(), child.pid])
    assert ours is not None and ours.startswith(f"pid {os.getpid()} ")
    assert theirs is not None and theirs.startswith(f"pid {child.pid} ")
