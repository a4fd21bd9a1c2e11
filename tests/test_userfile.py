"""workspace.userfile: reading a file the user gave us."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from workspace.userfile import NotReadable, read_regular


def test_small_file_is_read_without_a_buffer_of_the_limit(tmp_path: Path) -> None:
    # The limit for migrations is 1 GiB: a buffer of that size per file (allocated and
    # freed again) made reading 500 small migrations cost 50 ms instead of 8.
    path = tmp_path / "0001_init.sql"
    path.write_bytes(b"SELECT 1;\n" * 100)
    tracemalloc.start()
    try:
        data = read_regular(path, max_bytes=2**30 - 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == b"SELECT 1;\n" * 100
    assert peak < 2**20


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 65_537, 300_000])
def test_whole_file_up_to_the_limit(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f.sql"
    content = bytes(i % 251 for i in range(size))
    path.write_bytes(content)
    assert read_regular(path, max_bytes=300_000) == content


def test_one_byte_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.sql"
    path.write_bytes(b"x" * 70_001)
    with pytest.raises(NotReadable, match="is too large"):
        read_regular(path, max_bytes=70_000)


def test_size_the_file_system_misreports_is_still_bounded() -> None:
    # procfs reports st_size 0 for files that have content: the limit still holds
    with pytest.raises(NotReadable, match="is too large"):
        read_regular(Path("/proc/self/maps"), max_bytes=10)
    assert read_regular(Path("/proc/self/cmdline"), max_bytes=1 << 20)
