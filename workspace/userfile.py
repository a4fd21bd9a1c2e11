"""Reading a file the user pointed us at (a migration, config.yaml, .env): regular files
only, and never blocking.

A name can hold anything: a directory, a FIFO (whose open() would wait for a writer
forever), a device, a dangling symlink or a symlink loop. `read_regular` opens without
blocking, checks what it opened (not what the name was a moment before), and raises
`NotReadable` saying what the path actually is; callers turn that into their own
`WorkspaceError` (a file error, a config error).

    try:
        data = read_regular(path)
    except NotReadable as exc:
        raise MigrationFileError(path, exc.problem) from None
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["NotReadable", "describe", "read_regular"]

_KINDS = {
    stat.S_IFDIR: "is a directory",
    stat.S_IFIFO: "is a FIFO, not a regular file",
    stat.S_IFSOCK: "is a socket, not a regular file",
    stat.S_IFCHR: "is a character device, not a regular file",
    stat.S_IFBLK: "is a block device, not a regular file",
}


class NotReadable(Exception):
    """`problem` completes the sentence "<path> ...": "is a directory"."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def describe(path: Path) -> str | None:
    """What keeps `path` from being read as a regular file ("is a directory", "is a
    dangling symlink to x.sql", ...), or None when it is one (or a symlink to one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return _describe_error(path, exc)
    if stat.S_ISREG(mode):
        return None
    kind = _KINDS.get(stat.S_IFMT(mode), "is not a regular file")
    if path.is_symlink():
        return f"is a symlink to {_target(path)}, which {kind}"
    return kind


def read_regular(path: Path | str, *, max_bytes: int) -> bytes:
    """The bytes of a regular file (or of one a symlink points to) of at most `max_bytes`;
    `NotReadable` else (a sparse 100 GB file is refused, not read into memory)."""
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise NotReadable(describe(Path(path)) or _describe_error(Path(path), exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # what was opened, not what was named
            raise NotReadable(describe(Path(path)) or "is not a regular file")
        data = _read_at_most(fd, max_bytes + 1, info.st_size)
        if max(info.st_size, len(data)) > max_bytes:
            raise NotReadable(f"is too large ({max(info.st_size, len(data)):,} bytes; "
                              f"at most {max_bytes:,})")
        return data
    except OSError as exc:
        raise NotReadable(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_at_most(fd: int, limit: int, size_hint: int) -> bytes:
    """Up to `limit` bytes, until end of file. st_size may lie (procfs says 0), so it only
    sizes the first read; and no buffer of `limit` bytes is allocated up front, as
    `read(limit)` does (1 GiB for a migration: 0.1 ms per file, mostly page mapping)."""
    chunks: list[bytes] = []
    total = 0
    chunk = max(size_hint + 1, 1 << 16)  # the whole file and its end in one or two reads
    while total < limit:
        data = os.read(fd, min(chunk, limit - total))
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


def _describe_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a symlink loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"is a dangling symlink to {_target(path)}"
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno == errno.ENOTDIR:
        return "is under a file, not a directory"
    return f"cannot be read: {exc.strerror or exc}"


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
