"""Resource exhaustion: huge allocations, deep graphs and huge messages are refused by limits,
each with a clear error, quickly, and the server keeps answering.

Stopped by unseen/ops/_limits.py (Limits.max_elements: size guards before an allocation;
Limits.max_actions: graph length), unseen/server/_body.py (max_message_bytes: 413) and the
WebSocket frame limit (ServerSettings.ws_frame_max). NOT limited (docs/security.md): the time
an operation may run, and the total memory of one graph's kept results.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from security_support import EVE, Attacks, World, login_token

import unseen
from unseen import ops


def nid() -> str:
    return uuid.uuid4().hex


def quick(
    attacks: Attacks, fn: Callable[[], Any], expect: Any, match: str, secs: float = 5.0
) -> None:
    start = time.perf_counter()
    exc = attacks.refuse(fn, expect=expect)
    assert match in str(exc), exc
    assert time.perf_counter() - start < secs


def test_huge_allocations_are_refused(world: World, attacks: Attacks) -> None:
    np_, torch_ = unseen.np, unseen.torch
    own = world.eve.send(np.arange(4.0))
    big = 10**6
    for make in (
        lambda: np_.zeros((big, big)),
        lambda: np_.ones((big, big), dtype="float64"),
        lambda: np_.full((big, big), 1.0),
        lambda: np_.zeros(2**40, dtype="complex128"),
        lambda: np_.arange(10**13),
        lambda: np_.eye(big),
        lambda: np_.tile(own, big * big),
        lambda: np_.repeat(own, big * big),
        lambda: torch_.zeros(big, big),
        lambda: torch_.ones((big, big)),
        lambda: torch_.arange(0, 10**13),
        lambda: own.reshape((2, 2)).repeat(big * big),
    ):
        quick(attacks, lambda make=make: make().compute(), (unseen.OperationNotAllowed, unseen.UsageError),
              "")  # fmt: skip
    # raw, without the client's checks
    for name, args in (("numpy.zeros", ((big, big),)), ("numpy.ones", ((big, big),)),
                       ("torch.zeros", (big, big)), ("numpy.empty", ((big, big),))):  # fmt: skip
        action = ops.Action(nid(), "function", name, args)
        quick(attacks, lambda action=action: world.eve.call(
            "graph.run", {"actions": [action], "keep": [action.id], "get": []}),
            unseen.OperationNotAllowed, name.split(".")[-1])  # fmt: skip
    action = ops.Action(nid(), "function", "numpy.zeros", ((big, big),))
    exc = attacks.refuse(world.eve.call, "graph.run", {"actions": [action], "keep": [action.id]},
                         expect=unseen.OperationNotAllowed)  # fmt: skip
    assert "would allocate 1000000000000 elements" in str(exc) and "limit" in str(exc)
    assert world.eve.call("user.me")["email"] == EVE[0]


def test_a_graph_of_200k_actions_is_refused(world: World, attacks: Attacks) -> None:
    own = world.eve.send(np.arange(3.0))
    actions, prev = [], own.id
    for _ in range(200_000):
        action = ops.Action(nid(), "method", "__neg__", (ops.Ref(prev),))
        actions.append(action)
        prev = action.id
    start = time.perf_counter()
    exc = attacks.refuse(world.eve_http.call, "graph.run",
                         {"actions": actions, "keep": [prev], "get": []},
                         expect=unseen.OperationNotAllowed)  # fmt: skip
    assert "200000 actions is over this node's limit" in str(exc)
    assert time.perf_counter() - start < 60
    assert world.eve.call("user.me")["email"] == EVE[0]


@pytest.fixture(scope="module")
def small_node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from unseen.server import ServerSettings

    running = unseen.launch_domain(
        name="Small", port=0, data_dir=tmp_path_factory.mktemp("small") / "d",
        owner_email="o@small.org", owner_password="small-pw-123",
        settings=ServerSettings(max_message_bytes=1 << 20, ws_frame_max=1 << 20),
    )  # fmt: skip
    yield running
    running.stop()


def test_huge_messages_are_refused(small_node: Any, attacks: Attacks) -> None:
    url = small_node.url
    token = login_token(url, "o@small.org", "small-pw-123")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    attacks.tried()
    reply = httpx.post(f"{url}/api/v1/message", content=b"\0" * (2 << 20), headers=headers)
    assert reply.status_code == 413 and "limit" in reply.text.lower() or "large" in reply.text
    # a declared length far over the limit is refused before the body is read
    host, port = url.removeprefix("http://").split(":")
    attacks.tried()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST /api/v1/message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {1 << 40}\r\n\r\n").encode()
                  + b"\0" * 1000)  # fmt: skip
        assert b" 413 " in s.recv(4096).split(b"\r\n")[0]
    # without a token, a large body is refused before it is read
    attacks.tried()
    reply = httpx.post(f"{url}/api/v1/message", content=b"\0" * (2 << 20),
                       headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert reply.status_code in (401, 413)
    # a WebSocket frame over the limit closes the socket
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    attacks.tried()
    with connect(url.replace("http", "ws") + "/api/v1/ws", max_size=2**24) as ws:
        ws.send(token)
        ws.recv(timeout=5)
        with pytest.raises(ConnectionClosed):
            ws.send(b"\0" * (2 << 20))
            ws.recv(timeout=10)
    assert httpx.get(f"{url}/api/v1/health").status_code == 200
