"""What the database layer is told, as small values of its own: db/ never reads the
configuration (`workspace.config.models`); the one place that builds these from it is
`workspace.config.db`. Data flows down: the configuration in, these out.

    project = MigrationSettings(Path("migrations"), "auto", RunnerSettings())
    migrate_project(project, url)
    validate(url, ValidationSettings(RunnerSettings(), cache_dir, snapshot), migrations)

NamedTuples rather than dataclasses: they are built on every command's start-up path,
and a NamedTuple class costs far less to define than a dataclass. The runner's own
`RunnerSettings` (timeouts, tracking table) lives with the runner and is shared by both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:  # the runner (and psycopg) load only where a migration runs
    from workspace.db.runner import RunnerSettings

__all__ = ["MigrationSettings", "Severity", "ValidationSettings"]

Severity = Literal["error", "warning"]

_NO_TABLES: Mapping[str, int | None] = MappingProxyType({})


class MigrationSettings(NamedTuple):
    """Where the migrations are and how they are run (config.yaml's `migrations`)."""

    dir: Path  # the project's migrations directory, absolute
    layout: str  # how the files are named: "auto" or one of db.layouts.LAYOUTS
    runner: RunnerSettings


class ValidationSettings(NamedTuple):
    """What `validate` insists on (config.yaml's `precheck`) and where the expected
    schema is kept."""

    runner: RunnerSettings  # connect timeout and tracking table; builds the expected schema
    cache_dir: Path  # the expected schema's cache (.workspace/cache)
    snapshot: Path  # the committed expected schema, for roles that may not CREATE DATABASE
    critical_tables: Mapping[str, int | None] = _NO_TABLES  # name -> column count (None: any)
    critical_functions: tuple[str, ...] = ()
    required_extensions: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # objects the drift checks leave alone
    compare_owners: bool = False
    changed: Severity = "error"  # a changed object's finding
    extra: Severity = "error"  # an extra object's finding
