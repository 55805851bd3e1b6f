"""A domain behind NAT: reached through the network's relay, sealed end to end to its key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import unseen
from unseen import serde
from unseen.client._network import TunnelConnection
from unseen.messages import Message, encode_message

ANA = ("ana@uni.edu", "ana-pw-123")


@pytest.fixture(scope="module")
def hidden(network: Any, domains: list[dict[str, Any]], netowner: unseen.Client) -> Iterator[Any]:
    """Pine Lab joins with a tunnel and no public URL; May Clinic joins directly."""
    hidden, direct = domains[2], domains[0]
    direct["owner"].join_network(network.url, heartbeat_s=0.2)
    result = hidden["owner"].join_network(network.url, tunnel=True, heartbeat_s=0.2)
    assert result["tunnel"] and result["status"] == "pending"
    for registration in netowner.registrations:
        registration.approve()
    net = unseen.connect_network(network.url)
    deadline = time.time() + 5
    while time.time() < deadline:
        pine = next(d for d in net.domains if d.name == "Pine Lab")
        if pine["tunnel"] and network.registry.tunnels:
            break
        time.sleep(0.05)
    yield hidden


def test_a_scientist_reaches_a_domain_behind_the_tunnel(hidden: Any, network: Any) -> None:
    net = unseen.connect_network(network.url)
    pine = next(d for d in net.domains if d.name == "Pine Lab")
    assert pine.url is None and pine.online and "through the network" in repr(pine)
    result = next(r for r in net.search("rare disease", verbose=False) if r["name"] == "features")
    ana = result.domain.login(email=ANA[0], password=ANA[1], verbose=False)
    assert ana.node_name == "Pine Lab" and ana.role == "data_scientist"
    pointer = result.pointer(ana)
    request = (pointer * 2).sum().request(name="double", reason="via the tunnel")
    hidden["owner"].requests[-1].accept()
    assert request.get() == pytest.approx(48.0)
    own = ana.send(np.arange(4.0))
    assert (own + 1).get().tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(unseen.CannotRequestPrivateData):
        pointer.get()
    ana.close()


def test_wrong_credentials_through_the_tunnel(hidden: Any, network: Any) -> None:
    pine = next(d for d in unseen.connect_network(network.url).domains if d.name == "Pine Lab")
    with pytest.raises(unseen.AuthError, match="wrong email or password"):
        pine.login(email=ANA[0], password="wrong-password", verbose=False)


def test_the_relay_sees_only_sealed_bytes_and_cannot_replay(hidden: Any, network: Any) -> None:
    pine = next(d for d in unseen.connect_network(network.url).domains if d.name == "Pine Lab")
    conn = TunnelConnection(network.url, pine["id"], pine["public_key"], *ANA)
    inner = {
        "op": "message",
        "token": conn._token,
        "message": bytes(encode_message(Message("user.me"))),
    }
    sealed = conn._prefix + bytes(conn._box.encrypt(bytes(serde.encode(inner))))
    assert ANA[0].encode() not in sealed and b"user.me" not in sealed
    url = f"{network.url}/network/v1/relay/{pine['id']}"
    first = httpx.post(url, content=sealed)
    assert first.status_code == 200 and ANA[0].encode() not in first.content
    assert serde.decode(conn._box.decrypt(first.content))["ok"] is True
    replay = httpx.post(url, content=sealed)
    assert replay.status_code == 200 and replay.content == b""  # the domain refused it
    conn.close()


def test_logout_through_the_tunnel_revokes_the_token(hidden: Any, network: Any) -> None:
    pine = next(d for d in unseen.connect_network(network.url).domains if d.name == "Pine Lab")
    conn = TunnelConnection(network.url, pine["id"], pine["public_key"], *ANA)
    token = conn._token
    ana = unseen.Client(conn)
    ana.logout()
    with pytest.raises(unseen.UsageError, match="logged out"):
        ana.call("user.me")
    probe = TunnelConnection(network.url, pine["id"], pine["public_key"], *ANA)
    message = bytes(encode_message(Message("user.me")))
    with pytest.raises(unseen.AuthError, match="logged out"):
        probe._exchange({"op": "message", "token": token, "message": message})
    assert probe.call("user.me")["email"] == ANA[0]  # the account itself still works
    probe.close()


def test_a_pinned_key_that_does_not_match_is_refused(hidden: Any, network: Any) -> None:
    net = unseen.connect_network(network.url)
    pine = next(d for d in net.domains if d.name == "Pine Lab")
    clinic = next(d for d in net.domains if d.name == "May Clinic")
    with pytest.raises(unseen.AuthError, match="another key"):
        pine.login(email=ANA[0], password=ANA[1], public_key=clinic["public_key"], verbose=False)
    # sealing to another key than the domain's: the domain cannot open it, nothing answers
    with pytest.raises(unseen.ProtocolError, match="not sealed by the domain's key"):
        TunnelConnection(network.url, pine["id"], clinic["public_key"], *ANA)


def test_an_offline_tunnel_domain_fails_clearly(hidden: Any, network: Any) -> None:
    net = unseen.connect_network(network.url)
    pine = next(d for d in net.domains if d.name == "Pine Lab")
    hidden["owner"].close()
    hidden["running"].stop()
    deadline = time.time() + 5
    while network.registry.tunnels and time.time() < deadline:
        time.sleep(0.05)
    with pytest.raises(unseen.TransportError, match="offline"):
        pine.login(email=ANA[0], password=ANA[1], verbose=False)
