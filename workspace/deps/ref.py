"""Which dependency, run by which backend: the typed reference the launcher records for
what it started (UpResult.started, the state file, the detached supervisor's hand-off).

    ref = DepRef("postgres", "embedded")
    BACKENDS[ref.backend](config, ref.service).stop()     # deps/__init__.py
    DepRef.from_json({"service": "zitadel", "backend": "docker"})
    Instance(ref, identity)        # what this run started, with the identity its backend
                                   # gave once it was up (UpResult/RunState.identities)

Stored as `{"service": ..., "backend": ...}`; the `"postgres:embedded"` strings an older
workspace wrote in its state file are still read (`from_json`, the one place that knows
that form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DOCKER_ZITADEL", "EMBEDDED_POSTGRES", "KINDS", "SERVICES", "DepRef", "Instance",
           "identity_of"]

SERVICES = ("postgres", "zitadel")
KINDS = ("embedded", "docker", "external")  # the keys of deps.BACKENDS


@dataclass(frozen=True)
class DepRef:
    service: str  # one of SERVICES
    backend: str  # one of KINDS

    def __post_init__(self) -> None:
        if self.service not in SERVICES or self.backend not in KINDS:
            raise ValueError(f"not a dependency: {self.service!r} run by {self.backend!r}")

    def __str__(self) -> str:
        return f"{self.service} ({self.backend})"

    @classmethod
    def from_json(cls, value: Any) -> DepRef:
        """From the state file or the hand-off; ValueError when it is neither form."""
        if isinstance(value, dict):
            return cls(str(value.get("service")), str(value.get("backend")))
        if isinstance(value, str):  # an older workspace's record: "postgres:embedded"
            service, _, backend = value.partition(":")
            return cls(service, backend)
        raise ValueError(f"not a dependency reference: {value!r}")


EMBEDDED_POSTGRES = DepRef("postgres", "embedded")
DOCKER_ZITADEL = DepRef("zitadel", "docker")


@dataclass
class Instance:
    """A dependency this run started, and the identity its backend gave once it was up
    (`Backend.identity()`: JSON, opaque outside its backend; `Backend.still_runs(identity)`
    tells whether what runs now is that very instance)."""

    ref: DepRef
    identity: Any

    @classmethod
    def from_json(cls, value: Any) -> Instance:
        """From the state file or the hand-off; ValueError when it is not one."""
        if not isinstance(value, dict):
            raise ValueError(f"not a recorded instance: {value!r}")
        return cls(DepRef.from_json(value.get("ref")), value.get("identity"))


def identity_of(instances: list[Instance], ref: DepRef) -> Any:
    """The identity recorded for `ref`; None when none was (it was not up yet)."""
    return next((i.identity for i in instances if i.ref == ref), None)
