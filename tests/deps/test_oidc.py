"""OIDC readiness against a real OpenID Connect provider process (npm's oidc-provider)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from workspace.config import ReadinessConfig
from workspace.deps.oidc import http_client, oidc_probe
from workspace.deps.readiness import Progress, ReadinessTimeout, wait_for_zitadel
from workspace.errors import WorkspaceError

if TYPE_CHECKING:  # imported by pytest itself, as a plugin: importing it first breaks that
    from tests.deps.oidc_fixture import OidcProvider

Start = Callable[..., "OidcProvider"]
GUIDE = ReadinessConfig()  # 6 x 5 s, polled every 0.2 s
SMALL = ReadinessConfig(zitadel_attempts=2, zitadel_interval_s=0.5, poll_s=0.1)


def test_a_ready_provider_passes_discovery_and_a_non_empty_jwks(start_provider: Start) -> None:
    provider = start_provider()
    with http_client() as client:
        assert oidc_probe(provider.url, client=client)() is None  # /debug/ready too
    seen: list[Progress] = []
    ready = wait_for_zitadel(provider.url, GUIDE, progress=seen.append, alive=provider.alive)
    assert seen == [] and ready.polls == 1 and ready.attempt == 1


def test_an_issuer_mismatch_fails_at_once_without_retrying(start_provider: Start) -> None:
    provider = start_provider(issuer="https://auth.example.com")
    began = time.monotonic()
    with pytest.raises(WorkspaceError) as caught:
        wait_for_zitadel(provider.url, GUIDE)
    assert caught.value.code == "PRECHECK_OIDC_ISSUER_MISMATCH"
    assert time.monotonic() - began < 2.0  # not the 30 s budget


def test_a_provider_that_never_becomes_ready_times_out_after_its_budget(
        start_provider: Start) -> None:
    provider = start_provider("never")
    seen: list[Progress] = []
    began = time.monotonic()
    with pytest.raises(ReadinessTimeout) as caught:
        wait_for_zitadel(provider.url, SMALL, progress=seen.append, alive=provider.alive)
    elapsed = time.monotonic() - began
    exc = caught.value
    assert exc.code == "PRECHECK_ZITADEL_UNREACHABLE"
    assert exc.attempts == 2 and 1.0 <= exc.elapsed_s <= elapsed < 3.0
    assert "HTTP 503" in exc.last_reason
    assert [p.attempt for p in seen] == [1, 2]
    assert str(seen[0]) == "Zitadel not ready, waiting 0.5s (attempt 1/2)..."


def test_discovery_without_keys_is_not_ready(start_provider: Start) -> None:
    provider = start_provider("empty-jwks")
    with pytest.raises(ReadinessTimeout) as caught:
        wait_for_zitadel(provider.url, SMALL)
    assert caught.value.code == "PRECHECK_ZITADEL_UNREACHABLE"
    assert "JWKS has no keys" in caught.value.last_reason


def test_a_provider_that_starts_late_is_noticed_within_a_poll(start_provider: Start) -> None:
    provider = start_provider(delay_ms=1500, wait=False)
    seen: list[Progress] = []
    ready = wait_for_zitadel(provider.url, GUIDE, alive=provider.alive, progress=seen.append)
    noticed = time.time()
    listening = provider.listening_at()
    assert listening is not None
    latency = noticed - listening
    print(f"provider listening -> readiness noticed: {latency * 1000:.0f} ms "
          f"(time to ready {ready.elapsed_s:.2f}s, {ready.polls} polls)")
    assert latency < 1.0  # well below the 5 s interval; the aim is one poll (0.2 s)
    assert [str(p) for p in seen] == ["Zitadel not ready, waiting 5s (attempt 1/6)..."]


def test_a_provider_that_exits_fails_fast(start_provider: Start) -> None:
    provider = start_provider(delay_ms=60_000, exit_after_ms=500, wait=False)
    began = time.monotonic()
    with pytest.raises(WorkspaceError) as caught:
        wait_for_zitadel(provider.url, GUIDE, alive=provider.alive)
    assert caught.value.code == "PRECHECK_DEPENDENCY_EXITED"
    assert time.monotonic() - began < 5.0  # not the 30 s budget


def test_nothing_listening_is_a_reason_not_a_crash() -> None:
    from tests.conftest import free_port

    with http_client() as client:
        reason = oidc_probe(f"http://127.0.0.1:{free_port()}", client=client)()
    assert reason == "GET /debug/ready: connection refused"
