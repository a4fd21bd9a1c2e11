"""Keep passwords, tokens and PATs out of everything `workspace` prints or logs.

Every secret that enters the program (a password in a database URL, a token from the
environment) is registered once with `register()`; `redact()` then masks it wherever
it appears, and `mask_url()` renders a connection URL with its password hidden, as
dbmate's `redactLogString` and alembic's `obfuscate_url_pw` do.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["MASK", "mask_url", "redact", "redact_bytes", "register"]

MASK = "********"
_secrets: set[str] = set()
# user:password@ in any URL-looking text, in case an unregistered URL slips through.
# The scheme starts where no scheme character precedes it and is matched possessively,
# so a long line is scanned in linear time.
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*+://[^/\s:@]*+:)(?P<pw>[^@\s/]+)@")
# password=... in libpq keyword/value strings.
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I)


def register(secret: str | None) -> None:
    """Remember a secret so that `redact()` masks it from now on."""
    if secret and len(secret) >= 3:
        _secrets.add(secret)


def register_url(url: str) -> None:
    """Register the password of a connection URL (raw and percent-decoded)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        register(password)
        register(unquote(password))


def redact(text: str) -> str:
    """Return `text` with every registered secret and URL password masked."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
    if "password" in text.lower():
        text = _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    """`redact` for raw output (an app's log file): bytes that are not UTF-8 are kept."""
    return redact(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def mask_url(url: str) -> str:
    """`postgresql://app:s3cret@db:5432/x` -> `postgresql://app:********@db:5432/x`."""
    register_url(url)
    return redact(url)
