"""Every message kind called by every role: only the roles a route declares get through.

Anonymous callers and forged tokens get HTTP 401 (or a closed WebSocket) for every kind;
authenticated roles outside a route's declaration get PermissionDenied and change nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from server_support import ServerProcess

import unseen
from unseen.messages import KINDS, Message, encode_message
from unseen.messages.code import CodeInput, code_hash
from unseen.node import ROLES, build_routes

ROUTES = build_routes()  # the node's route table

ROLE_DENIED = "is not allowed for the role"


@pytest.fixture(scope="module")
def world(server: ServerProcess, owner: unseen.Client) -> Iterator[dict[str, Any]]:
    """A dataset, a user per role, one object and one request of the scientist."""
    ds = unseen.Dataset(name="Matrix", description="role matrix data", tags=["#matrix"])
    ds.add_asset(name="data", data=np.arange(12.0).reshape(4, 3), mock=np.zeros((4, 3)))
    owner.upload_dataset(ds)
    clients: dict[str, unseen.Client] = {"owner": owner}
    for role in ROLES:
        if role != "owner":
            email = f"{role}@matrix.org"
            owner.users.create(email=email, password=f"{role}-pw-123", role=role, name=role)
            clients[role] = server.login(email, f"{role}-pw-123")
    sci = clients["data_scientist"]
    asset = sci.search("#matrix", verbose=False)[0]
    own = sci.send(np.arange(3.0))
    request = asset.mean().request(name="matrix-mean", reason="test")
    yield {"clients": clients, "asset": asset.id, "own": own.id, "request": request.id, "keep": own}
    for role, client in clients.items():
        if role != "owner":
            client.close()


def bodies(world: dict[str, Any], owner: unseen.Client) -> dict[str, Callable[[], dict[str, Any]]]:
    """A valid body per kind (fresh where a call would consume it)."""
    asset, own, request = world["asset"], world["own"], world["request"]

    def code_request() -> dict[str, Any]:
        source = "def f(data):\n    return data\n"
        inputs = [CodeInput(name="data", object_id=asset)]
        hash_ = code_hash("f", source, inputs, "value")
        return {"function": "f", "source": source, "inputs": [{"name": "data", "object_id": asset}],
                "hash": hash_}  # fmt: skip

    def throwaway_user() -> dict[str, Any]:
        email = f"tmp-{uuid.uuid4().hex[:8]}@matrix.org"
        owner.users.create(email=email, password="tmp-pw-1234", role="guest")
        return {"user": email}

    return {
        "node.info": dict,
        "object.send": lambda: {"value": np.arange(2)},
        "object.info": lambda: {"id": asset},
        "object.mock": lambda: {"id": asset},
        "object.tag": lambda: {"id": own, "tags": ["#x"]},
        "object.drop": lambda: {"ids": [uuid.uuid4().hex]},
        "object.get": lambda: {"id": asset},
        "graph.run": lambda: {"actions": [], "keep": [], "get": [], "drop": []},
        "dataset.upload": lambda: {
            "name": f"ds-{uuid.uuid4().hex[:6]}",
            "assets": [{"name": "a", "data": np.ones(2)}],
        },
        "dataset.list": dict,
        "dataset.delete": lambda: {"name": "no-such-dataset"},
        "store.list": dict,
        "search": lambda: {"query": "#matrix"},
        "request.create": lambda: {"object_id": asset, "name": "r", "reason": "r"},
        "request.list": dict,
        "request.decide": lambda: {"id": request, "action": "deny", "reason": "matrix"},
        "request.wait": lambda: {"id": request, "timeout": 0},
        "request.result": lambda: {"id": request},
        "handler.add": lambda: {"action": "deny", "name": f"h-{uuid.uuid4().hex[:6]}"},
        "handler.list": dict,
        "handler.remove": lambda: {"id": "no-such-handler"},
        "user.create": lambda: {
            "email": f"new-{uuid.uuid4().hex[:8]}@matrix.org",
            "password": "new-pw-1234",
            "role": "guest",
        },
        "user.list": dict,
        "user.update": lambda: {"user": "guest@matrix.org", "name": "guest"},
        "user.delete": throwaway_user,
        "user.me": dict,
        "user.password": lambda: {"old_password": "wrong-password", "new_password": "whatever-123"},
        "dp.get": lambda: {"epsilon": 0.1},
        "dp.budget": dict,
        "dp.history": dict,
        "dp.spend": dict,
        "dp.settings": dict,
        # bodies that reach the handler and fail there (no hub for a made-up session on a
        # server): enough to tell a role refusal from a handler's own error
        "mpc.join": lambda: {"session": uuid.uuid4().hex, "role": "dealer", "n": 2},
        "mpc.mesh": lambda: {"session": uuid.uuid4().hex, "peers": {}},
        "mpc.input": lambda: {"session": uuid.uuid4().hex, "object_id": asset, "name": "x"},
        "mpc.request": lambda: {"session": uuid.uuid4().hex, "sid": "s1", "name": "r"},
        "mpc.leave": lambda: {"session": uuid.uuid4().hex},
        "mpc.policy": dict,
        "mpc.trust": lambda: {"role": "party", "key": "cd" * 32, "label": "roles test"},
        "mpc.untrust": lambda: {"role": "party", "key": "cd" * 32},
        # a URL that is not HTTP: the handler refuses it before contacting anything
        "network.join": lambda: {"url": "ftp://no-network.invalid"},
        "network.leave": lambda: {"url": "http://127.0.0.1:9"},
        "network.list": dict,
        "quota.settings": lambda: {"max_waiting": 32},
        "quota.usage": dict,
        "code.request": code_request,
        # unknown ids and hashes: the handler's own NotFound or PermissionDenied
        "code.mock": lambda: {"request_id": "no-such-request"},
        "job.run": lambda: {"hash": "0" * 64},
        "job.list": dict,
        "job.get": lambda: {"id": "no-such-job"},
        "job.wait": lambda: {"id": "no-such-job", "timeout": 0},
        "job.logs": lambda: {"id": "no-such-job"},
        "job.cancel": lambda: {"id": "no-such-job"},
        "job.release_logs": lambda: {"id": "no-such-job"},
        "train.progress": lambda: {"fit": "no-such-fit"},
        # a configuration with no layers: the handler's own UsageError, nothing filed
        "train.approval": lambda: {
            "architecture": {"type": "Sequential", "children": []},
            "loss": "mse",
            "optimizer": "sgd",
            "lr": 0.1,
            "epochs": 1,
            "batch_size": 1,
            "rounds": 1,
            "data": own,
            "target": own,
        },  # fmt: skip
        # a model with no layers: the handler's own UsageError
        "train.fit": lambda: {
            "architecture": {"type": "Sequential", "children": []},
            "names": [],
            "parameters": [],
            "data": own,
            "target": own,
            "loss": "mse",
            "optimizer": "sgd",
            "lr": 0.1,
            "epochs": 1,
            "batch_size": 1,
        },  # fmt: skip
        "code.settings": lambda: {"cpu_seconds": 60.0},  # the default: nothing changes
    }


def snapshot(owner: unseen.Client) -> tuple[Any, ...]:
    return (
        owner.call("user.list"),
        owner.call("dataset.list"),
        owner.call("request.list"),
        owner.call("handler.list"),
        len(owner.call("store.list")),
    )


def outcome(client: unseen.Client, kind: str, body: dict[str, Any]) -> BaseException | None:
    try:
        client.call(kind, body)
    except unseen.UnseenError as exc:
        return exc
    return None


def test_every_kind_is_covered(world: dict[str, Any], owner: unseen.Client) -> None:
    assert set(bodies(world, owner)) == set(KINDS) == set(ROUTES)


def test_undeclared_roles_are_refused_and_change_nothing(
    world: dict[str, Any], owner: unseen.Client
) -> None:
    table = bodies(world, owner)
    calls = [
        (kind, role, table[kind]())
        for kind, route in ROUTES.items()
        for role in ROLES
        if role not in route.roles
    ]
    before = snapshot(owner)
    for kind, role, body in calls:
        error = outcome(world["clients"][role], kind, body)
        assert isinstance(error, unseen.PermissionDenied) and ROLE_DENIED in str(error), (
            kind,
            role,
            error,
        )
    assert len(calls) >= 20
    assert snapshot(owner) == before


def test_declared_roles_get_through(world: dict[str, Any], owner: unseen.Client) -> None:
    table = bodies(world, owner)
    for kind, route in ROUTES.items():
        for role in sorted(route.roles):
            error = outcome(world["clients"][role], kind, table[kind]())
            assert not (isinstance(error, unseen.PermissionDenied) and ROLE_DENIED in str(error)), (
                kind,
                role,
            )
            assert not isinstance(error, unseen.TransportError), (kind, role, error)


@pytest.mark.parametrize("token", [None, "forged.token", "e30.AAAA"])
def test_no_valid_token_no_message(
    server: ServerProcess, owner: unseen.Client, token: str | None
) -> None:
    before = snapshot(owner)
    headers = {"Content-Type": "application/octet-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=server.url) as http:
        for kind in KINDS:
            body = bytes(encode_message(Message(kind, {})))
            response = http.post("/api/v1/message", content=body, headers=headers)
            assert response.status_code == 401, (kind, response.text)
            assert "token" in response.json()["detail"] or "log in" in response.json()["detail"]
    assert snapshot(owner) == before


def test_forged_token_closes_the_websocket(server: ServerProcess) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    ws = connect(server.url.replace("http", "ws") + "/api/v1/ws").__enter__()
    ws.send("forged.token")
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    assert "invalid token" in info.value.rcvd.reason


def test_a_deleted_user_is_shut_out_within_a_second(
    server: ServerProcess, owner: unseen.Client
) -> None:
    owner.users.create(email="leaving@matrix.org", password="leaving-pw-1", role="data_scientist")
    clients = [
        server.login("leaving@matrix.org", "leaving-pw-1", transport=t)
        for t in ("http", "websocket")
    ]
    for client in clients:
        assert client.call("user.me")["email"] == "leaving@matrix.org"
    owner.call("user.delete", {"user": "leaving@matrix.org"})
    time.sleep(1.1)  # a checked token is looked up in the store again after a second
    for client in clients:
        with pytest.raises(unseen.AuthError):
            client.call("user.me")
        client.close()
