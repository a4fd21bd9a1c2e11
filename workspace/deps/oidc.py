"""OIDC readiness probe (Zitadel, or any OpenID Connect server), over httpx.

The server is ready when, in this order:
  1. `GET /debug/ready` answers 200 (Zitadel only: pass `debug_ready=False` for others);
  2. `GET /.well-known/openid-configuration` answers 200 with JSON whose `issuer` equals
     the configured one (OpenID Connect Discovery 1.0, section 4.3: identical, compared
     here ignoring one trailing slash). A mismatch is not retried: `OidcIssuerMismatch`
     is raised at once, naming both issuers;
  3. `GET <jwks_uri>` answers 200 with a JSON Web Key Set holding at least one key.
A 404 saying "instance not found" (Zitadel reached at a host it was not set up for) is
not retried either: `ZitadelInstanceNotFound` at once (`zitadel_instance_missing`).

    with http_client() as client:
        probe = oidc_probe("http://localhost:8080", client=client)
        probe()   # None when ready, else e.g. "GET /debug/ready: HTTP 503"

httpx errors become reasons here and nowhere else; unit tests pass an
`httpx.Client(transport=httpx.MockTransport(...))`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from workspace.errors import OidcIssuerMismatch, ZitadelInstanceNotFound
from workspace.output import redact

__all__ = ["DISCOVERY_PATH", "READY_PATH", "http_client", "oidc_probe", "zitadel_instance_missing"]

DISCOVERY_PATH = "/.well-known/openid-configuration"
READY_PATH = "/debug/ready"  # Zitadel's readiness endpoint (what `zitadel ready` calls)


def http_client(*, timeout_s: float = 3.0, connect_timeout_s: float = 2.0) -> httpx.Client:
    """A client with bounded timeouts, so one probe can never outlast the wait by much."""
    return httpx.Client(timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
                        follow_redirects=False)


def oidc_probe(issuer: str, *, client: httpx.Client, debug_ready: bool = True,
               expected_issuer: str | None = None) -> Callable[[], str | None]:
    """A readiness probe for the OIDC server at `issuer` (the URL we reach it at);
    `expected_issuer` is the issuer its discovery document must name (default: `issuer`)."""
    base = issuer.rstrip("/")
    expected = expected_issuer or issuer

    def probe() -> str | None:
        if debug_ready:
            reply = _get_json(client, base + READY_PATH, json_body=False)
            if isinstance(reply, str):
                return reply
        discovery_url = base + DISCOVERY_PATH
        document = _get_json(client, discovery_url)
        if isinstance(document, str):
            return document
        if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
            return f"GET {DISCOVERY_PATH}: the discovery document has no issuer"
        announced = document["issuer"]
        if announced.rstrip("/") != expected.rstrip("/"):
            raise OidcIssuerMismatch(
                f"{discovery_url} announces issuer {announced!r}, "
                f"but the configured issuer is {expected!r}",
                remedy=f"Set oidc.issuer to {announced!r}, or make the server announce "
                       f"{expected!r} (Zitadel: ExternalDomain, ExternalPort, ExternalSecure).")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            return f"GET {DISCOVERY_PATH}: the discovery document has no jwks_uri"
        jwks = _get_json(client, jwks_uri)
        if isinstance(jwks, str):
            return jwks
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not keys:
            return f"GET {_path(jwks_uri)}: the JWKS has no keys yet"
        return None

    return probe


def _get_json(client: httpx.Client, url: str, *, json_body: bool = True) -> Any:
    """The decoded JSON body (or True when `json_body` is false) of a 200 answer, else
    the reason as a string: the one place httpx's errors are translated."""
    where = f"GET {_path(url)}"
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except httpx.TimeoutException:
        return f"{where}: timed out"
    except httpx.ConnectError as exc:
        return f"{where}: {_connect_reason(exc)}"
    except httpx.HTTPError as exc:
        return redact.redact(f"{where}: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        missing = zitadel_instance_missing(url, response.status_code, response.text)
        if missing is not None:
            raise missing
        return f"{where}: HTTP {response.status_code}"
    if not json_body:
        return True
    try:
        return response.json()
    except ValueError:
        return f"{where}: the answer is not JSON"


_INSTANCE_MISSING = ("instance not found", "errors.instance.notfound", "errors.iam.notfound")
_EXTERNAL_DOMAIN = re.compile(r"ExternalDomain is ([^\s)]+)")


def zitadel_instance_missing(url: str, status: int, text: str) -> ZitadelInstanceNotFound | None:
    """The error for Zitadel's 404 "instance not found" (plain text from its HTTP layer,
    JSON from its API gateway): the host of `url` is not the external domain and port the
    instance was set up with. None for any other answer."""
    low = text[:4000].lower()
    if status != 404 or not any(marker in low for marker in _INSTANCE_MISSING):
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    said = " ".join(redact.redact(text[:600]).split())
    expected = _EXTERNAL_DOMAIN.search(text[:4000])
    domain = f" (its external domain is {expected.group(1)})" if expected else ""
    return ZitadelInstanceNotFound(
        f"Zitadel at {origin} has no instance for the host {parts.netloc}{domain}: "
        f"HTTP 404: {said}",
        remedy=f"Zitadel finds its instance by the host of the request: {parts.netloc} must "
               "be the external domain and port it was set up with (ZITADEL_EXTERNALDOMAIN "
               "and ZITADEL_EXTERNALPORT in docker/docker-compose.yml; the port comes from "
               "docker.zitadel_port), or the issuer (oidc.issuer) must use them. An instance "
               "keeps the domain of its first boot: after changing them, add the domain in "
               "Zitadel's console, or start over with `docker compose -p <docker.project_name> "
               "down -v` (this also removes the Docker database volume).")


def _connect_reason(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return redact.redact(text) or "cannot connect"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or "/"
