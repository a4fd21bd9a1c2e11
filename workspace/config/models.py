"""Configuration: pydantic models and the layered load.

Sources, highest first: command-line flags, the process environment, a `.env` file,
`config.yaml`, the defaults written next to each field. Each value remembers where it
came from, so a bad one is reported as, for example,
`config.yaml line 12: migrations.lock_wait_s: Input should be a valid number`.

Environment variables: `DATABASE_URL`, `SKIP_MIGRATIONS`, `MIGRATIONS_DIR`, and any
field as `WORKSPACE_<SECTION>__<FIELD>` (e.g. `WORKSPACE_MIGRATIONS__LOCK_WAIT_S=5`).
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from workspace import urls
from workspace.config.apps import APP_NAME, APP_NAME_RULE, AppConfig, SupervisorConfig, check_apps
from workspace.config.paths import ProjectPaths
from workspace.config.sources import (
    CLIENT_FILE,
    CONFIG_FILE,
    ENV_ALIASES,
    ENV_FILE,
    ENV_PREFIX,
    check_utf8,
    from_env,
    has_nul,
    parse_yaml,
    read_dotenv,
    read_text,
)
from workspace.config.types import MAX_ATTEMPTS, HostName, HttpUrl, Seconds
from workspace.errors import ConfigError
from workspace.output import redact
from workspace.project.root import find_root

__all__ = ["CLIENT_FILE", "ENV_ALIASES", "ENV_PREFIX", "Config", "DatabaseConfig", "DepsConfig",
           "DockerConfig", "EmbeddedConfig", "MigrationsConfig", "OidcConfig", "PageConfig",
           "PrecheckConfig", "ReadinessConfig", "load_config", "read_client_file"]



class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseConfig(_Section):
    url: SecretStr | None = Field(
        default=None, description="Database URL; unset means the embedded PostgreSQL.")
    connect_timeout_s: Seconds = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _well_formed(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().strip():
            raise ValueError("is empty: unset it to use the embedded PostgreSQL, or give a URL")
        problem = urls.database_url_problem(url.get_secret_value()) if url is not None else None
        if problem:
            raise ValueError(problem)
        return url


class EmbeddedConfig(_Section):
    data_dir: Path = Field(default=Path(".workspace/postgres"),
                           description="Cluster directory, relative to the project.")
    host: HostName = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="unset: chosen once per project (54320 when free), "
                                         "recorded in .workspace/postgres.port")
    database: str = Field(default="workspace", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    start_timeout_s: Seconds = Field(default=60.0, gt=0)


class MigrationsConfig(_Section):
    dir: Path = Field(default=Path("migrations"), description="Relative to the project.")
    skip: bool = Field(default=False, description="SKIP_MIGRATIONS=1: the app does not migrate.")
    lock_wait_s: Seconds = Field(default=60.0, gt=0,
                                 description="How long a runner waits for another one.")
    lock_timeout_s: Seconds = Field(default=10.0, ge=0,
                                    description="Per migration; 0 disables.")
    statement_timeout_s: Seconds = Field(default=600.0, ge=0,
                                         description="Per migration; 0 disables.")
    watch: bool = Field(default=True, description="While `workspace start` runs: a new or "
                        "changed pending migration is linted, applied and validated live.")
    layout: Literal["auto", "numbered", "timestamp", "flyway", "golang-migrate", "diesel"] = Field(
        default="auto", description="How migration files are named; auto: detected from them.")
    table: str = Field(default="public.schema_migrations",
                       description="workspace's tracking table, schema-qualified, lower case "
                                   "(another tool's may keep public.schema_migrations).")

    @field_validator("dir", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():  # Path("") would be the project
            raise ValueError("is empty: unset it for `migrations`, or give a directory")
        return value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError(f"{value!r} is not schema.table in lower-case letters, digits and "
                             "_, e.g. workspace.schema_migrations")
        return value


class DependencyChoice(_Section):
    backend: Literal["auto", "docker", "embedded", "external", "skip"] = "auto"


class DepsConfig(_Section):
    """How each dependency comes up. postgres: auto (Docker when an engine answers, else
    embedded) | docker | embedded | external (database.url). zitadel: auto (Docker when
    postgres uses Docker, else external when oidc.issuer is set, else skip with a
    notice) | docker | external | skip."""

    postgres: DependencyChoice = DependencyChoice()
    zitadel: DependencyChoice = DependencyChoice()


class DockerConfig(_Section):
    """The compose file run as one compose project. host_network adds
    docker-compose.host.yml (next to compose_file), for engines without a bridge network
    (CI: WORKSPACE_DOCKER__HOST_NETWORK=1)."""

    compose_file: Path = Path("docker/docker-compose.yml")
    env_file: Path = Path("docker/.env")
    project_name: str = Field(default="workspace", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    zitadel_port: int = Field(default=8080, ge=1, le=65535)
    host_network: bool = False
    engine_timeout_s: Seconds = Field(default=5.0, gt=0, description="Docker API calls.")
    compose_timeout_s: Seconds = Field(default=600.0, gt=0,
                                       description="`docker compose up`, first image pulls included.")
    stop_timeout_s: Seconds = Field(default=30.0, ge=0,
                                    description="Grace before a stopped container is killed.")


class ReadinessConfig(_Section):
    """Bounded waits (the guide's defaults: database 5 x 5 s, Zitadel 6 x 5 s). Within
    that budget the probe runs every poll_s, so readiness is noticed when it happens."""

    database_attempts: int = Field(default=5, ge=1, le=MAX_ATTEMPTS)
    database_interval_s: Seconds = Field(default=5.0, gt=0)
    zitadel_attempts: int = Field(default=6, ge=1, le=MAX_ATTEMPTS)
    zitadel_interval_s: Seconds = Field(default=5.0, gt=0)
    zitadel_first_boot_s: Seconds = Field(default=180.0, gt=0)
    poll_s: Seconds = Field(default=0.2, gt=0)


class OidcConfig(_Section):
    issuer: HttpUrl | None = Field(default=None, description="e.g. http://localhost:8080")
    client_id: str | None = None
    project_id: str | None = None
    pat_file: Path = Field(default=Path(".workspace/zitadel/admin.pat"),
                           description="Zitadel machine user's personal access token.")


GUIDE_CRITICAL_TABLES: dict[str, int | None] = {
    "kb.documents": 8, "kb.chunks": 7, "kb.object_extraction_jobs": 31,
    "kb.graph_embedding_jobs": 11, "kb.auth_introspection_cache": 4, "kb.tags": 8,
    "kb.graph_objects": 30, "kb.graph_relationships": 18,
}


GUIDE_CRITICAL_FUNCTIONS = ["kb.update_tsv()", "kb.refresh_revision_counts()"]


class DriftPolicy(_Section):
    extra: Literal["error", "warning"] = "error"
    changed: Literal["error", "warning"] = "error"


class PrecheckConfig(_Section):
    """What `workspace db validate` (and `workspace start`) insists on. Without a config
    nothing is critical: drift against the migrations does the work. The shipped project's
    config.yaml lists the guide's (GUIDE_CRITICAL_TABLES, GUIDE_CRITICAL_FUNCTIONS).
    An unqualified name resolves along the database's search_path."""

    critical_tables: dict[str, int | None] = Field(
        default_factory=dict, description="table -> expected column count (null: any)")
    critical_functions: list[str] = Field(default_factory=list)
    required_extensions: list[str] = Field(
        default_factory=list, description="created by the embedded server, required by "
                                          "validation (docker/init.sql creates vector, pgcrypto)")
    drift: DriftPolicy = DriftPolicy()
    ignore: list[str] = Field(
        default_factory=list,
        description="objects drift checks leave alone, e.g. kb.scratch")
    compare_owners: bool = Field(
        default=False, description="also compare who owns each object (off: the scratch "
                                   "database is built by whoever validates)")
    snapshot: Path = Field(default=Path("migrations/schema.snapshot.json"),
                           description="expected schema, for roles that may not CREATE DATABASE")


class PageConfig(_Section):
    """The live workspace page `workspace start` serves on 127.0.0.1 (page/)."""

    enabled: bool = True
    port: int | None = Field(default=None, ge=1, le=65535, description="unset: a free one")


class Config(ProjectPaths, _Section):
    project_dir: Path = Field(default_factory=Path.cwd)
    config_file: Path | None = Field(default=None, description="Set by load_config: the "
                                     "file read, for processes that load it again.")
    database: DatabaseConfig = DatabaseConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    migrations: MigrationsConfig = MigrationsConfig()
    deps: DepsConfig = DepsConfig()
    docker: DockerConfig = DockerConfig()
    readiness: ReadinessConfig = ReadinessConfig()
    oidc: OidcConfig = OidcConfig()
    precheck: PrecheckConfig = PrecheckConfig()
    apps: dict[str, AppConfig] = Field(default_factory=dict,
                                       description="What `workspace start` runs, in order.")
    supervisor: SupervisorConfig = SupervisorConfig()
    page: PageConfig = PageConfig()

    @field_validator("apps")
    @classmethod
    def _app_order(cls, apps: dict[str, AppConfig]) -> dict[str, AppConfig]:
        try:
            check_apps(apps)
        except ConfigError as exc:
            raise ValueError(exc.message.removeprefix("apps: ")) from None
        return apps

    @property
    def app_order(self) -> list[str]:
        """The apps in start order: dependencies first, else as configured."""
        return check_apps(self.apps)

    @property
    def migrations_dir(self) -> Path:
        return self.path(self.migrations.dir)

    @property
    def state_dir(self) -> Path:
        return self.project_dir / ".workspace"


def load_config(project_dir: Path | None = None, *, config_file: Path | None = None,
                cli: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Merge every source into one validated `Config`, or raise `ConfigError`. Without a
    project directory (nor a config file), the project is found from the working directory
    up (project/root.py)."""
    if project_dir is None and config_file is None:
        project_dir = find_root(Path.cwd())
    project = (project_dir or Path.cwd()).resolve()
    env = dict(os.environ if environ is None else environ)
    layers: list[tuple[dict[str, Any], dict[str, str]]] = []

    yaml_path = config_file or project / CONFIG_FILE
    has_yaml = os.path.lexists(yaml_path)  # a directory or FIFO there is an error, not "none"
    if config_file is not None and not has_yaml:
        raise ConfigError(f"{yaml_path}: config file not found",
                          remedy="Pass an existing file to --config, or drop the flag.")
    if has_yaml:
        layers.append(_from_yaml(yaml_path))
    env_path = project / ENV_FILE
    if env_path.is_file():  # only a file: `.env` is also a common name for a virtualenv
        text = read_text(env_path)
        layers.append(from_env(read_dotenv(text), f"{ENV_FILE} line",
                                text.splitlines()))
    layers.append(from_env(env, "environment variable", None))
    if cli:
        values = {k: v for k, v in cli.items() if v is not None}
        sources = {k: f"command-line option for {k}" for k in values}  # not the unset ones
        check_utf8(values, sources)
        layers.append((values, sources))

    merged: dict[str, Any] = {"project_dir": project,
                              "config_file": yaml_path.resolve() if has_yaml else None}
    origin: dict[str, str] = {}
    for values, sources in layers:
        for dotted, value in values.items():
            if has_nul(value):  # YAML's "\0" escape: no path, host or argument holds one
                raise ConfigError(f"{sources.get(dotted, '?')}: {dotted}: contains a NUL "
                                  "character (\\0)", remedy="Remove it.")
            _set(merged, dotted, value)
        origin.update({dotted: sources.get(dotted, "?") for dotted in values})
        origin.update({k: v for k, v in sources.items() if k not in values})  # enclosing keys
    url = _get(merged, "database.url")
    if isinstance(url, str):
        redact.register_url(url)  # a URL libpq would misread fails the field's own check
    _recorded_client(merged, origin, project)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None


def read_client_file(path: Path) -> dict[str, str]:
    """The string fields the Zitadel bootstrap recorded at `path` (client_id, project_id,
    ...), or {} when there is none, or it cannot be read (the next bootstrap rewrites it)."""
    import json

    from workspace.userfile import NotReadable, read_regular

    try:
        data = json.loads(read_regular(path, max_bytes=1 << 16))
    except (NotReadable, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and v and not has_nul(v)}


def _recorded_client(merged: dict[str, Any], origin: dict[str, str], project: Path) -> None:
    """oidc.client_id (and project_id) from CLIENT_FILE, when no source set the client ID
    (the user's own setting wins) and the Zitadel is ours (no other issuer configured)."""
    if _get(merged, "oidc.client_id") is not None:
        return
    if _get(merged, "oidc.issuer") and _get(merged, "deps.zitadel.backend") != "docker":
        return
    recorded = read_client_file(project / CLIENT_FILE)
    if "client_id" not in recorded:
        return
    _set(merged, "oidc.client_id", recorded["client_id"])
    origin["oidc.client_id"] = str(CLIENT_FILE)
    if _get(merged, "oidc.project_id") is None and "project_id" in recorded:
        _set(merged, "oidc.project_id", recorded["project_id"])
        origin["oidc.project_id"] = str(CLIENT_FILE)


def _describe(exc: ValidationError, origin: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        dotted = ".".join(loc)
        # the value may sit inside a mapping-valued field: use the deepest known source;
        # an unknown section set by variables (WORKSPACE_FOO__BAR) is known by its leaves
        source = next((origin[".".join(loc[:n])] for n in range(len(loc), 0, -1)
                       if ".".join(loc[:n]) in origin), None) \
            or ", ".join(dict.fromkeys(v for k, v in origin.items()
                                       if k.startswith(dotted + "."))) or "defaults"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + _suggest(err["loc"])
        elif err["type"] == "path_type":  # pydantic's names the Python class
            msg = "Input should be a path (a string)"
        elif err["type"] == "model_type":  # pydantic's names the model class
            msg = "Input should be a section (its fields below it, `field: value`)"
        lines.append(f"{source}: {dotted}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _suggest(loc: tuple[int | str, ...]) -> str:
    import difflib  # only for a mistake: not on every start

    model: type[BaseModel] = Config
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif _model_values(annotation) is not None and parts:
            model = _model_values(annotation)  # type: ignore[assignment]
            parts.pop(0)  # the item's name
        else:
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean `{close[0]}`?)" if close else f" (known: {', '.join(model.model_fields)})"


def _from_yaml(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    node, data = parse_yaml(read_text(path), path)
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the top level must be a mapping of sections")
    _refuse_duplicate_keys(node, "", path.name)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _flatten(data, node, "", values, sources, path.name)
    return values, sources


def _refuse_duplicate_keys(node: Any, prefix: str, filename: str,
                           seen_nodes: set[int] | None = None) -> None:
    """A key given twice in one mapping is an error: YAML loaders keep the last one
    silently (a second `apps:` would drop every app above it). Each node is looked at
    once: an alias makes the node graph a cycle (`a: &x [*x]`)."""
    import yaml

    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, prefix, filename, seen_nodes)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        line = key_node.start_mark.line + 1
        if key is not None and key != "<<":
            if key in seen:
                raise ConfigError(
                    f"{filename} line {line}: {prefix}{key}: given twice (first at line "
                    f"{seen[key]}); only the last would count",
                    remedy=f"Merge the two `{key}:` entries into one in {filename}.")
            seen[key] = line
        _refuse_duplicate_keys(value_node, f"{prefix}{key}." if key else prefix, filename,
                               seen_nodes)


def _flatten(data: Any, node: Any, prefix: str, values: dict[str, Any],
             sources: dict[str, str], filename: str, model: type[BaseModel] | None = None) -> None:
    """Leaves of `data` as dotted paths, descending only into nested sections (so a
    mapping-valued field such as precheck.critical_tables stays one value)."""
    model = model or Config
    keys = {k.value: (k, v) for k, v in node.value} if _is_mapping_node(node) else {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        key_node, value_node = keys.get(key, (None, None))
        field = model.model_fields.get(str(key))
        section = field.annotation if field is not None else None
        if isinstance(value, dict) and isinstance(section, type) and issubclass(section, BaseModel):
            _flatten(value, value_node, dotted + ".", values, sources, filename, section)
        elif isinstance(value, dict) and _model_values(section) is not None and value:
            # a mapping of sections (apps): one level of names, then each a section
            item_model = _model_values(section)
            sources[dotted] = f"{filename} line {key_node.start_mark.line + 1 if key_node else '?'}"
            item_nodes = {k.value: (k, v) for k, v in value_node.value} \
                if _is_mapping_node(value_node) else {}
            for name, item in value.items():
                name_node, item_node = item_nodes.get(name, (None, None))
                where = f"{filename} line {name_node.start_mark.line + 1 if name_node else '?'}"
                if not APP_NAME.match(str(name)):  # before it becomes part of a dotted path
                    raise ConfigError(f"{where}: {dotted}: the name {str(name)!r} is not "
                                      f"{APP_NAME_RULE}")
                if isinstance(item, dict) and item:
                    _flatten(item, item_node, f"{dotted}.{name}.", values, sources, filename,
                             item_model)
                else:  # not a mapping: let validation say so, at this line
                    values[f"{dotted}.{name}"] = item
                sources[f"{dotted}.{name}"] = where
        else:
            values[dotted] = value
            sources[dotted] = f"{filename} line {key_node.start_mark.line + 1 if key_node else '?'}"


def _model_values(annotation: Any) -> type[BaseModel] | None:
    """M for a field annotated dict[str, M] with M a model, else None."""
    if typing.get_origin(annotation) is not dict:
        return None
    item = typing.get_args(annotation)[1]
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _is_mapping_node(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.MappingNode)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = tree.setdefault(part, {})
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    tree[leaf] = value


def _get(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
