"""Zitadel's first run: the project and the OIDC application the apps log in with,
created (or found again) through Zitadel's management API with the machine user's
personal access token (PAT), and their IDs written to `.workspace/zitadel/client.json`,
which config loading reads when `oidc.client_id` is not set (the user's setting wins).

    check_masterkey(config)      # before anything starts: ZITADEL_MASTERKEY is 32 characters
    if needs_bootstrap(config):  # no client ID of the user's own
        client = ensure_oidc_client(config, "http://localhost:8080")
        client.client_id, client.project_id, client.created   # created: ("project", "app")

The calls are ZITADEL's documented management API v1 (what the pinned v2.71 image
serves; the v2 project and application services came with v4, where v1 still answers):
  POST /management/v1/projects/_search             ListProjects
      {"query": {...}, "queries": [{"nameQuery": {"name", "method"}}]}
      -> {"details": {"totalResult"}, "result": [{"id", "name", "state", ...}]}
  POST /management/v1/projects                     AddProject {"name"} -> {"id", "details"}
  POST /management/v1/projects/{id}/apps/_search   ListApps (same query shape)
      -> {"result": [{"id", "name", "state", "oidcConfig": {"clientId", ...}}]}
  POST /management/v1/projects/{id}/apps/oidc      AddOIDCApp
      {"name", "redirectUris", "responseTypes", "grantTypes", "appType", ...}
      -> {"appId", "details", "clientId", ...}
Errors: a refused token (401/403) is `ZitadelTokenInvalid`, a 404 "instance not found"
`ZitadelInstanceNotFound`, anything else `ZitadelBootstrapFailed`. The PAT goes only into
the Authorization header and is registered with `redact`; Zitadel's answers are redacted
before they are shown. Every call is bounded (httpx timeouts).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from workspace.config.models import CLIENT_FILE, Config, read_client_file
from workspace.deps.oidc import zitadel_instance_missing
from workspace.deps.zitadel import read_pat
from workspace.errors import (
    ZitadelBootstrapFailed,
    ZitadelMasterkeyInvalid,
    ZitadelTokenInvalid,
    display_path,
)
from workspace.output import redact
from workspace.userfile import NotReadable, read_regular

__all__ = ["MASTERKEY_LENGTH", "OidcClient", "check_masterkey", "ensure_oidc_client",
           "needs_bootstrap", "oidc_app_request"]

MASTERKEY_LENGTH = 32  # Zitadel's AES-256 master key: exactly 32 bytes
SEARCH_LIMIT = 100
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
_MASTERKEY_LINE = re.compile(r"^\s*(?:export\s+)?ZITADEL_MASTERKEY\s*=")


@dataclass(frozen=True)
class OidcClient:
    """The OIDC application the apps use: OidcClient("2948...", "2948...@workspace", ...)."""

    project_id: str
    client_id: str
    app_id: str
    created: tuple[str, ...] = ()  # what this run created: "project", "app"

    def describe(self) -> str:
        made = f", created {' and '.join(self.created)}" if self.created else ""
        return f"client ID {self.client_id} (project {self.project_id}{made})"


# -- before the container starts --------------------------------------------------------

def check_masterkey(config: Config) -> None:
    """ZitadelMasterkeyInvalid unless ZITADEL_MASTERKEY (docker/.env, else the environment,
    as compose reads it) is exactly 32 characters: Zitadel refuses any other length at its
    first start, after minutes of waiting. Without the env file, compose's own check says so."""
    env_file = config.path(config.docker.env_file)
    try:
        text = read_regular(env_file, max_bytes=1 << 20).decode("utf-8", "replace")
    except NotReadable:
        return  # ComposeProject.env_values names the missing file, with the copy command
    from dotenv import dotenv_values

    values = dotenv_values(stream=io.StringIO(text))
    where = display_path(env_file)
    line = next((n for n, text_line in reversed(list(enumerate(text.splitlines(), 1)))
                 if _MASTERKEY_LINE.match(text_line)), None)
    if values.get("ZITADEL_MASTERKEY") is not None:
        key, source = values["ZITADEL_MASTERKEY"] or "", f"{where} line {line}" if line else where
    elif os.environ.get("ZITADEL_MASTERKEY") is not None:
        key, source = os.environ["ZITADEL_MASTERKEY"], "the environment variable"
    else:
        raise ZitadelMasterkeyInvalid(
            f"ZITADEL_MASTERKEY is not set in {where}",
            remedy=f"Add ZITADEL_MASTERKEY=<32 characters> to {where} (openssl rand -hex 16); "
                   "see docker/.env.example.")
    redact.register(key)
    size = len(key.encode("utf-8"))
    if size != MASTERKEY_LENGTH:
        length = f"{len(key)} characters" + (f" ({size} bytes)" if size != len(key) else "")
        raise ZitadelMasterkeyInvalid(
            f"{source}: ZITADEL_MASTERKEY is {length} long; Zitadel needs exactly "
            f"{MASTERKEY_LENGTH} (it would exit at its first start). Nothing was started.",
            remedy=f"Set ZITADEL_MASTERKEY in {where} to {MASTERKEY_LENGTH} ASCII characters "
                   "(openssl rand -hex 16). Once Zitadel has used a key, keep it: its data "
                   "is encrypted with it.")


