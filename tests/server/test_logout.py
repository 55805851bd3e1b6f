"""Logging out revokes the token: refused at once, on every endpoint, and after a restart."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from server_support import OWNER_EMAIL, OWNER_PASSWORD, ServerProcess

import unseen
from unseen.messages import Message, decode_reply, encode_message
from unseen.server import ACCESS

NODE_INFO = bytes(encode_message(Message("node.info", {})))


def login_token(server: ServerProcess) -> str:
    reply = httpx.post(
        f"{server.url}/api/v1/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    )
    assert reply.status_code == 200
    return str(reply.json()["token"])


def ask(server: ServerProcess, token: str) -> int:
    """The status of one node.info message sent with ``token`` (200 and a good reply, or 401)."""
    response = httpx.post(
        f"{server.url}/api/v1/message",
        content=NODE_INFO,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
    )
    if response.status_code == 200:
        assert decode_reply(response.content).unwrap()["name"] == "May Clinic"
    return response.status_code


def logout(server: ServerProcess, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{server.url}/api/v1/logout", headers=headers)


def test_logout_is_declared_for_logged_in_callers() -> None:
    assert ACCESS["/api/v1/logout"] == "token"


def test_logout_revokes_that_token_only_and_survives_a_restart(server: ServerProcess) -> None:
    gone, kept = login_token(server), login_token(server)
    assert ask(server, gone) == 200 and ask(server, kept) == 200  # (now cached as checked)
    response = logout(server, gone)
    assert response.status_code == 200 and response.json() == {"logged_out": True}
    assert ask(server, gone) == 401  # at once, although it was checked a moment ago
    response = httpx.get(
        f"{server.url}/api/v1/reply/abc", headers={"Authorization": f"Bearer {gone}"}
    )
    assert response.status_code == 401 and "logged out" in response.json()["detail"]
    assert logout(server, gone).status_code == 401  # a revoked token cannot log out again
    assert ask(server, kept) == 200
    server.restart()
    assert ask(server, gone) == 401  # the revocation is stored, not only remembered
    assert ask(server, kept) == 200  # (tokens in general do survive a restart)


def test_logout_needs_a_valid_token(server: ServerProcess) -> None:
    assert logout(server, None).status_code == 401
    assert logout(server, "not.a-token").status_code == 401


@pytest.mark.parametrize("transport", ["http", "websocket", "auto"])
def test_client_logout(server: ServerProcess, transport: str) -> None:
    client = server.login(transport=transport)
    ptr = client.send(np.arange(3.0))
    conn = client._conn
    token = (conn if transport == "http" else conn.http).session.token()  # type: ignore[attr-defined]
    client.logout()
    assert ask(server, token) == 401
    with pytest.raises(unseen.UsageError, match="logged out"):
        client.call("node.info")
    with pytest.raises(unseen.UsageError, match="logged out"):
        ptr.get()
    client.logout()  # again: nothing to do
    other = server.login(transport=transport)  # the account itself still works
    assert other.call("node.info")["name"] == "May Clinic"
    other.close()
