"""Keep passwords, tokens and PATs out of everything `workspace` prints or writes.

Two layers, both applied by `redact()`:

1. What the text itself says is a secret, registered or not, valid or not:
   - the password of anything URL-like, `user:PASSWORD@host`, up to the LAST `@` of the
     run of text (so `/`, `@` and `:` in a password, a scheme without its `:` or `//`,
     several hosts, a URL inside a longer message or a traceback all work);
   - `password=...` in key/value form (libpq's conninfo, `PGPASSWORD=`, quoted values
     with blanks and escaped quotes, `\\ ` escapes), a URL's `?password=`/`&password=`,
     `"password": "..."` in JSON, and the same for keys ending in `secret`, `token`,
     `api_key`; `Authorization:` header values.
2. Registered secrets (`register`, `register_url`): a strong one is masked wherever it
   appears; a weak one (see `weakness`) only where it stands as a password. So
   `postgresql://workspace:workspace@localhost/workspace` masks the password in its URL,
   not every "workspace" in the output; a weak database password is reported once
   (`on_weak_password`).

psycopg's `conninfo_to_dict` (libpq's own parser) tells which password a valid string
really holds; the scanner above covers the rest. No library masks free text: dbmate's
`redactLogString` and alembic's `obfuscate_url_pw` parse one URL, as `mask_url` does.
Everything is linear in the text's length: possessive regexes that start where a run of
text starts, then str.find/rfind (a hostile 1 MiB line: benchmarks/bench_redact.py).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from workspace.urls import userinfo_problem

__all__ = ["MASK", "MIN_LENGTH", "excepthook", "install_excepthooks", "mask_url",
           "on_weak_password", "redact", "redact_bytes", "redact_json", "register",
           "register_url", "weakness"]

MASK = "********"
MIN_LENGTH = 8  # a password shorter than this is weak

_anywhere: set[str] = set()  # strong secrets: masked wherever they appear
_in_context: set[str] = set()  # weak ones: masked only where they stand as a password
_warned: set[str] = set()
_warn: Callable[[str], object] | None = None

# A run of non-blank text that holds an '@', matched possessively from the run's start.
_AT_RUN = re.compile(r"(?<!\S)[^\s@]*+@\S*+")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_QUOTED = r"'(?:[^'\\\n]|\\.)*+'?|\"(?:[^\"\\\n]|\\.)*+\"?"  # to its closing quote or the line end
# key=value (or "key": value) where the key names a secret; an unquoted value runs to the
# next blank, as libpq reads it (backslash escapes included).
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>(?<![?&])(?:password|passwd|passphrase|secret|token|api[_-]?key)"
    r"(?:[ \t]*+=|[\"'][ \t]*+[:=])[ \t]*+)"
    rf"(?P<value>{_QUOTED}|(?:\\.|[^\s'\"\\])++)")
_KEYWORDS = ("passw", "secret", "token", "api_key", "api-key", "apikey")
# A URL's query parameter: up to the next '&'.
_QUERY = re.compile(r"(?i)(?<=[?&])(?P<key>password=)(?P<value>[^&#\s'\"]++)")
_AUTHORIZATION = re.compile(
    r"(?i)(?P<key>authorization[\"']?[ \t]*+[:=][ \t]*+"
    r"(?:(?:bearer|basic|token|digest|negotiate)[ \t]++)?)(?P<value>[^\s'\",]++)")


# -- what is weak ---------------------------------------------------------------------

def weakness(password: str, *, user: str | None = None, database: str | None = None) -> str | None:
    """Why `password` is weak, or None. Weak: shorter than MIN_LENGTH, the same as the
    user or database name (any case), letters only (a word) or digits only. A weak
    password is masked only where it stands as a password: anywhere else it may be an
    ordinary word of the output."""
    if len(password) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    folded = password.casefold()
    if user and folded == user.casefold():
        return "the same as the user name"
    if database and folded == database.casefold():
        return "the same as the database name"
    if password.isalpha():
        return "letters only"
    if password.isdigit():
        return "digits only"
    return None


def on_weak_password(warn: Callable[[str], object] | None) -> None:
    """Where the one warning per weak database password goes (the CLI's console);
    without one, the `workspace` logger."""
    global _warn
    _warn = warn


# -- registering ----------------------------------------------------------------------

def register(secret: str | None, *, user: str | None = None,
             database: str | None = None) -> str | None:
    """Remember a secret so that `redact()` masks it from now on; returns why it is weak
    (then it is masked only where it stands as a password), or None."""
    if not secret or secret.strip("*") == "":
        return None
    reason = weakness(secret, user=user, database=database)
    if reason is None:
        _anywhere.add(secret)
    else:  # also when registered before without its URL (it may be the user's name)
        _anywhere.discard(secret)
        _in_context.add(secret)
    return reason


def register_url(url: str) -> None:
    """Register every password `url` may hold (a URL or a key/value string, valid or not:
    what libpq reads, what the user meant, raw and percent-decoded); warn once about a
    weak one."""
    user, database, passwords = _credentials(url)
    for password in passwords:
        reason = register(password, user=user, database=database)
        decoded = unquote(password)
        if decoded != password:
            reason = register(decoded, user=user, database=database) or reason
        if reason and password not in _warned:
            _warned.add(password)
            _warn_weak(f"the database password in {redact(url)} is weak ({reason}): it is "
                       "masked only where it stands as a password, not elsewhere in the "
                       f"output. Use {MIN_LENGTH}+ characters, not only letters or digits, "
                       "and not the user or database name.")


def _warn_weak(text: str) -> None:
    if _warn is not None:
        _warn(text)
    else:
        logging.getLogger("workspace").warning("%s", text)


def _credentials(url: str) -> tuple[str | None, str | None, set[str]]:
    """(user, database, passwords) of a connection string, as libpq reads it and as the
    user meant it (userinfo up to the last '@', key/value pairs)."""
    passwords: set[str] = set()
    user = database = None
    try:
        from psycopg.conninfo import conninfo_to_dict

        if userinfo_problem(url):  # libpq would misread it: what the user meant is below
            raise ValueError(url)
        parsed = conninfo_to_dict(url)
        user, database = _text(parsed.get("user")), _text(parsed.get("dbname"))
        if parsed.get("password"):
            passwords.add(str(parsed["password"]))
        understood = True
    except Exception:  # noqa: BLE001 - not valid for libpq: the scans below still apply
        understood = False
    text = url.strip()
    at = text.rfind("@")
    if at >= 0 and ("://" in text or not understood):  # a URL, or what may have been one
        start = _authority_start(text, at)
        colon = text.find(":", start, at)
        if colon >= 0:
            user = user or text[start:colon]
            if colon + 1 < at:
                passwords.add(text[colon + 1:at])
        slash = text.find("/", at)
        if database is None and slash >= 0:
            database = unquote(text[slash + 1:].split("?")[0]) or None
    for m in _KEY_VALUE.finditer(text):
        if m.group("key").lower().startswith(("password", "passwd", "passphrase")):
            passwords.add(_unquote_value(m.group("value")))
    for m in _QUERY.finditer(text):
        passwords.add(unquote(m.group("value")))
    passwords.discard("")
    return user, database, passwords


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _unquote_value(value: str) -> str:
    """libpq's reading of a key/value value: quotes dropped, backslash escapes resolved."""
    if value[:1] in ("'", '"'):
        quote = value[0]
        value = value[1:-1] if len(value) > 1 and value.endswith(quote) else value[1:]
    return re.sub(r"\\(.)", r"\1", value)


# -- masking --------------------------------------------------------------------------

def redact(text: str) -> str:
    """`text` with every password, token and registered secret masked."""
    if "@" in text:
        text = _AT_RUN.sub(_mask_run, text)
    lowered = text.lower()
    if any(word in lowered for word in _KEYWORDS):
        text = _KEY_VALUE.sub(_mask_value, text)
        if "password=" in lowered:
            text = _QUERY.sub(_mask_value, text)
    if "authorization" in lowered:
        text = _AUTHORIZATION.sub(_mask_value, text)
    for secret in _in_context:
        if secret in text:
            text = text.replace(f":{secret}@", f":{MASK}@")
    for secret in sorted(_anywhere, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    """`redact` for raw output (an app's log file): bytes that are not UTF-8 are kept."""
    return redact(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def redact_json(value: Any) -> Any:
    """A JSON-able value with every string in it redacted (what `json.dumps` would turn
    into a string is turned into one first), so the document stays valid JSON."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def mask_url(url: str) -> str:
    """`postgresql://app:s3cret@db:5432/x` -> `postgresql://app:********@db:5432/x`."""
    register_url(url)
    return redact(url)


def excepthook(kind: type[BaseException], exc: BaseException,
               tb: TracebackType | None) -> None:
    """sys.excepthook: the traceback of an exception nobody caught, masked."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit:
        sys.stderr.write(f"Exception in thread {args.thread.name if args.thread else '?'}:\n")
        excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def install_excepthooks() -> None:
    """Mask the tracebacks Python prints itself (`--debug` re-raises; a thread that dies)."""
    sys.excepthook = excepthook
    threading.excepthook = _thread_excepthook


def _mask_run(match: re.Match[str]) -> str:
    """A run of text holding an '@': its password, from the first ':' of the userinfo to
    the run's last '@', masked."""
    run = match.group()
    at = run.rfind("@")
    colon = run.find(":", _authority_start(run, at), at)
    if colon < 0 or colon + 1 == at or run[colon + 1:at] == MASK:
        return run
    return run[:colon + 1] + MASK + run[at:]


def _authority_start(run: str, at: int) -> int:
    """Where the user name starts: after `scheme://` (or `scheme//`, `//`), else at the
    run's start. A `//` after `word:` is inside a password, not after a scheme."""
    slashes = run.find("//", 0, at)
    if slashes < 0:
        return 0
    begin = slashes - 1 if slashes > 0 and run[slashes - 1] == ":" else slashes
    scheme = begin
    while scheme > 0 and run[scheme - 1] in _SCHEME_CHARS:
        scheme -= 1
    if scheme > 0 and run[scheme - 1] in ":@":
        return 0
    return slashes + 2


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.strip("'\"").startswith(MASK):
        return match.group()
    quote = value[0] if value[:1] in ("'", '"') and len(value) > 1 and value.endswith(value[0]) else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"
