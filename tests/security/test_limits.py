"""Resource exhaustion: huge allocations, deep graphs and huge messages are refused by limits,
each with a clear error, quickly, and the server keeps answering.

Stopped by unseen/ops/_limits.py (Limits.max_elements: size guards before an allocation;
Limits.max_work: work estimates before an expensive operation; Limits.max_graph_bytes: the
bytes one graph holds; Limits.max_seconds: a graph's deadline, checked between actions;
Limits.max_actions: graph length), unseen/server/_body.py (max_message_bytes: 413) and the
WebSocket frame limit (ServerSettings.ws_frame_max). NOT limited (docs/security.md): the
bytes one user stores.
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
from security_support import EVE, Attacks, World, assert_clean, login_token

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


@pytest.mark.slow
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


def test_huge_matmuls_are_refused_before_they_run(world: World, attacks: Attacks) -> None:
    one = world.eve.send(np.ones((1, 1)))
    # 20000 x 20000 @ 20000 x 20000: its operands alone are over the element limit
    a = ops.Action(nid(), "function", "numpy.broadcast_to", (ops.Ref(one.id), (20_000, 20_000)))
    p = ops.Action(nid(), "function", "numpy.matmul", (ops.Ref(a.id), ops.Ref(a.id)))
    quick(attacks, lambda: world.eve.call("graph.run", {"actions": [a, p], "keep": [p.id]}),
          unseen.OperationNotAllowed, "limit")  # fmt: skip
    # 16384 x 16384 (2^28 elements, allowed; a view, no memory): 4.4e12 multiply-adds
    a = ops.Action(nid(), "function", "numpy.broadcast_to", (ops.Ref(one.id), (16_384, 16_384)))
    p = ops.Action(nid(), "function", "numpy.matmul", (ops.Ref(a.id), ops.Ref(a.id)))
    exc = attacks.refuse(world.eve.call, "graph.run", {"actions": [a, p], "keep": [p.id]},
                         expect=unseen.OperationNotAllowed)  # fmt: skip
    assert "numpy.matmul would do about 4.4e+12 elementary operations" in str(exc)
    assert "limit of 1e+11" in str(exc) and "split the computation" in str(exc)
    assert world.eve.call("user.me")["email"] == EVE[0]


def test_a_graph_keeping_many_large_results_is_refused(world: World, attacks: Attacks) -> None:
    # five kept arrays of 2^27 float64 (1 GiB each; zeros are not touched, so cost nothing)
    actions = [ops.Action(nid(), "function", "numpy.zeros", (2**27,)) for _ in range(5)]
    start = time.perf_counter()
    exc = attacks.refuse(world.eve.call, "graph.run",
                         {"actions": actions, "keep": [a.id for a in actions]},
                         expect=unseen.OperationNotAllowed)  # fmt: skip
    assert "numpy.zeros would bring the results this graph holds to about 5,120 MiB" in str(exc)
    assert "limit of 4,096 MiB per graph" in str(exc)
    assert time.perf_counter() - start < 10
    assert world.eve.call("user.me")["email"] == EVE[0]


def test_budget_refusals_on_private_data_do_not_reveal_values(
    world: World, attacks: Attacks
) -> None:
    """A work refusal whose estimate depends on a private value (rows = first * scale) looks
    like success to the caller, the same for every scale; only the owner sees the failure."""
    src = world.asset_ids["ndarray"]
    replies = []
    for scale in (1e-6, 1e-2):  # ~7 rows (runs), ~70,000 rows (2.8e11 multiply-adds: refused)
        first = ops.Action(nid(), "method", "__getitem__", (ops.Ref(src), (0, 0)))
        scaled = ops.Action(nid(), "method", "__mul__", (ops.Ref(first.id), scale))
        rows = ops.Action(nid(), "method", "astype", (ops.Ref(scaled.id), "int64"))
        zeros = ops.Action(nid(), "function", "numpy.zeros", ((ops.Ref(rows.id), 2000),))
        tr = ops.Action(nid(), "function", "numpy.transpose", (ops.Ref(zeros.id),))
        prod = ops.Action(nid(), "function", "numpy.matmul", (ops.Ref(tr.id), ops.Ref(zeros.id)))
        graph = [first, scaled, rows, zeros, tr, prod]
        roles = {a.id: f"a{i}" for i, a in enumerate(graph)}
        try:
            reply = world.eve.call("graph.run", {"actions": graph, "keep": [prod.id], "get": []})
        except unseen.UnseenError as exc:
            reply = exc
        attacks.tried()
        assert_clean(reply)
        assert "elementary" not in repr(reply)
        text = repr(reply)
        for real, role in roles.items():
            text = text.replace(real, role)
        replies.append(text)
        info = world.eve.call("object.info", {"id": prod.id})
        assert info["meta"] == {} and "elementary" not in repr(info)
        try:
            seen_by_owner = repr(world.owner.call("object.get", {"id": prod.id}))
        except unseen.UnseenError as exc:
            seen_by_owner = str(exc)
        assert ("numpy.matmul would do about" in seen_by_owner) == (scale > 1e-3), seen_by_owner
    assert len(set(replies)) == 1, replies


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
