"""Accounts and budgets: escalating roles, forged/expired/replayed tokens, spending another
user's privacy budget, and racing budget charges.

Stopped by unseen/node/_routes.py (each kind's roles), unseen/node/_users.py (_may_manage),
unseen/node/_auth.py (HMAC tokens with expiry; the user looked up again), and the ledger's
compare-and-set charge (unseen/dp/_ledger.py, unseen/node/_dp.py dp_get).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from security_support import EVE, Attacks, World, assert_clean, asset, login_token

import unseen
from unseen.messages import Message, encode_message


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(world: World, payload: dict[str, Any]) -> str:
    """A token signed with the node's real secret (read from the owner's identity.json):
    only to make an *expired* or *deleted user's* token that is otherwise genuine."""
    secret = bytes.fromhex(
        json.loads((world.data_dir / "identity.json").read_text())["token_secret"]
    )
    body = b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def post(
    world: World, token: str | None, kind: str = "user.me", body: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = bytes(encode_message(Message(kind, body or {})))
    return httpx.post(f"{world.url}/api/v1/message", content=data, headers=headers, timeout=10)


def test_role_escalation_is_refused(world: World, attacks: Attacks) -> None:
    eve, before = world.eve, world.snapshot()
    me = eve.call("user.me")
    for kind, body in [
        ("user.update", {"user": EVE[0], "role": "admin"}),
        ("user.update", {"user": me["id"], "role": "owner"}),
        ("user.update", {"user": EVE[0], "budget": 1e9}),
        ("user.update", {"user": world.owner.call("user.me")["email"], "password": "taken-over-1"}),
        ("user.create", {"email": "evil@attack.org", "password": "evil-pw-123", "role": "admin"}),
        ("user.create", {"email": "evil2@attack.org", "password": "evil-pw-123"}),
        ("user.delete", {"user": "bob@other.org"}),
        ("user.list", {}),
        ("dataset.upload", {"name": "fake", "assets": [{"name": "a", "data": np.ones(2)}]}),
        ("dataset.delete", {"name": "Secrets"}),
        ("dp.settings", {"delta": 0.5}),
        ("dp.spend", {}),
        ("handler.add", {"action": "accept", "name": "x"}),
        ("handler.list", {}),
        ("request.decide", {"id": world.bob_request, "action": "accept"}),
    ]:
        exc = attacks.refuse(eve.call, kind, body, expect=unseen.PermissionDenied)
        assert "role" in str(exc), (kind, exc)
    # a password change needs the old password
    attacks.refuse(eve.call, "user.password", {"old_password": "guess-123", "new_password": "x" * 9},
                   expect=unseen.AuthError)  # fmt: skip
    # an admin may not make admins or touch the owner
    world.owner.users.create(email="adm@sec.org", password="adm-pw-1234", role="admin")
    admin = world.login("adm@sec.org", "adm-pw-1234")
    try:
        for kind, body in [
            ("user.update", {"user": "adm@sec.org", "role": "owner"}),
            ("user.create", {"email": "adm2@sec.org", "password": "adm-pw-1234", "role": "admin"}),
            ("user.update", {"user": EVE[0], "role": "admin"}),
            ("user.update", {"user": world.owner.call("user.me")["id"], "password": "pwned-1234"}),
            ("user.delete", {"user": world.owner.call("user.me")["id"]}),
        ]:
            attacks.refuse(
                admin.call, kind, body, expect=(unseen.PermissionDenied, unseen.UsageError)
            )
    finally:
        admin.close()
        world.owner.call("user.delete", {"user": "adm@sec.org"})
    assert world.snapshot() == before


def test_forged_tokens_are_refused(world: World, attacks: Attacks) -> None:
    good = login_token(world.url, *EVE)
    body, signature = good.split(".")
    owner_id = world.owner.call("user.me")["id"]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    as_owner = b64(json.dumps({**payload, "sub": owner_id}, separators=(",", ":")).encode())
    later = b64(
        json.dumps({**payload, "exp": payload["exp"] + 1e6}, separators=(",", ":")).encode()
    )
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forged = [
        None, "Bearer", good + "x", f"{body}.{flipped}", f"{as_owner}.{signature}",
        f"{later}.{signature}", f"{as_owner}.", f"{body}..{signature}", f"{body}",
        b64(b'{"alg":"none"}') + "." + as_owner + ".", "a" * 5000, "%C3%A9.%C3%A9",
        sign(world, {"sub": owner_id, "exp": time.time() - 1, "iat": 0, "jti": "x"}),  # expired
        sign(world, {"sub": uuid.uuid4().hex, "exp": time.time() + 60}),  # no such user
    ]  # fmt: skip
    for token in forged:
        attacks.tried()
        reply = post(world, token)
        assert reply.status_code == 401, (token, reply.status_code)
        assert_clean(reply.text)
    assert post(world, good).status_code == 200


def test_websocket_token_forgery_and_swap(world: World, attacks: Attacks) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    good = login_token(world.url, *EVE)
    body, signature = good.split(".")
    for token in ("forged.token", f"{body}.{signature[::-1]}", good[:-1]):
        attacks.tried()
        with connect(world.url.replace("http", "ws") + "/api/v1/ws") as ws:
            ws.send(token)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
    # a valid session that swaps in a forged token mid-way is closed
    attacks.tried()
    with connect(world.url.replace("http", "ws") + "/api/v1/ws") as ws:
        ws.send(good)
        assert json.loads(ws.recv(timeout=5))["ok"] is True
        ws.send("forged.token")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_a_deleted_users_token_is_dead(world: World, attacks: Attacks) -> None:
    world.owner.users.create(email="gone@attack.org", password="gone-pw-123", role="data_scientist")
    token = login_token(world.url, "gone@attack.org", "gone-pw-123")
    assert post(world, token).status_code == 200
    world.owner.call("user.delete", {"user": "gone@attack.org"})
    time.sleep(1.1)  # the server re-checks a token against the store at least once a second
    attacks.tried()
    assert post(world, token).status_code == 401
    # a new account with the same email does not revive the old token
    world.owner.users.create(email="gone@attack.org", password="gone-pw-456", role="data_scientist")
    attacks.tried()
    assert post(world, token).status_code == 401
    world.owner.call("user.delete", {"user": "gone@attack.org"})


def test_a_password_change_revokes_earlier_tokens(world: World) -> None:
    """A token carries a digest of the password hash it was issued under (node/_auth.py), so a
    changed password ends every earlier session (within the server's one-second recheck)."""
    world.owner.users.create(email="rot@attack.org", password="rot-pw-1234", role="data_scientist")
    token = login_token(world.url, "rot@attack.org", "rot-pw-1234")
    assert post(world, token).status_code == 200
    world.owner.call("user.update", {"user": "rot@attack.org", "password": "rot-pw-5678"})
    time.sleep(1.1)  # the server rechecks a token against the store at most once a second
    assert post(world, token).status_code == 401
    assert post(world, login_token(world.url, "rot@attack.org", "rot-pw-5678")).status_code == 200
    world.owner.call("user.delete", {"user": "rot@attack.org"})


def test_spending_another_users_budget_is_impossible(world: World, attacks: Attacks) -> None:
    before = {u["email"]: u for u in world.owner.call("dp.spend")["users"]}
    bob_id = world.bob.user_id
    data = asset(world, world.eve, "ndarray")
    target = data[:, 0].mean()
    target.compute()
    body = {"actions": [], "target": target.id, "epsilon": 0.05}
    for extra in ({"user": bob_id}, {"user_id": bob_id}, {"principal": bob_id},
                  {"as": "bob@other.org"}):  # fmt: skip
        attacks.tried()
        try:
            world.eve.call("dp.get", {**body, **extra})
        except unseen.UnseenError as exc:
            assert_clean(exc)
    after = {u["email"]: u for u in world.owner.call("dp.spend")["users"]}
    assert after["bob@other.org"]["spent"] == before["bob@other.org"]["spent"]
    assert after["bob@other.org"]["releases"] == before["bob@other.org"]["releases"]
    # bob's balance and history are not eve's to read
    for kind in ("dp.budget", "dp.history"):
        reply = world.eve.call(kind, {"user": bob_id, "user_id": bob_id})
        attacks.tried()
        assert bob_id not in repr(reply)


def test_racing_budget_charges_never_overspend(world: World, attacks: Attacks) -> None:
    email, password = f"racer-{uuid.uuid4().hex[:6]}@attack.org", "racer-pw-123"
    world.owner.users.create(email=email, password=password, role="data_scientist", budget=1.0)
    clients = [world.login(email, password) for _ in range(4)]
    got: list[float] = []
    refused: list[str] = []
    lock = threading.Lock()

    def spend(client: unseen.Client) -> None:
        data = asset(world, client, "ndarray")
        for _ in range(5):
            try:
                value = data[:, 1].mean().get(epsilon=0.15)
            except unseen.BudgetExhausted as exc:
                with lock:
                    refused.append(type(exc).__name__)
                continue
            with lock:
                got.append(float(value))

    threads = [threading.Thread(target=spend, args=(c,)) for c in clients for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    attacks.tried(len(got) + len(refused))
    budget = clients[0].call("dp.budget")
    history = clients[0].call("dp.history")
    assert len(got) + len(refused) == 40
    assert len(history) == len(got) == budget["releases"]  # every release charged once
    assert budget["spent"] <= 1.0 + 1e-9 and len(got) <= 6  # 6 x 0.15 <= 1 < 7 x 0.15
    assert len(got) >= 5
    spend_row = [u for u in world.owner.call("dp.spend")["users"] if u["email"] == email][0]
    assert spend_row["releases"] == len(got)
    for c in clients:
        c.close()
