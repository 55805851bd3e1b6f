"""Who may deal and who may hold shares of private data: the data owner, not the scientist.

Attack (issue 12, class 2): a scientist shares a hospital's private asset with a party and a
crypto provider that she runs herself; her dealer hands out correlated randomness of her
choice and the first Beaver opening reveals the private value. Stopped by the owner's MPC
trust policy (unseen/node/_mpc_trust.py, checked in ``mpc.input`` before any share exists),
by links bound to node keys (unseen/mpc/secure_link.py: a signed handshake) and by the
parties agreeing on the command stream before a private input or a release
(unseen/node/_mpc_party.py).

Real domain servers on loopback: two hospitals, a crypto provider the hospitals trust, and a
dealer and a party that the scientist (Ana) owns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import unseen
from unseen.client._mpc import close_sessions
from unseen.messages.mpc import TrustedNode
from unseen.server import launch_domain

PASSWORD = "owner-pw-123"
ANA = ("ana@lab.org", "ana-pw-1234")
HOSPITALS = ("St Mary", "General")


def _launch(root: Path, name: str, email: str | None = None, pw: str = PASSWORD) -> Any:
    slug = name.lower().replace(" ", "-")
    return launch_domain(
        name=name, port=0, data_dir=root / slug, owner_email=email or f"owner@{slug}.org",
        owner_password=pw,
    )  # fmt: skip


def _login(server: Any, email: str | None = None, password: str = PASSWORD) -> unseen.Client:
    return unseen.login(
        url=server.url, email=email or server.owner_email, password=password, verbose=False
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("mpc-trust")
    rng = np.random.default_rng(7)
    hospitals = [_launch(root, n) for n in HOSPITALS]
    crypto = _launch(root, "Crypto")
    evil = [_launch(root, "Eve Node", *ANA)]  # Ana owns it: her dealer, or her party
    owners = [_login(s) for s in hospitals]
    crypto_owner = _login(crypto)
    truth = []
    for owner in owners:
        owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist", name="Ana")
        data = rng.integers(1, 30, size=(6, 2)).astype(float)
        truth.append(data)
        ds = unseen.Dataset(name="stays", description="patients and days per month")
        ds.add_asset(name="stays", data=data, mock=np.zeros((6, 2)))
        owner.upload_dataset(ds)
    crypto_owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist", name="Ana")
    # each hospital trusts the other hospital as a party and the crypto provider as dealer
    for i, owner in enumerate(owners):
        owner.mpc.trust(dealer=crypto_owner)
        owner.mpc.trust(party=owners[1 - i])
    ana = [_login(s, *ANA) for s in (*hospitals, crypto)]
    eve = [_login(s, *ANA) for s in evil]
    yield {
        "servers": [*hospitals, crypto, *evil], "owners": owners, "crypto_owner": crypto_owner,
        "ana": ana, "eve": eve, "truth": truth,
    }  # fmt: skip
    close_sessions()
    for c in [*owners, crypto_owner, *ana, *eve]:
        c.close()
    for s in [*hospitals, crypto, *evil]:
        s.stop()


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_sessions()


def _runtimes(server: Any) -> list[Any]:
    from unseen.node._mpc import _sessions

    return list(_sessions(server.node).values())


def _assert_nothing_shared(world: dict[str, Any]) -> None:
    """No party of any node holds a share or a loaded input; no dealer served a request."""
    for server in world["servers"]:
        for rt in _runtimes(server):
            if rt.party is not None:
                assert rt.party.store == {} and rt.party.plain == {}, server.node.name
            if rt.dealer is not None:
                assert rt.dealer.served == 0, server.node.name


def test_a_scientist_run_dealer_is_refused_before_any_share_leaves(world: dict) -> None:
    st_mary, general, _ = world["ana"]
    (eve_dealer,) = world["eve"]
    column = st_mary.search("stays", verbose=False)[0][:, 0]
    with pytest.raises(
        unseen.PermissionDenied,
        match=r"crypto provider \(dealer\) 'Eve Node'.*not trusted.*mpc\.trust",
    ):
        column.share(st_mary, general, crypto_provider=eve_dealer)
    _assert_nothing_shared(world)


def test_a_scientist_run_party_is_refused_before_any_share_leaves(world: dict) -> None:
    st_mary, _, crypto = world["ana"]
    (eve_party,) = world["eve"]
    column = st_mary.search("stays", verbose=False)[0][:, 0]
    with pytest.raises(unseen.PermissionDenied, match=r"party 'Eve Node'.*not trusted.*mpc\.trust"):
        column.share(st_mary, eve_party, crypto_provider=crypto)
    _assert_nothing_shared(world)


def test_the_scientists_own_values_need_no_policy(world: dict) -> None:
    st_mary, general, _ = world["ana"]
    (eve,) = world["eve"]
    x = unseen.share(torch.arange(4.0), st_mary, general, crypto_provider=eve)
    torch.testing.assert_close((x * x).get(), torch.arange(4.0) ** 2, atol=1e-3, rtol=0)


def test_trusted_hospitals_sum_with_every_release(world: dict) -> None:
    st_mary, general, crypto = world["ana"]
    parties = [st_mary, general]
    shared = [
        c.search("stays", verbose=False)[0][:, 0].share(*parties, crypto_provider=crypto)
        for c in parties
    ]
    total = (shared[0] + shared[1]).sum()
    request = total.request(name="total days", reason="capacity planning")
    for owner in world["owners"]:
        owner.requests[-1].accept()
    assert request.status == "accepted"
    expected = sum(float(t[:, 0].sum()) for t in world["truth"])
    assert total.get().item() == pytest.approx(expected)


def test_untrust_refuses_again(world: dict) -> None:
    owner = world["owners"][0]
    st_mary, general, crypto = world["ana"]
    column = st_mary.search("stays", verbose=False)[0][:, 0]
    owner.mpc.untrust(dealer=world["crypto_owner"])
    try:
        assert world["crypto_owner"].node_key not in [d.key for d in owner.mpc.policy.dealers]
        with pytest.raises(unseen.PermissionDenied, match="Crypto"):
            column.share(st_mary, general, crypto_provider=crypto)
        _assert_nothing_shared(world)
    finally:
        owner.mpc.trust(dealer=world["crypto_owner"])
    close_sessions()
    x = column.share(st_mary, general, crypto_provider=crypto)
    assert x.shape == (6,)


def test_only_admins_see_and_edit_the_policy(world: dict) -> None:
    st_mary = world["ana"][0]
    eve_dealer = world["eve"][0]
    with pytest.raises(unseen.PermissionDenied):
        st_mary.mpc.trust(dealer=eve_dealer)
    with pytest.raises(unseen.PermissionDenied):
        st_mary.mpc.untrust(dealer=world["crypto_owner"])
    with pytest.raises(unseen.PermissionDenied):
        st_mary.mpc.policy  # noqa: B018
    policy = world["owners"][0].mpc.policy
    assert eve_dealer.node_key not in [d.key for d in policy.dealers]
    node = world["servers"][0].node
    actions = [a.action for a in node.stores.audit.list()]
    assert "mpc.trust.dealer" in actions and "mpc.trust.party" in actions


def test_the_policy_and_the_node_key_survive_a_restart(tmp_path: Path) -> None:
    server = _launch(tmp_path, "Restart")
    try:
        owner = _login(server)
        key = owner.node_key
        owner.mpc.trust(party="ab" * 32, label="Partner")
        owner.close()
    finally:
        server.stop()
    server = _launch(tmp_path, "Restart")
    try:
        owner = _login(server)
        assert owner.node_key == key
        assert owner.mpc.policy.parties == [TrustedNode(key="ab" * 32, label="Partner")]
        owner.mpc.untrust(party="ab" * 32)
        assert owner.mpc.policy.parties == []
        owner.close()
    finally:
        server.stop()


def test_a_node_that_claims_another_nodes_key_cannot_join(
    world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana's dealer pretends to be the trusted crypto provider: its link cannot prove the key.

    Ana's own node would not check the key it is told it has (she runs it): switch that
    check off, so that only the hospitals' side of the signed handshake stands in the way."""
    from unseen.node import _mpc

    monkeypatch.setattr(_mpc, "check_own_key", lambda node, keys, endpoint: None)
    st_mary, general, _ = world["ana"]
    eve_dealer = world["eve"][0]
    real_key = eve_dealer.node_key
    eve_dealer.node_key = world["crypto_owner"].node_key  # the scientist's process lies
    try:
        column = st_mary.search("stays", verbose=False)[0][:, 0]
        # the hospitals refuse Ana's node on the signed handshake (tests/mpc/test_secure_link.py
        # shows the refusal itself); the session never forms, whichever link notices first
        with pytest.raises(unseen.ProtocolError):
            column.share(st_mary, general, crypto_provider=eve_dealer, timeout=3.0)
    finally:
        eve_dealer.node_key = real_key
    _assert_nothing_shared(world)


