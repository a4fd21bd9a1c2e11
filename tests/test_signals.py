"""The launcher's signal windows, with real signals sent to this process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from workspace.signals import signals_deferred, signals_ignored, terminate_as_exit


def deliver(sig: int) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.05)  # Python runs the handler at the next bytecode boundary


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_terminate_as_exit_raises_so_cleanup_runs(sig: int, code: int) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(SystemExit) as info, terminate_as_exit():
        deliver(sig)
    assert info.value.code == code
    assert signal.getsignal(sig) is before  # restored


def test_ignored_signals_do_nothing() -> None:
    with signals_ignored():
        deliver(signal.SIGINT)
        deliver(signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_signals_are_kept_in_order_for_later() -> None:
    with signals_deferred() as pending:
        deliver(signal.SIGTERM)
        deliver(signal.SIGINT)
    assert pending == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
