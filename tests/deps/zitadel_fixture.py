"""Zitadel's management API, faked: a real HTTP server (threaded http.server on a free
port) answering with the documented shapes in tests/deps/fixtures/zitadel/. Zitadel
itself cannot run here; this is what the bootstrap is tested against.

    with FakeZitadel(pat="pat-...") as zitadel:
        zitadel.url                  # http://127.0.0.1:<port>
        zitadel.projects, zitadel.apps, zitadel.seen   # state and the requests it got
        zitadel.answer_all = (404, "text/plain", text) # every request answered so

    DockerZitadel(config, project=FakeCompose(config, before=[], after=[zitadel_container()]))
                                     # a Zitadel container as compose leaves it, no engine

It keeps what is created (projects, OIDC apps), filters searches by `nameQuery` as
Zitadel does, refuses any other bearer token with the documented 401, and also serves
/debug/ready, the discovery document (issuer from the Host header) and a JWKS, so the
launcher's readiness probe passes against it.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from workspace.config.models import Config
from workspace.deps.compose import ContainerInfo

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zitadel"
_APPS = re.compile(r"^/management/v1/projects/([^/]+)/apps/(_search|oidc)$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: Any


class FakeZitadel:
    def __init__(self, *, pat: str) -> None:
        self.pat = pat
        self.projects: list[dict[str, Any]] = []
        self.apps: dict[str, list[dict[str, Any]]] = {}
        self.seen: list[Seen] = []
        self.answer_all: tuple[int, str, str] | None = None
        self._ids = itertools.count(294856700000000100)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeZitadel:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def api_calls(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.seen if s.path.startswith("/management/")]

    # -- answers --

    def answer(self, method: str, path: str, auth: str | None, body: Any,
               host: str) -> tuple[int, str, str]:
        self.seen.append(Seen(method, path, auth, body))
        if self.answer_all is not None:
            return self.answer_all
        if method == "GET":
            return self._public(path, host)
        if auth != f"Bearer {self.pat}":
            return _json(401, fixture("error_unauthenticated.json"))
        if path == "/management/v1/projects/_search":
            return _json(200, _listing(self.projects, body))
        if path == "/management/v1/projects":
            project = {**fixture("project.json"), "id": self._id(), "name": body["name"]}
            self.projects.append(project)
            return _json(200, {**fixture("add_project.json"), "id": project["id"]})
        match = _APPS.match(path)
        if match and match.group(1) not in {p["id"] for p in self.projects}:
            return _json(404, {"code": 5, "message": "Project not found (PROJECT-3M9sd)",
                               "details": []})
        if match and match.group(2) == "_search":
            return _json(200, _listing(self.apps.get(match.group(1), []), body))
        if match:
            app_id = self._id()
            project_name = next(p["name"] for p in self.projects if p["id"] == match.group(1))
            app = copy.deepcopy(fixture("oidc_app.json"))
            app.update(id=app_id, name=body["name"])
            app["oidcConfig"].update(clientId=f"{app_id}@{project_name}",
                                     redirectUris=body.get("redirectUris", []),
                                     postLogoutRedirectUris=body.get("postLogoutRedirectUris", []))
            self.apps.setdefault(match.group(1), []).append(app)
            return _json(200, {**fixture("add_oidc_app.json"), "appId": app_id,
                               "clientId": app["oidcConfig"]["clientId"]})
        return _json(404, {"code": 5, "message": "Not Found", "details": []})

    def _public(self, path: str, host: str) -> tuple[int, str, str]:
        base = f"http://{host}"
        if path == "/debug/ready":
            return 200, "text/plain", "ok"
        if path == "/.well-known/openid-configuration":
            return _json(200, {"issuer": base, "jwks_uri": f"{base}/oauth/v2/keys",
                               "authorization_endpoint": f"{base}/oauth/v2/authorize",
                               "token_endpoint": f"{base}/oauth/v2/token"})
        if path == "/oauth/v2/keys":
            return _json(200, {"keys": [{"use": "sig", "kty": "RSA", "kid": "294856700000000007",
                                         "alg": "RS256", "n": "sXch", "e": "AQAB"}]})
        return 404, "text/plain", "404 page not found"

    def _id(self) -> str:
        return str(next(self._ids))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                status, kind, text = fake.answer(method, self.path, self.headers.get("Authorization"),
                                                 body, self.headers.get("Host", ""))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def _json(status: int, body: Any) -> tuple[int, str, str]:
    return status, "application/json", json.dumps(body)


def _listing(items: list[dict[str, Any]], body: Any) -> dict[str, Any]:
    """A List* answer: `items` filtered by the request's nameQuery (EQUALS), as Zitadel does."""
    wanted = [q["nameQuery"] for q in (body or {}).get("queries", []) if "nameQuery" in q]
    found = [item for item in items
             if all(item.get("name") == q.get("name") for q in wanted)]
    answer = fixture("list_response.json")
    answer["details"]["totalResult"] = str(len(found))
    answer["result"] = found
    return dict(answer)


def zitadel_container(container_id: str = "a" * 64, created_at: float | None = None) -> ContainerInfo:
    return ContainerInfo(id=container_id, name="workspace-zitadel-1", service="zitadel",
                         project="workspace", image="ghcr.io/zitadel/zitadel:v2.71.6",
                         status="running", health="starting", exit_code=0, oom_killed=False,
                         health_output="", managed=True,
                         created_at=time.time() if created_at is None else created_at)


class FakeCompose:
    """The compose project as DockerZitadel sees it: its containers before and after `up`."""

    def __init__(self, config: Config, before: list[ContainerInfo],
                 after: list[ContainerInfo]) -> None:
        self.pat_file = config.path(config.oidc.pat_file)
        self.before, self.after, self.upped = before, after, False
        self.checked: list[list[str]] = []  # the services each check_ports was asked for

    def containers(self, service: str | None = None) -> list[ContainerInfo]:
        return list(self.after if self.upped else self.before)

    def check_ports(self, services: list[str]) -> None:
        self.checked.append(list(services))

    def env_values(self) -> dict[str, str]:
        return {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw from env"}

    def up(self, services: list[str]) -> None:
        self.upped = True
