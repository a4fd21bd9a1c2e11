"""Zitadel specifics: first-boot detection, and the OAuth app check through the
management API with the machine user's personal access token (PAT).

First boot. Zitadel initialising a fresh database takes one to three minutes, far more
than the guide's 6 x 5 s. The rule: it is a first boot when the PAT file does not exist
yet (Zitadel writes it at the end of its first-instance setup, so a fresh volume has
none), when the launcher has just created the Zitadel container (`docker compose down
-v` removes containers and volumes: the next start creates both), or when the PAT file
is older than the running container (stale: written by an earlier Zitadel).

    first = zitadel_first_boot(config.path(config.oidc.pat_file), container_created=created,
                               container_created_at=info.created_at)
    attempts, interval = readiness.zitadel_budget(config.readiness, first_boot=first)

OAuth app. As the guide says, a missing app is a warning only; a missing client ID in
the configuration is an error (`OAuthClientMissing`):

    warning = check_oauth_app(config, "http://localhost:8080")   # None when found

The call follows ZITADEL's documented ListApps ("Search Applications"):
https://zitadel.com/docs/reference/api/management/zitadel.management.v1.ManagementService.ListApps
`POST /management/v1/projects/{project_id}/apps/_search` with a `query` of
offset/limit/asc, answering `{"details": {"totalResult": ...}, "result": [{"id",
"state", "name", "oidcConfig": {"clientId", ...}} | {"apiConfig": ...}]}`; errors are
`{"code", "message", "details"}`. The PAT is sent as `Authorization: Bearer` and never
printed (it is registered with `redact`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx

from workspace.config.models import Config
from workspace.errors import OAuthClientMissing, ZitadelTokenInvalid, display_path
from workspace.output import redact
from workspace.userfile import NotReadable, read_regular

__all__ = ["PAGE_SIZE", "check_oauth_app", "list_apps_url", "read_pat", "zitadel_first_boot"]

PAGE_SIZE = 100
MAX_PAGES = 20  # 2000 apps: bounded, far more than a project holds
MAX_PAT_BYTES = 64 * 1024  # a PAT is about 70 characters
_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


def zitadel_first_boot(pat_file: Path, *, container_created: bool = False,
                       container_created_at: float | None = None) -> bool:
    """Whether to give Zitadel the first-boot budget (readiness.zitadel_first_boot_s)."""
    if container_created:
        return True
    try:
        info = os.stat(pat_file)  # a stat: a FIFO there cannot block
    except OSError:
        return True
    if not stat.S_ISREG(info.st_mode):
        return True
    return container_created_at is not None and info.st_mtime < container_created_at


def read_pat(path: Path) -> str:
    """The machine user's token, registered for redaction; ZitadelTokenInvalid when the
    file is missing, empty, not a regular file (a FIFO is never waited on) or not text."""
    where = display_path(path)
    try:
        raw = read_regular(path, max_bytes=MAX_PAT_BYTES)
    except NotReadable as exc:
        raise ZitadelTokenInvalid(f"the personal access token file {where} {exc.problem}") \
            from None
    try:
        pat = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ZitadelTokenInvalid(f"the personal access token file {where} is not text "
                                  "(not UTF-8)") from None
    if not pat:
        raise ZitadelTokenInvalid(f"the personal access token file {where} is empty")
    redact.register(pat)
    return pat


def list_apps_url(base_url: str, project_id: str) -> str:
    return f"{base_url.rstrip('/')}/management/v1/projects/{project_id}/apps/_search"


def check_oauth_app(config: Config, base_url: str, *,
                    client: httpx.Client | None = None) -> str | None:
    """None when an app of `oidc.project_id` has `oidcConfig.clientId == oidc.client_id`;
    else a warning saying why not (app missing, inactive, token refused, API down).
    Raises OAuthClientMissing when no client ID is configured."""
    oidc = config.oidc
    if not oidc.client_id:
        raise OAuthClientMissing("no OAuth client ID is configured (oidc.client_id)")
    if not oidc.project_id:
        return "OAuth app not checked: oidc.project_id is not set"
    pat_path = config.path(oidc.pat_file)
    try:
        pat = read_pat(pat_path)
    except ZitadelTokenInvalid as exc:
        return f"OAuth app not checked: {exc.message}"

    owned = client is None
    http = client or httpx.Client(timeout=_TIMEOUT, follow_redirects=False)
    try:
        apps = _list_apps(http, list_apps_url(base_url, oidc.project_id), pat, pat_path)
    finally:
        if owned:
            http.close()
    if isinstance(apps, str):
        return redact.redact(apps)
    for app in apps:
        if _client_id(app, "apiConfig") == oidc.client_id:
            return (f"client ID {oidc.client_id} belongs to API app {app.get('name', '?')!r}, "
                    "not to an OIDC app")
        if _client_id(app, "oidcConfig") == oidc.client_id:
            state = app.get("state")
            if state not in (None, "APP_STATE_ACTIVE"):
                return (f"OAuth app {app.get('name', app.get('id', '?'))!r} "
                        f"(client ID {oidc.client_id}) is {state}")
            return None
    names = ", ".join(str(app.get("name", app.get("id", "?"))) for app in apps) or "none"
    return (f"no OAuth app with client ID {oidc.client_id} in Zitadel project "
            f"{oidc.project_id} (apps: {names})")


def _list_apps(client: httpx.Client, url: str, pat: str,
               pat_path: Path) -> list[dict[str, Any]] | str:
    """All apps of the project, page by page; or a warning (the one place httpx errors
    and Zitadel's error answers are translated)."""
    apps: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {pat}", "Accept": "application/json"}
    for page in range(MAX_PAGES):
        body = {"query": {"offset": str(page * PAGE_SIZE), "limit": PAGE_SIZE, "asc": True}}
        try:
            response = client.post(url, json=body, headers=headers)
        except httpx.TimeoutException:
            return "OAuth app not checked: Zitadel's management API timed out"
        except httpx.HTTPError as exc:
            return f"OAuth app not checked: Zitadel's management API: {type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return _refused(response, pat_path)
        try:
            data = response.json()
        except ValueError:
            return "OAuth app not checked: Zitadel's management API did not answer JSON"
        result = data.get("result") if isinstance(data, dict) else None
        batch = [app for app in result or [] if isinstance(app, dict)]
        apps += batch
        total = _int((data.get("details") or {}).get("totalResult")) if isinstance(data, dict) else None
        if len(batch) < PAGE_SIZE or (total is not None and len(apps) >= total):
            break
    return apps


def _refused(response: httpx.Response, pat_path: Path) -> str:
    status = response.status_code
    try:
        message = response.json().get("message") or ""
    except (ValueError, AttributeError):
        message = ""
    said = f": {message}" if message else ""
    if status in (401, 403):
        return (f"OAuth app not checked: Zitadel refused the personal access token from "
                f"{display_path(pat_path)} (HTTP {status}{said})")
    if status == 404:
        return f"OAuth app not checked: Zitadel project not found (HTTP 404{said})"
    return f"OAuth app not checked: Zitadel's management API answered HTTP {status}{said}"


def _client_id(app: dict[str, Any], config_key: str) -> str | None:
    section = app.get(config_key)
    if isinstance(section, dict) and isinstance(section.get("clientId"), str):
        return str(section["clientId"])
    return None


def _int(value: Any) -> int | None:
    # uint64 fields are strings in protobuf's JSON mapping ("totalResult": "3")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
