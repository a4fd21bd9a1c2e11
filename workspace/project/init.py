"""`workspace init [DIR]`: make a project, new or existing, ready for `workspace start`.

    report = init_project(Path("."), environ=os.environ)
    report.written, report.kept      # relative paths: what was created, what was left be

It writes what is missing and never touches what exists: `config.yaml` (commented, with
only what this project needs: its migrations directory, its apps from a Procfile, its
own Docker project name), `migrations/` (or finds the project's own directory), the
Docker backend's files (shipped as package data: workspace/data/docker), and the
`.gitignore` lines for `.workspace/` and `docker/.env` (added, nothing else changed).
Run again, it changes nothing and says what it kept. With `DATABASE_URL` set, it looks
at that database: a migration history of workspace's or of another tool is reported
with the command that adopts it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from workspace.errors import ConfigError, WorkspaceError
from workspace.output import redact
from workspace.project.detect import Found, find_migrations_dir, procfile_apps, tracking_tables

__all__ = ["DOCKER_FILES", "InitReport", "init_project"]

DOCKER_FILES = ("docker-compose.yml", "docker-compose.host.yml", "init.sql",
                "01-init-zitadel.sh", ".env.example")
GITIGNORE_LINES = (".workspace/", "docker/.env")


@dataclass
class DatabaseFound:
    url: str  # masked
    tracking: list[Found] = field(default_factory=list)
    tables: int = 0
    problem: str | None = None  # could not look: why

    def proposal(self) -> str | None:
        """The command to run next on this database, None when nothing is to adopt."""
        if self.problem is not None:
            return None
        if any(not f.ours for f in self.tracking):
            return "workspace db adopt"
        if not self.tracking and self.tables:
            return "workspace db baseline VERSION"  # a schema with no history
        return None


@dataclass
class InitReport:
    root: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    migrations_dir: Path = Path("migrations")
    migrations_found: bool = False
    apps: list[str] = field(default_factory=list)
    database: DatabaseFound | None = None


def init_project(root: Path, *, environ: Mapping[str, str]) -> InitReport:
    """Create what is missing in `root` (made when absent). ConfigError when `root` is not
    a directory that can be written, before anything is written."""
    root = _usable_dir(root)
    report = InitReport(root)
    existing = find_migrations_dir(root)
    report.migrations_found = existing is not None
    report.migrations_dir = existing or Path("migrations")
    apps = procfile_apps(root)
    report.apps = list(apps)
    try:
        _write(report, "config.yaml", _config_text(root, report.migrations_dir, apps))
        migrations = root / report.migrations_dir
        if not migrations.is_dir():
            migrations.mkdir(parents=True)
            report.written.append(f"{report.migrations_dir}/")
        _docker_files(report)
        _gitignore(report)
    except OSError as exc:  # a path taken by a directory, a file we may not read
        where = redact.redact(str(exc.filename or root))
        raise ConfigError(f"{where}: {exc.strerror or exc}",
                          remedy="Move it out of the way, then run `workspace init` again "
                                 "(what was written is kept).") from None
    url = environ.get("DATABASE_URL")
    if url:
        report.database = _look_at(url)
    return report


def _usable_dir(root: Path) -> Path:
    where = redact.redact(str(root))
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{where} is not a directory",
                          remedy="Give a directory for the project (it is created when missing).")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".workspace-init.{os.getpid()}.tmp"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot write there: {exc.strerror or exc}",
                          remedy="Choose a directory you can write to, or fix its "
                                 "permissions.") from None
    return root.resolve()


def _write(report: InitReport, relative: str, text: str, *, mode: int | None = None) -> None:
    """Create the file unless something exists at that path (never overwritten)."""
    path = report.root / relative
    if os.path.lexists(path):
        report.kept.append(relative)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": not even a racing writer's
            fh.write(text)
    except FileExistsError:
        report.kept.append(relative)
        return
    if mode is not None:
        path.chmod(mode)
    report.written.append(relative)


def _docker_files(report: InitReport) -> None:
    shipped = resources.files("workspace") / "data" / "docker"
    for name in DOCKER_FILES:
        text = (shipped / name).read_text(encoding="utf-8")
        _write(report, f"docker/{name}", text, mode=0o755 if name.endswith(".sh") else None)


def _gitignore(report: InitReport) -> None:
    path = report.root / ".gitignore"
    if os.path.lexists(path) and not path.is_file():  # a directory, a dangling link: not ours
        report.kept.append(".gitignore")
        return
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    present = {line.strip().strip("/") for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line.strip("/") not in present]
    if not missing:
        report.kept.append(".gitignore")
        return
    block = ("" if not text or text.endswith("\n") else "\n") + \
        "# workspace: its local state (database, logs) and the Docker secrets\n" + \
        "".join(f"{line}\n" for line in missing)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(block)
    report.written.append(f".gitignore ({', '.join(missing)})")


def _look_at(url: str) -> DatabaseFound:
    found = DatabaseFound(redact.mask_url(url))
    try:
        found.tracking, found.tables = tracking_tables(url)
    except WorkspaceError as exc:
        found.problem = exc.message
    return found


def _project_name(root: Path) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-_")
    return slug if slug and slug[0].isalnum() else "workspace"


def _config_text(root: Path, migrations_dir: Path, apps: dict[str, dict[str, Any]]) -> str:
    import yaml

    lines = [
        f"# workspace configuration for {root.name}, written by `workspace init`.",
        "# Only what this project needs: every other field has its default (see the",
        "# workspace README). Highest first: command-line flags, environment variables",
        "# (DATABASE_URL, WORKSPACE_<SECTION>__<FIELD>), .env, this file.",
        "",
        "# database:",
        "#   url: postgresql://user:password@host:5432/dbname  # unset: the embedded PostgreSQL",
        "",
        "migrations:",
        f"  dir: {migrations_dir.as_posix()}".ljust(30)
        + " # the SQL files, applied in order: 0001_name.sql, ...",
        "",
        "docker:                        # the Docker backend (docker/.env present, an engine answers)",
        f"  project_name: {_project_name(root)}",
        "",
        "# deps:",
        "#   zitadel:",
        "#     backend: skip            # auto: Zitadel (OIDC) in Docker with the Docker backend",
        "",
        "# precheck:                    # what validation insists on, beyond drift against",
        "#   critical_tables: {public.todos: 3}   # the migrations: table: column count",
        "#   critical_functions: [public.todo_count()]",
        "#   required_extensions: [vector]        # created by the embedded server too",
        "",
    ]
    if apps:
        lines.append("apps:                          # from the Procfile; run by `workspace start`")
        dumped = yaml.safe_dump(apps, sort_keys=False, default_flow_style=None, width=88)
        lines += [f"  {line}" for line in dumped.splitlines()]
    else:
        lines += [
            "apps: {}                       # what `workspace start` runs once the database is ready:",
            "#   web:",
            "#     command: python3 app.py",
            "#     port: 8000               # given to the app as PORT, with DATABASE_URL",
            "#     ready: {http: \"http://127.0.0.1:8000/\"}",
        ]
    return "\n".join(lines) + "\n"
