"""Forged registrations are refused; a domain that stops is marked offline; searches stay fast."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import pytest

import unseen
from unseen.network import AGENTS
from unseen.node._network import REGISTER, sign_document


def _signed_registration(
    joined: list[dict[str, Any]], index: int = 0
) -> tuple[Any, dict[str, Any]]:
    node = joined[index]["running"].node
    membership = AGENTS.of(node)[0]
    document = membership.document(
        REGISTER, node_id=node.id, name=node.name, url=joined[index]["running"].url,
        tunnel=False, description="", datasets=[], models=[], digest="x",
    )  # fmt: skip
    return membership, document


def _post(network: Any, signed: dict[str, Any]) -> httpx.Response:
    return httpx.post(network.url + "/network/v1/register", json=signed)


def test_a_wrong_signature_is_refused(joined: list[dict[str, Any]], network: Any) -> None:
    membership, document = _signed_registration(joined)
    signed = sign_document(document, membership.seed)
    tampered = copy.deepcopy(signed)
    tampered["document"]["url"] = "http://evil.example"
    response = _post(network, tampered)
    assert response.status_code == 403 and "signature" in response.json()["detail"]
    garbage = {**signed, "signature": "00" * 64}
    assert _post(network, garbage).status_code == 403


def test_a_replayed_registration_is_refused(joined: list[dict[str, Any]], network: Any) -> None:
    membership, document = _signed_registration(joined)
    signed = sign_document(document, membership.seed)
    first = _post(network, signed)
    assert first.status_code == 200, first.text
    again = _post(network, signed)
    assert again.status_code == 403 and "replay" in again.json()["detail"]
    stale = dict(document, issued_at=time.time() - 3600, nonce="f" * 32)
    response = _post(network, sign_document(stale, membership.seed))
    assert response.status_code == 403
    membership.register()  # put the real catalog back


def test_claiming_another_domains_name_or_key_is_refused(
    joined: list[dict[str, Any]], network: Any
) -> None:
    from nacl.signing import SigningKey

    victim = joined[1]["running"].node
    _, document = _signed_registration(joined, 0)
    # another domain's name, signed by a fresh key: refused
    thief = SigningKey.generate()
    forged = dict(document, name=victim.name, node_id="f" * 32, nonce="a" * 32)
    forged["public_key"] = bytes(thief.verify_key).hex()
    response = _post(network, sign_document(forged, bytes(thief)))
    assert response.status_code == 403 and "belongs to another domain" in response.json()["detail"]
    # another domain's node id: refused
    forged = dict(forged, name="Innocent Name", node_id=victim.id, nonce="b" * 32)
    response = _post(network, sign_document(forged, bytes(thief)))
    assert response.status_code == 403 and "belongs to another domain" in response.json()["detail"]
    # another domain's key, signed by the thief: the signature fails
    forged = dict(document, public_key=victim.public_key, nonce="c" * 32)
    response = _post(network, sign_document(forged, bytes(thief)))
    assert response.status_code == 403 and "signature" in response.json()["detail"]
    # signed for another network: refused
    membership, document = _signed_registration(joined, 0)
    other = dict(document, network_id="0" * 32)
    response = _post(network, sign_document(other, membership.seed))
    assert response.status_code == 403 and "another network" in response.json()["detail"]
    names = [d.name for d in unseen.connect_network(network.url).domains]
    assert sorted(names) == ["May Clinic", "Oak Hospital", "Pine Lab"]


def test_an_in_process_node_cannot_join(network: Any) -> None:
    worker = unseen.VirtualWorker(name="Notebook")
    owner = worker.new_client("Owner", role="owner") if hasattr(worker, "new_client") else None
    if owner is None:
        pytest.skip("no in-process owner client")
    with pytest.raises(unseen.UsageError, match="in-process node cannot join"):
        owner.join_network(network.url, domain_url="http://127.0.0.1:1")


def test_a_domain_that_stops_is_marked_offline(joined: list[dict[str, Any]], network: Any) -> None:
    net = unseen.connect_network(network.url)
    pine = joined[2]
    pine["owner"].close()
    pine["running"].stop()
    deadline = time.time() + 6
    while time.time() < deadline:
        state = {d.name: d.online for d in net.domains}
        if not state["Pine Lab"]:
            break
        time.sleep(0.1)
    assert state == {"May Clinic": True, "Oak Hospital": True, "Pine Lab": False}
    start = time.perf_counter()
    found = net.search("#genomics", verbose=False)
    assert time.perf_counter() - start < 0.5
    assert found.total == 2 and all(not r.domain.online for r in found)
    assert "OFFLINE" in repr(found[0])
    page = httpx.get(network.url + "/", params={"q": "#genomics"}).text
    assert "offline" in page
