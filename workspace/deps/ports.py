"""Port checks before anything starts: is a port free to listen on, and if not, who holds it.

    is_free("127.0.0.1", 54320)             # True when a server could listen there now
    port_holder("127.0.0.1", 3002)          # None, or "pid 4242 python3 (python3 -m http.server)"
    require_free("127.0.0.1", 3002, setting="apps.api.port")   # or PortInUse (exit 11)
    listener_pids(3002)                     # [4242]: the processes listening on that port
    any_free_port("127.0.0.1")              # one the kernel picks

"Free" is what a server finds when it binds: the bind is tried with SO_REUSEADDR as
PostgreSQL and most servers set it, so a port left in TIME_WAIT by a closed connection
counts as free. The holder is looked up with psutil (listening TCP sockets), a listener
on the checked address or on every address (0.0.0.0, ::) before one elsewhere.
"""

from __future__ import annotations

import socket
from typing import Any

from workspace.errors import PortInUse

__all__ = ["any_free_port", "is_free", "listener_pids", "port_holder", "require_free"]

_WILDCARDS = {"0.0.0.0", "::", ""}
_COMMAND_CHARS = 120  # of the holder's command line, in messages


def is_free(host: str, port: int) -> bool:
    """A server could listen on `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def any_free_port(host: str) -> int:
    """A port the kernel picks as free on `host` (free when asked; nothing holds it for us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def listener_pids(port: int) -> list[int]:
    """The pids listening on TCP `port` (any address) that we may see, without repeats."""
    return list(dict.fromkeys(c.pid for c in _listeners(port) if c.pid))


def port_holder(host: str, port: int) -> str | None:
    """None when `host:port` is free to listen on, else who holds it (as far as we can tell):
    "pid N name (command line)", "a process of another user" or "an unknown process"."""
    if is_free(host, port):
        return None
    import psutil

    listeners = sorted(_listeners(port), key=lambda c: c.laddr.ip not in (host, *_WILDCARDS))
    for conn in listeners:
        if conn.pid is None:
            return "a process of another user"
        try:
            proc = psutil.Process(conn.pid)
            command = " ".join(proc.cmdline())[:_COMMAND_CHARS]
            return f"pid {conn.pid} {proc.name()}" + (f" ({command})" if command else "")
        except psutil.Error:
            continue  # gone meanwhile, or not ours to read: the next one
    return "an unknown process"


def require_free(host: str, port: int, *, setting: str, or_else: str = "") -> None:
    """Return when `host:port` is free, else raise PortInUse naming its holder and the
    setting that chose the port (and `or_else`, another remedy)."""
    holder = port_holder(host, port)
    if holder is not None:
        raise PortInUse(host, port, holder, setting=setting, or_else=or_else)


def _listeners(port: int) -> list[Any]:
    """psutil's listening TCP connections on `port` (empty when it may not list them)."""
    import psutil

    try:
        return [c for c in psutil.net_connections(kind="tcp")
                if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        return []
