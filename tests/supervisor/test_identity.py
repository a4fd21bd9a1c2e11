"""A process's identity: boot id and start ticks, which a wall-clock step does not move."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from workspace.supervisor import identity
from workspace.supervisor.identity import process_started, same_process


def test_identity_is_boot_id_and_start_ticks_from_proc() -> None:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    ticks = stat[stat.rindex(")") + 2:].split()[19]  # field 22, starttime
    assert process_started(os.getpid()) == f"{boot}:{ticks}"


def test_a_record_written_before_identities_is_still_understood() -> None:
    created = psutil.Process(os.getpid()).create_time()
    assert same_process(os.getpid(), created)  # a float: psutil's create time, as before
    assert not same_process(os.getpid(), created - 3600)


def test_without_proc_the_create_time_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "_boot_id", lambda: None)
    me = process_started(os.getpid())
    assert isinstance(me, str) and not me.startswith(Path(
        "/proc/sys/kernel/random/boot_id").read_text().strip())
    assert same_process(os.getpid(), me)
    assert not same_process(os.getpid(), "create:12.5")