# -- after Zitadel is ready ---------------------------------------------------------------

def needs_bootstrap(config: Config) -> bool:
    """No client ID of the user's own: none configured, or the one the last bootstrap
    recorded (after `docker compose down -v` it names an app that is gone)."""
    recorded = read_client_file(config.path(CLIENT_FILE)).get("client_id")
    return config.oidc.client_id is None or config.oidc.client_id == recorded


def oidc_app_request(config: Config, name: str) -> dict[str, Any]:
    """AddOIDCApp's body: a browser app with PKCE (no secret to keep), in dev mode (so
    http://localhost redirect URIs are accepted), redirecting to the configured apps."""
    ports = [app.port for app in config.apps.values() if app.port is not None]
    return {
        "name": name,
        "redirectUris": [f"http://localhost:{port}/auth/callback" for port in ports],
        "postLogoutRedirectUris": [f"http://localhost:{port}/" for port in ports],
        "responseTypes": ["OIDC_RESPONSE_TYPE_CODE"],
        "grantTypes": ["OIDC_GRANT_TYPE_AUTHORIZATION_CODE", "OIDC_GRANT_TYPE_REFRESH_TOKEN"],
        "appType": "OIDC_APP_TYPE_USER_AGENT",
        "authMethodType": "OIDC_AUTH_METHOD_TYPE_NONE",
        "version": "OIDC_VERSION_1_0",
        "devMode": True,
        "accessTokenType": "OIDC_TOKEN_TYPE_BEARER",
    }


def ensure_oidc_client(config: Config, base_url: str, *, client: httpx.Client | None = None,
                       container_created_at: float | None = None) -> OidcClient:
    """Find (by name) or create the project `docker.project_name` and its OIDC app
    `<project>-apps`, record them in CLIENT_FILE, and return them. A project ID the user
    configured is used as it is. `container_created_at` (epoch seconds) tells a refused
    token that predates the container apart."""
    pat_path = config.path(config.oidc.pat_file)
    if not os.path.lexists(pat_path):
        raise ZitadelTokenInvalid(
            f"Zitadel is ready, but no personal access token is at {display_path(pat_path)} "
            "(oidc.pat_file): Zitadel writes it only on the first boot of an empty database, "
            "so this one was set up earlier (its data outlived the file), or the file is "
            "written elsewhere (ZITADEL_FIRSTINSTANCE_PATPATH)")
    pat = read_pat(pat_path)
    stale = _older_than(pat_path, container_created_at)
    client_file = config.path(CLIENT_FILE)
    recorded = read_client_file(client_file)
    project_name = config.docker.project_name
    app_name = f"{project_name}-apps"
    owned = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    api = _Api(http, base_url, pat, pat_path, stale=stale)
    try:
        created: list[str] = []
        project_id = config.oidc.project_id
        if project_id is None or project_id == recorded.get("project_id"):
            project_id = api.find_project(project_name)  # a recorded ID may be gone (down -v)
            if project_id is None:
                project_id = _text(api.post("/management/v1/projects", {"name": project_name}),
                                   "id", "AddProject")
                created.append("project")
        app = api.find_app(project_id, app_name)
        if app is None:
            answer = api.post(f"/management/v1/projects/{project_id}/apps/oidc",
                              oidc_app_request(config, app_name))
            secret = answer.get("clientSecret")  # none for this app type; never shown
            redact.register(secret if isinstance(secret, str) else None)
            app_id = _text(answer, "appId", "AddOIDCApp")
            client_id = _text(answer, "clientId", "AddOIDCApp")
            created.append("app")
        else:
            app_id, client_id = app
    finally:
        if owned:
            http.close()
    result = OidcClient(project_id, client_id, app_id, tuple(created))
    _record(client_file, {"issuer": base_url, "project": project_name, "project_id": project_id,
                          "app": app_name, "app_id": app_id, "client_id": client_id}, recorded)
    return result


