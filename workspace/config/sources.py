"""Where configuration values come from, each with its source for messages: the files
(config.yaml's text, `.env`) read as regular files without blocking, and the environment
(`DATABASE_URL` and friends, `WORKSPACE_<SECTION>__<FIELD>`), checked for what the OS
lets through and nothing downstream can use (bytes that are not UTF-8, NUL).

    values, sources = from_env({"WORKSPACE_MIGRATIONS__LOCK_WAIT_S": "5"},
                               "environment variable", None)
    # values == {"migrations.lock_wait_s": "5"}
    # sources == {"migrations.lock_wait_s": "environment variable WORKSPACE_MIGRATIONS__LOCK_WAIT_S"}
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workspace.errors import ConfigError
from workspace.project.root import CONFIG_FILE
from workspace.userfile import NotReadable, read_regular

__all__ = ["CLIENT_FILE", "CONFIG_FILE", "ENV_ALIASES", "ENV_FILE", "ENV_PREFIX", "MAX_FILE_BYTES",
           "check_utf8", "from_env", "has_nul", "read_dotenv", "read_text"]

ENV_FILE = ".env"
# What the Zitadel bootstrap (deps/zitadel_bootstrap.py) created: config.py reads it for
# oidc.client_id and oidc.project_id when no source sets them.
CLIENT_FILE = Path(".workspace/zitadel/client.json")
ENV_PREFIX = "WORKSPACE_"
MAX_FILE_BYTES = 16 * 2**20  # config.yaml, .env: far more than any real one
# Well-known names, as twelve-factor apps and the guide use them.
ENV_ALIASES: dict[str, str] = {
    "DATABASE_URL": "database.url",
    "SKIP_MIGRATIONS": "migrations.skip",
    "MIGRATIONS_DIR": "migrations.dir",
    "OIDC_ISSUER": "oidc.issuer",
    "OIDC_CLIENT_ID": "oidc.client_id",
}


def read_text(path: Path) -> str:
    """A config file's text: a regular file, read without blocking, strictly UTF-8."""
    try:
        data = read_regular(path, max_bytes=MAX_FILE_BYTES)
    except NotReadable as exc:
        raise ConfigError(f"{path}: {exc.problem}",
                          remedy=f"Make {path.name} a readable regular file, or remove it.") \
            from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def read_dotenv(text: str) -> dict[str, str]:
    from dotenv import dotenv_values  # imported only when there is a .env

    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if v is not None}


def from_env(env: Mapping[str, str], label: str,
              lines: list[str] | None) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in env.items():
        if name in ENV_ALIASES:
            dotted = ENV_ALIASES[name]
        elif name.startswith(ENV_PREFIX) and "__" in name:
            dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
        else:
            continue
        if dotted in ("migrations.skip",) and value == "":
            continue
        shown = _printable(name)
        values[dotted] = value
        sources[dotted] = f"{label} {_line_of(lines, name)}" if lines is not None \
            else f"{label} {shown}"
        if shown != name:
            raise ConfigError(f"{sources[dotted]}: the variable's name is not valid UTF-8")
    check_utf8(values, sources)
    return values, sources


def check_utf8(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Environment values and arguments arrive as the OS gave them: a byte that is not
    UTF-8 shows up as a lone surrogate, which nothing downstream can encode."""
    for dotted, value in values.items():
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            byte = ord(value[exc.start]) & 0xFF
            raise ConfigError(f"{sources[dotted]}: {dotted}: not valid UTF-8 (byte "
                              f"0x{byte:02x} at position {exc.start + 1})",
                              remedy="Set it again in UTF-8.") from None


def _printable(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _line_of(lines: list[str], name: str) -> str:
    for number, line in enumerate(lines, 1):
        if line.lstrip().removeprefix("export ").lstrip().startswith(f"{name}="):
            return f"{number} ({name})"
    return f"? ({name})"


def has_nul(value: Any) -> bool:
    """Whether a string in `value` holds a NUL; iterative and cycle-safe, as YAML anchors
    can build a list that contains itself (pydantic then reports the cycle)."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\0" in item:
            return True
        if isinstance(item, (dict, list)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
    return False