def test_divergent_commands_are_caught_before_a_private_input_is_shared(world: dict) -> None:
    st_mary, general, crypto = world["ana"]
    cluster = unseen.share(torch.ones(1), st_mary, general, crypto_provider=crypto).cluster
    pointer = st_mary.search("stays", verbose=False)[0]
    st_mary.call(
        "mpc.input",
        {"session": cluster.session, "object_id": pointer.id, "name": "p", "shape": [6, 2]},
    )
    seq = next(cluster._seq)
    base = {"seq": seq, "op": "share_private", "in": [], "args": {"owner": 0, "name": "p"}}
    cluster._pending[seq] = {0, 1}
    cluster.comm.send(0, "cmd", [], {**base, "out": ["s900"]})
    cluster.comm.send(1, "cmd", [], {**base, "out": ["s901"]})  # another command for party 1
    with pytest.raises(unseen.ProtocolError, match="different commands"):
        cluster.wait(seq)
    for server in world["servers"][:2]:
        for rt in _runtimes(server):
            assert rt.party is not None
            assert "s900" not in rt.party.store and "s901" not in rt.party.store


def _stays(name: str) -> unseen.VirtualWorker:
    h = unseen.VirtualWorker(name=name)
    ds = unseen.Dataset(name="stays", description="days")
    ds.add_asset(name="stays", data=np.arange(8.0).reshape(4, 2), mock=np.zeros((4, 2)))
    h.upload_dataset(ds)
    return h