class _Api:
    """The management API with the PAT: the one place httpx's errors and Zitadel's error
    answers are translated."""

    def __init__(self, http: httpx.Client, base_url: str, pat: str, pat_path: Path, *,
                 stale: bool) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {pat}", "Accept": "application/json"}
        self.pat_path = pat_path
        self.stale = stale

    def find_project(self, name: str) -> str | None:
        found = self._search("/management/v1/projects/_search", name, "ListProjects")
        return _text(found[0], "id", "ListProjects") if found else None

    def find_app(self, project_id: str, name: str) -> tuple[str, str] | None:
        """(app ID, client ID) of the project's app called `name`, or None."""
        found = self._search(f"/management/v1/projects/{project_id}/apps/_search", name,
                             "ListApps")
        if not found:
            return None
        app = found[0]
        oidc = app.get("oidcConfig")
        if not isinstance(oidc, dict) or not isinstance(oidc.get("clientId"), str):
            raise ZitadelBootstrapFailed(
                f"Zitadel project {project_id} has an app called {name!r} that is not an OIDC "
                "app", remedy="Rename or remove that app in Zitadel's console, or set "
                              "oidc.client_id to the app the apps should use.")
        if app.get("state") not in (None, "APP_STATE_ACTIVE"):
            raise ZitadelBootstrapFailed(
                f"Zitadel's OIDC app {name!r} (client ID {oidc['clientId']}) is "
                f"{app.get('state')}", remedy="Reactivate it in Zitadel's console.")
        return _text(app, "id", "ListApps"), str(oidc["clientId"])

    def _search(self, path: str, name: str, call: str) -> list[dict[str, Any]]:
        body = {"query": {"offset": "0", "limit": SEARCH_LIMIT, "asc": True},
                "queries": [{"nameQuery": {"name": name, "method": "TEXT_QUERY_METHOD_EQUALS"}}]}
        result = self.post(path, body).get("result") or []
        if not isinstance(result, list):
            raise ZitadelBootstrapFailed(f"{call} answered a `result` that is not a list")
        return [item for item in result if isinstance(item, dict) and item.get("name") == name]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.base + path
        try:
            response = self.http.post(url, json=body, headers=self.headers)
        except httpx.TimeoutException as exc:
            raise ZitadelBootstrapFailed(
                f"POST {path}: Zitadel's management API did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise ZitadelBootstrapFailed(redact.redact(
                f"POST {path}: Zitadel's management API at {self.base}: "
                f"{type(exc).__name__}: {exc}")) from exc
        status = response.status_code
        missing = zitadel_instance_missing(url, status, response.text)
        if missing is not None:
            raise missing
        if status in (401, 403):
            why = (" It is older than the Zitadel container: an earlier Zitadel, whose data "
                   "is gone, issued it." if self.stale else "")
            raise ZitadelTokenInvalid(
                f"Zitadel refused the personal access token in {display_path(self.pat_path)} "
                f"(POST {path}: HTTP {status}: {_said(response)}): it expired, was revoked, "
                f"or lacks the rights to manage projects.{why}")
        if not 200 <= status < 300:
            raise ZitadelBootstrapFailed(f"POST {path}: HTTP {status}: {_said(response)}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ZitadelBootstrapFailed(f"POST {path}: HTTP {status}, but the answer is not "
                                         "a JSON object")
        return data


def _said(response: httpx.Response) -> str:
    """Zitadel's error message (JSON `message`, else the text), short and redacted."""
    try:
        data = response.json()
        message = data.get("message") if isinstance(data, dict) else None
    except ValueError:
        message = None
    text = message if isinstance(message, str) and message else response.text
    return " ".join(redact.redact(text[:600]).split()) or "(no message)"


def _text(data: dict[str, Any], key: str, call: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ZitadelBootstrapFailed(f"{call} answered without `{key}`")
    return value


def _older_than(path: Path, moment: float | None) -> bool:
    if moment is None:
        return False
    try:
        return os.stat(path).st_mtime < moment
    except OSError:
        return False


def _record(path: Path, record: dict[str, str], recorded: dict[str, str]) -> None:
    """Write the client file atomically (a per-process temporary name), when it changed."""
    if recorded == record and path.is_file():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ZitadelBootstrapFailed(
            f"the client ID {record['client_id']} could not be written to "
            f"{display_path(path)}: {exc.strerror or exc}",
            remedy=f"Make {display_path(path)} a writable file (remove what is there), or set "
                   f"oidc.client_id: {record['client_id']} in config.yaml.") from None
