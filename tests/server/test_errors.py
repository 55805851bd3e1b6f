"""Bad input gets a clear 4xx or error reply, and the server keeps serving everyone else."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from server_support import ServerProcess, free_port

import unseen
from unseen.messages import Message, decode_reply, encode_message

LIMIT_GIB = 0.002  # about 2 MiB, so that oversized bodies are cheap to send


@pytest.fixture(scope="module")
def small_server(
    backend: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("errors") / "data",
        backend,
        "May Clinic",
        "--max-message-gib",
        str(LIMIT_GIB),
    )
    proc.start()
    yield proc
    proc.kill()


@pytest.fixture(scope="module")
def http(small_server: ServerProcess) -> Iterator[httpx.Client]:
    owner = small_server.login()
    token = owner._conn.http.session.token()  # type: ignore[attr-defined]
    owner.close()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    with httpx.Client(base_url=small_server.url, headers=headers) as client:
        yield client


def still_serving(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/api/v1/health").json()["status"] == "ok"
    client = server.login(transport="http")
    assert client.call("node.info")["name"] == "May Clinic"
    client.close()


@pytest.mark.parametrize("body", [b"", b"garbage", b"UNS\x01" + os.urandom(64), bytes(100)])
def test_undecodable_bodies_get_a_decode_error(
    small_server: ServerProcess, http: httpx.Client, body: bytes
) -> None:
    response = http.post("/api/v1/message", content=body)
    assert response.status_code == 400
    reply = decode_reply(response.content)
    assert not reply.ok and reply.error is not None and reply.error["kind"] == "DecodeError"
    with pytest.raises(unseen.DecodeError):
        reply.unwrap()
    still_serving(small_server)


def test_unknown_kind_is_an_error_reply(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/message", content=bytes(encode_message(Message("no.such.kind", {})))
    )
    assert response.status_code == 200
    with pytest.raises(unseen.UsageError, match="does not know the message kind 'no.such.kind'"):
        decode_reply(response.content).unwrap()


def test_bad_fields_are_error_replies(small_server: ServerProcess) -> None:
    client = small_server.login()
    with pytest.raises(unseen.UsageError, match="'query'"):
        client.call("search", {"query": 42})
    with pytest.raises(unseen.NotFound):
        client.call("object.get", {"id": "0" * 32})
    client.close()


def test_oversized_bodies_are_refused(small_server: ServerProcess, http: httpx.Client) -> None:
    big = bytes(3 << 20)
    response = http.post("/api/v1/message", content=big)
    assert response.status_code == 413 and "at most" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(3):
            yield bytes(1 << 20)

    response = http.post("/api/v1/message", content=chunks())
    assert response.status_code == 413
    client = small_server.login()
    with pytest.raises(unseen.UsageError, match="accepts at most"):
        client.send(np.zeros(1_000_000))  # refused by the client before sending
    client.close()
    still_serving(small_server)


def test_large_websocket_replies_come_by_ticket(small_server: ServerProcess) -> None:
    client = small_server.login(transport="websocket")
    fetched: list[str] = []
    fetch = client._conn.http.fetch  # type: ignore[attr-defined]
    client._conn.http.fetch = lambda path, kind: fetched.append(path) or fetch(path, kind)  # type: ignore[attr-defined]
    ptr = client.send(np.arange(100_000.0))  # 800 KB: fits a frame and the limit
    doubled = ptr * 2
    big = unseen.np.concatenate([doubled] * 30)  # 24 MB result, made on the node
    np.testing.assert_array_equal(big.get()[:100_000], np.arange(100_000.0) * 2)
    assert len(fetched) == 1 and fetched[0].startswith("/reply/")
    client.close()


def test_unreachable_node_fails_fast() -> None:
    start = time.monotonic()
    with pytest.raises(unseen.TransportError, match="is the node running"):
        unseen.login(
            url=f"http://127.0.0.1:{free_port()}",
            email="a@b.c",
            password="whatever-1",
            verbose=False,
        )
    assert time.monotonic() - start < 5


def test_login_endpoint_errors(small_server: ServerProcess) -> None:
    response = httpx.post(
        f"{small_server.url}/api/v1/login", json={"email": "nobody@x.org", "password": "x"}
    )
    assert response.status_code == 401 and response.json()["detail"] == "wrong email or password"
    response = httpx.post(f"{small_server.url}/api/v1/login", json={"email": 1})
    assert response.status_code == 422
    info = httpx.get(f"{small_server.url}/api/v1/info").json()
    assert info["name"] == "May Clinic" and len(info["public_key"]) == 64
