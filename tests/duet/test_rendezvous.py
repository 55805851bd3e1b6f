"""Ids: wrong, expired, single-use; a partner leaving; a third party; in one process."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from nacl.public import Box, PrivateKey, PublicKey

import unseen
from unseen.messages import Message, encode_message
from unseen.network._rendezvous import Rendezvous
from unseen.node._network import curve_public_key


def test_launch_prints_the_partner_line(network: Any, capsys: Any) -> None:
    with unseen.launch_duet(network_url=network.url) as duet:
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "Send the following code to your Duet Partner!"
        assert out[1] == "import unseen"
        assert re.fullmatch(
            r'duet = unseen\.join_duet\("[0-9a-f]{32}", network_url="http://127\.0\.0\.1:\d+"\)',
            out[2],
        )
        scientist = unseen.join_duet(duet.id, network_url=network.url)
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "Send the Duet Client ID back to your Duet Partner!"
        assert lines[1] == f"Duet Client ID: {scientist.client_id}"
        assert duet.partner_id == scientist.client_id
        assert scientist.role == "data_scientist" and duet.role == "owner"
        scientist.close()


def test_wrong_id_fails_fast(network: Any) -> None:
    start = time.monotonic()
    with pytest.raises(unseen.NotFound, match="wrong or has expired"):
        unseen.join_duet("0" * 32, network_url=network.url)
    with pytest.raises(unseen.UsageError, match="32 hex digits"):
        unseen.join_duet("abc", network_url=network.url)
    assert time.monotonic() - start < 5


def test_expired_offers_are_gone() -> None:
    from nacl.signing import SigningKey

    from unseen.network._rendezvous import OFFER
    from unseen.node import new_document, sign_document

    rendezvous = Rendezvous(ttl=0.05)
    seed = bytes(SigningKey.generate())
    key = bytes(SigningKey(seed).verify_key).hex()
    found = rendezvous.offer(sign_document(new_document(OFFER, key), seed))
    assert len(found["id"]) == 32
    time.sleep(0.1)
    with pytest.raises(unseen.NotFound, match="expired"):
        rendezvous.claim(found["id"])


def test_single_use_and_a_third_party(network: Any) -> None:
    with unseen.launch_duet(network_url=network.url, verbose=False) as duet:
        duet.send(np.arange(4), tags=["secret"], searchable=True)
        scientist = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        with pytest.raises(unseen.AuthError, match="single-use"):
            unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        # A third party who posts to the relay with its own key is refused by the owner.
        from unseen.duet._partner import DuetConnection

        intruder = object.__new__(DuetConnection)
        mine = PrivateKey.generate()
        intruder._box = Box(mine, PublicKey(curve_public_key(duet.node.public_key)))
        intruder._prefix = bytes(mine.public_key)
        intruder._http = httpx.Client()
        intruder._direct_http = None
        intruder._url = f"{network.url}/network/v1/duet/relay/{duet.id}"
        message = encode_message(Message("object.list", {}))
        with pytest.raises(unseen.AuthError, match="another partner"):
            intruder._exchange({"op": "message", "message": bytes(message)})
        with pytest.raises(unseen.AuthError, match="not .or no longer. open"):
            intruder._exchange({"op": "join", "id": duet.id})
        intruder._http.close()
        assert len(scientist.store) == 1
        scientist.close()


def test_partner_leaving_keeps_the_node_and_a_fresh_id_works(network: Any) -> None:
    with unseen.launch_duet(network_url=network.url, verbose=False) as duet:
        duet.send(np.arange(4), tags=["x"], searchable=True)
        first = unseen.join_duet(duet.id, network_url=network.url, link="relay", verbose=False)
        assert first.link == "relay"
        pending = first.store["x"].sum()
        errors: list[Exception] = []

        def wait() -> None:
            try:
                pending.get(request_block=True, name="s", reason="r", timeout_secs=20)
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.5)
        duet.invite(verbose=False)  # the owner drops the first partner for a fresh one
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(errors[0], unseen.AuthError)  # the wait ended; the partner was dropped
        with pytest.raises(unseen.AuthError, match="another partner"):
            len(first.store)
        second = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        assert second.link == "direct"
        result = second.store["x"].sum()
        result.request(name="s2", reason="r2")
        second.close()  # the partner leaves: their pending requests are denied
        assert [r.status for r in duet.requests][-1] == "denied"
        assert int(duet.store["x"].get().sum()) == 6
        first.close()


def _decide_first(duet: Any, action: str) -> None:
    deadline = time.monotonic() + 10
    while not len(duet.requests) and time.monotonic() < deadline:
        time.sleep(0.02)
    getattr(duet.requests[0], action)()


def test_deny_and_handlers(network: Any) -> None:
    with unseen.launch_duet(network_url=network.url, verbose=False) as duet:
        duet.send(np.arange(4), tags=["x"], searchable=True)
        scientist = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        ptr = scientist.store["x"].sum()
        threading.Thread(target=_decide_first, args=(duet, "deny")).start()
        with pytest.raises(unseen.RequestDenied):
            ptr.get(request_block=True, name="s", reason="r", timeout_secs=10)
        duet.requests.add_handler(action="accept", name="mean")
        mean = scientist.store["x"].mean()
        assert float(mean.get(request_block=True, name="mean", reason="r", timeout_secs=10)) == 1.5
        own = scientist.send(np.ones(3))
        assert own.get().tolist() == [1.0, 1.0, 1.0]
        scientist.close()
