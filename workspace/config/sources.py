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

import copy
import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workspace.errors import ConfigError
from workspace.project.root import CONFIG_FILE
from workspace.userfile import NotReadable, read_regular

__all__ = ["CLIENT_FILE", "CONFIG_FILE", "ENV_ALIASES", "ENV_FILE", "ENV_PREFIX", "MAX_FILE_BYTES",
           "check_utf8", "from_env", "has_nul", "parse_yaml", "read_dotenv", "read_text"]

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


def parse_yaml(text: str, path: Path) -> tuple[Any, Any]:
    """config.yaml's node tree (keys with their lines, for the duplicate-key check and
    the messages) and its values, built from it: one parse, as yaml.compose and
    yaml.safe_load would each make. ConfigError naming the line when it is not YAML. The
    tree of the same text is kept (the config cache reads a secret written there after
    loading): read-only; the values are built anew on each call, the caller's to change."""
    import yaml  # imported only when there is a file to read

    try:
        node = _composed(text)
        # a merge key (`<<: *base`) is flattened in place by the constructor: build from
        # a copy, so the tree (the duplicate-key check reads it, the cache keeps it)
        # stays as written
        built = copy.deepcopy(node) if "<<" in text else node
        return node, None if node is None else yaml.SafeLoader("").construct_document(built)
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply",
                          remedy="Sections nest a few levels: see the shipped config.yaml.") \
            from None
    except ValueError as exc:  # a constructor's own: an integer of 5,000 digits, 2020-02-30
        raise ConfigError(f"{path}: invalid YAML: a value cannot be read: "
                          f"{str(exc).split(':')[0]}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        tabs = " (indent with spaces, not tabs)" if "'\\t'" in problem else ""
        raise ConfigError(f"{where}: invalid YAML: {problem}",
                          remedy=f"Fix the YAML at the line and column shown{tabs}.") from None


@functools.lru_cache(maxsize=1)
def _composed(text: str) -> Any:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


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