def test_in_process_nodes_follow_the_same_policy() -> None:
    north, south = _stays("North"), _stays("South")
    crypto = unseen.VirtualWorker(name="Dealer")
    ana = [h.new_client("Ana") for h in (north, south)]
    column = ana[0].search("stays", verbose=False)[0][:, 0]
    with pytest.raises(unseen.PermissionDenied, match=r"'South'.*not trusted"):
        column.share(*ana, crypto_provider=crypto)
    north.mpc.trust(party=south)
    with pytest.raises(unseen.PermissionDenied, match=r"'Dealer'.*not trusted"):
        column.share(*ana, crypto_provider=crypto)
    north.mpc.trust(dealer=crypto)
    x = column.share(*ana, crypto_provider=crypto)
    x.request(name="column")
    north.requests[-1].accept()
    np.testing.assert_allclose(x.get().numpy(), np.arange(0.0, 8.0, 2.0))


def test_a_hub_endpoint_joined_by_another_node_is_caught() -> None:
    """Plant a violation: the hub says another node joined the dealer's endpoint."""
    north, south = _stays("North"), _stays("South")
    crypto = unseen.VirtualWorker(name="Dealer")
    north.mpc.trust(party=south, dealer=crypto)
    ana = [h.new_client("Ana") for h in (north, south)]
    cluster = unseen.share(torch.ones(1), *ana, crypto_provider=crypto).cluster
    from unseen.mpc.comm_local import find_hub

    find_hub(cluster.session).identities[2] = "ef" * 32
    pointer = ana[0].search("stays", verbose=False)[0]
    with pytest.raises(unseen.PermissionDenied, match="'Dealer' has not joined"):
        cluster.share_pointer(pointer)


def test_a_node_keeps_its_key_in_its_settings_store() -> None:
    from unseen.node import Node
    from unseen.store import Stores
    from unseen.transport import InProcConnection

    stores = Stores()
    first = Node("n", stores=stores)
    assert len(first.public_key) == 64
    owner = unseen.Client(InProcConnection(first, first.add_user("owner", "owner")))
    owner.mpc.trust(dealer="ab" * 32, label="Dealer")
    again = Node("n", stores=stores)  # a restart on the same (in-memory) stores
    assert again.public_key == first.public_key
    owner = unseen.Client(InProcConnection(again, again.principal(owner.user_id)))
    assert owner.mpc.policy.dealers == [TrustedNode(key="ab" * 32, label="Dealer")]
    assert Node("m").public_key != first.public_key
    seed = bytes(range(32))
    assert Node("s", signing_seed=seed).public_key == Node("t", signing_seed=seed).public_key
    with pytest.raises(unseen.UsageError, match="public_key"):
        Node("u", signing_seed=seed, public_key="ab" * 32)


def test_divergent_commands_are_caught_before_a_release(world: dict) -> None:
    """Party 0 is asked to reveal one value, party 1 another: neither share comes back."""
    st_mary, general, crypto = world["ana"]
    pointer = st_mary.search("stays", verbose=False)[0][:, 0]
    secret = pointer.share(st_mary, general, crypto_provider=crypto)
    cluster = secret.cluster
    mine = cluster.share(torch.zeros(6))
    cluster.sync()
    seq = next(cluster._seq)
    cluster._pending[seq] = {0, 1}
    cluster._want_replies.add(seq)
    base = {"seq": seq, "op": "reveal", "out": [], "args": {}}
    cluster.comm.send(0, "cmd", [], {**base, "in": [mine.sid]})  # St Mary: Ana's own zeros
    cluster.comm.send(1, "cmd", [], {**base, "in": [secret.sid]})  # General: St Mary's column
    with pytest.raises(unseen.ProtocolError, match="different commands"):
        cluster.wait(seq)
    assert not [k for k in cluster._replies if k[0] == seq]  # no share came back


def test_session_descriptions_are_checked_on_join() -> None:
    node = _stays("North")
    ana = node.new_client("Ana")
    body = {"session": "z" * 32, "role": "party", "rank": 0, "n": 2}
    with pytest.raises(unseen.UsageError, match="distinct nodes"):
        ana.call("mpc.join", {**body, "keys": [node.node_key, "ab" * 32, "ab" * 32]})
    with pytest.raises(unseen.UsageError, match="64 hex digits"):
        ana.call("mpc.join", {**body, "keys": [node.node_key, "ab" * 32, "not a key"]})
    node.node.public_key = ""  # plant: a node without a crypto library has no key
    with pytest.raises(unseen.UsageError, match="no node key"):
        ana.call("mpc.join", {**body, "keys": ["ab" * 32, "cd" * 32, "ef" * 32]})
