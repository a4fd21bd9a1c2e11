"""Database and HTTP URLs checked for form when the configuration loads.

A malformed URL (an unclosed `[` of an IPv6 address, a port of 0 or 99999, a host label
longer than 63 characters, an unknown sslmode) is the user's configuration mistake
(`PRECHECK_CONFIG_INVALID`, naming where the URL came from), not an unreachable
database: libpq and psycopg would only find out when connecting, some of them as an
exception outside psycopg's own tree. A well-formed URL nobody answers at stays
`PRECHECK_DATABASE_UNREACHABLE`. HTTP URLs (oidc.issuer, the apps' readiness probes) the
same: httpx raises InvalidURL or UnicodeError, outside its HTTPError tree, when asked
to fetch a malformed one.

    database_url_problem("postgresql://app@db:99999/x")
    # -> 'port "99999" is not a number from 1 to 65535'

Messages never repeat the URL (it may hold a password).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["database_url_problem", "host_problem", "http_url_problem", "userinfo_problem"]

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_QUOTED = re.compile(r'"([^"]*)"')
# libpq messages whose quoted part is a name the user typed, not a piece of the URL
_NAMES_QUOTED = ("invalid connection option", "invalid URI query parameter")
_URL_START = re.compile(r"\s*+[A-Za-z][A-Za-z0-9+.-]*+://")


def database_url_problem(url: str) -> str | None:
    """What is malformed in `url`, or None when libpq can parse it as the user meant it
    (`userinfo_problem`) and its hosts, ports and sslmode are well-formed."""
    import psycopg  # imported only when a URL is configured
    from psycopg.conninfo import conninfo_to_dict

    misread = userinfo_problem(url)
    if misread:  # checked before libpq parses it: its errors would echo bits of the password
        return misread
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid UTF-8 (byte 0x{ord(url[exc.start]) & 0xFF:02x} at position {exc.start})"
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        return (f"not a valid connection URL: {_safe(str(exc), url)} (expected "
                "postgresql://user@host:port/database)")
    hosts = str(params.get("host", "")).split(",")
    ports = str(params.get("port", "")).split(",")
    if len(ports) not in (1, len(hosts)):
        return f"{len(ports)} ports for {len(hosts)} hosts"
    for port in ports:
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            return f'port "{port}" is not a number from 1 to 65535'
    for host in hosts:
        reason = host_problem(host)
        if reason:
            return f'host "{host}": {reason}'
    sslmode = params.get("sslmode")
    if sslmode is not None and sslmode not in SSLMODES:
        return f'sslmode "{sslmode}" is not one of {", ".join(SSLMODES)}'
    return None


def userinfo_problem(url: str) -> str | None:
    """Why libpq would read another user, password or host than the user typed: an
    unencoded '/' or '@' before the last '@' of the URL's authority (libpq ends the user
    information at the first '@' or '/'). None when there is no such problem."""
    start = _URL_START.match(url)
    if start is None:
        return None
    rest = url[start.end():]
    ends = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    head = rest[:min(ends)] if ends else rest
    at = head.rfind("@")
    firsts = [i for i in (head.find("@"), head.find("/")) if i >= 0]
    if at < 0 or min(firsts) >= at:
        return None
    char = head[min(firsts)]
    return (f"the user name or password holds an unencoded {char!r} (write it as "
            f"{'%40' if char == '@' else '%2F'}, or use the key/value form with the password "
            "in single quotes): PostgreSQL would read another host, user or password")


def http_url_problem(url: str) -> str | None:
    """What is malformed in an http(s) URL, or None."""
    import httpx  # imported only when an HTTP URL is configured

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "not an http:// or https:// URL with a host"
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return f"port {parsed.port} is not a number from 1 to 65535"
    reason = host_problem(parsed.host)
    return f'host "{parsed.host}": {reason}' if reason else None


def host_problem(host: str) -> str | None:
    """What keeps `host` from being looked up (None for an IP address, a socket directory
    or a well-formed name, ASCII or not)."""
    if not host or host.startswith(("/", "@")):  # default, a socket directory, abstract socket
        return None
    if any(c.isspace() or not c.isprintable() for c in host):
        return "not a valid host name (it holds a space or a control character)"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        # the codec socket.getaddrinfo (and so psycopg's resolver) applies to a name
        host.encode("idna")
    except UnicodeError as exc:
        reason = str(exc).rsplit("(", 1)[-1].rstrip(")").removeprefix("UnicodeError: ")
        return f"not a valid host name ({reason}: each dot-separated label 1 to 63 characters)"
    return None


def _safe(message: str, url: str) -> str:
    """libpq's parse error without the URL or a token of it (they may hold the password);
    one-character quotes ("=", "]") and the names of unknown options stay."""
    first = message.strip().splitlines()[0] if message.strip() else "cannot parse"
    first = first.replace(url, "…") if url else first
    if first.startswith(_NAMES_QUOTED):
        return first
    masked = _QUOTED.sub(lambda m: m[0] if len(m[1]) == 1 and not m[1].isalnum() else '"…"',
                         first)
    return masked.removesuffix(': "…"').removesuffix(' in URI')
