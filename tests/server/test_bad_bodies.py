"""Every endpoint of a domain and of a network answers any bad body with a plain 4xx.

Each route of both apps (read from ``app.routes``, so a new endpoint is covered at once)
gets bodies of many content types, anonymously and with a valid token, on real servers on
loopback. Nothing may answer 5xx, every POST answers 4xx, and no answer echoes the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import WebSocketRoute

import unseen
import unseen.network  # noqa: F401  (makes launch_network available)
from unseen.server import ServerSettings

OWNER = ("owner@clinic.org", "owner-pw-123")
JSON_LIMIT = 256 * 1024  # a small JSON limit, so that the huge bodies are cheap to send
MARK = b"ZQXECHO"  # in every body: an answer must never contain it
TAKES_NO_BODY = {"/api/v1/logout"}  # an empty body is right there (and would log out)

BODIES: list[tuple[str, str, bytes]] = [
    ("pickle", "application/octet-stream", b"\x80\x04\x95" + MARK + b"\x94\xff\x00." * 4),
    ("text", "text/plain", b"hello " + MARK),
    ("form", "application/x-www-form-urlencoded", b"email=" + MARK + b"&password=x"),
    ("multipart", "multipart/form-data; boundary=b", b"--b\r\n" + MARK + b"\r\n--b--\r\n"),
    ("invalid json", "application/json", b'{"email": "' + MARK + b'", '),
    ("json list", "application/json", b'["' + MARK + b'", 1, 2]'),
    ("json string", "application/json", b'"' + MARK + b'"'),
    ("json wrong types", "application/json", b'{"email": ["' + MARK + b'"], "password": {}}'),
    ("json nested", "application/json", b"[" * 5000 + MARK + b"]" * 5000),
    ("invalid utf-8", "application/json", b'{"email": "\xff\xfe' + MARK + b'\xc3"}'),
    ("utf-8 as text", "text/plain; charset=utf-8", b"\xff\xfe" + MARK),
    ("no type", "", MARK + b"\x00\x01"),
    ("empty json", "application/json", b""),
    ("empty binary", "application/octet-stream", b""),
    ("huge json", "application/json", b'{"email": "' + MARK + b"x" * (2 * JSON_LIMIT) + b'"}'),
]


def _start(tmp: Path) -> tuple[Any, Any]:
    settings = ServerSettings(max_json_bytes=JSON_LIMIT)
    domain = unseen.launch_domain(
        name="May Clinic",
        data_dir=tmp / "domain",
        owner_email=OWNER[0],
        owner_password=OWNER[1],
        settings=settings,
    )
    network = unseen.launch_network(
        name="Research Net",
        data_dir=tmp / "network",
        owner_email=OWNER[0],
        owner_password=OWNER[1],
        settings=settings,
    )
    return domain, network


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    domain, network = _start(tmp_path_factory.mktemp("bad-bodies"))
    yield [domain, network]
    network.stop()
    domain.stop()


def _token(url: str) -> str:
    reply = httpx.post(f"{url}/api/v1/login", json={"email": OWNER[0], "password": OWNER[1]})
    assert reply.status_code == 200
    return str(reply.json()["token"])


def _calls(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route; path parameters filled with a harmless value."""
    calls = []
    for route in app.routes:
        path = route.path.replace("{ticket}", "abc").replace("{ident}", "abc")
        if isinstance(route, WebSocketRoute):
            calls.append(("POST", path))  # an HTTP request to a WebSocket route: still 4xx
        elif isinstance(route, APIRoute) or hasattr(route, "methods"):
            calls += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return calls


def test_every_route_is_listed(servers: list[Any]) -> None:
    """The enumeration sees the endpoints it must (a guard on the test itself)."""
    domain_calls = _calls(servers[0]._server.config.app)
    network_calls = _calls(servers[1]._server.config.app)
    assert ("POST", "/api/v1/login") in domain_calls and ("POST", "/api/v1/login") in network_calls
    assert ("POST", "/network/v1/register") in network_calls
    assert len(network_calls) > len(domain_calls) >= 8


@pytest.mark.parametrize("which", ["domain", "network"])
@pytest.mark.parametrize("authorized", [False, True], ids=["anonymous", "token"])
def test_bad_bodies_get_a_plain_4xx(servers: list[Any], which: str, authorized: bool) -> None:
    running = servers[0] if which == "domain" else servers[1]
    headers = {"Authorization": f"Bearer {_token(running.url)}"} if authorized else {}
    failures = []
    with httpx.Client(base_url=running.url, timeout=30.0) as http:
        for method, path in _calls(running._server.config.app):
            for label, content_type, body in BODIES:
                if path in TAKES_NO_BODY and not body:
                    continue
                sent = {**headers, "Content-Type": content_type} if content_type else headers
                try:
                    response = http.request(method, path, content=body, headers=sent)
                except httpx.TransportError as exc:  # a crashed handler drops the connection
                    failures.append(f"{method} {path} with {label}: {exc!r}")
                    continue
                where = f"{method} {path} with {label}: {response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{where} {response.text[:200]}")
                elif method == "POST" and not 400 <= response.status_code < 500:
                    failures.append(f"{where} (a POST with a bad body must be refused)")
                if MARK in response.content:
                    failures.append(f"{where} echoes the input: {response.content[:200]!r}")
                if 400 <= response.status_code < 500 and "json" in response.headers.get(
                    "content-type", ""
                ):
                    detail = response.json().get("detail")
                    if not isinstance(detail, str) or not detail:
                        failures.append(f"{where}: the detail is not a plain message: {detail!r}")
    assert not failures, "\n".join(failures)
    assert httpx.get(f"{running.url}/api/v1/health").json()["status"] == "ok"


def test_login_explains_what_it_needs(servers: list[Any]) -> None:
    for running in servers:
        response = httpx.post(
            f"{running.url}/api/v1/login",
            content=b"\x80\x04\x95pickle",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"] and "email" in response.json()["detail"]
        response = httpx.post(f"{running.url}/api/v1/login", json={"email": 1})
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert "email" in detail and "password" in detail
        big = b'{"email": "' + b"x" * (2 * JSON_LIMIT) + b'"}'
        response = httpx.post(
            f"{running.url}/api/v1/login",
            content=big,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413 and "at most" in response.json()["detail"]


def test_bad_query_parameters_get_a_plain_422(servers: list[Any]) -> None:
    network = servers[1]
    response = httpx.get(f"{network.url}/network/v1/search", params={"limit": MARK.decode()})
    assert response.status_code == 422 and MARK not in response.content
    assert "limit" in response.json()["detail"]
