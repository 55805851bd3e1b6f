"""The WebRTC data-channel link: large answers whole, framing, and falling back to the relay."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import unseen
from unseen.duet._host import CHUNK, STREAM_MIN

pytest.importorskip("nacl")
pytest.importorskip("aiortc", reason="the WebRTC link needs aiortc (pip install aiortc)")


def test_a_large_value_arrives_whole_over_webrtc(network: Any) -> None:
    with unseen.launch_duet(network_url=network.url, direct=False, verbose=False) as duet:
        value = np.arange((STREAM_MIN + 2 * CHUNK + 12345) // 8, dtype=np.float64)
        duet.send(value, tags=["big"], searchable=True)
        duet.requests.add_handler(action="accept")
        partner = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        try:
            assert partner.link == "webrtc"  # auto: no direct link, so WebRTC before the relay
            got = (partner.store["big"] + 1.0).get(
                request_block=True, name="big", reason="test", timeout_secs=60
            )
            assert np.array_equal(got, value + 1.0)
            assert not duet.host._streams
        finally:
            partner.close()


def test_auto_falls_back_to_the_relay_when_the_owner_refuses_webrtc(network: Any) -> None:
    with unseen.launch_duet(
        network_url=network.url, direct=False, webrtc=False, verbose=False
    ) as duet:
        duet.send(np.ones(3), tags=["x"], searchable=True)
        partner = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        try:
            assert partner.link == "relay"
            assert partner.store["x"] is not None
        finally:
            partner.close()
    with unseen.launch_duet(network_url=network.url, webrtc=False, verbose=False) as duet:
        with pytest.raises(unseen.UsageError, match="no WebRTC"):
            unseen.join_duet(duet.id, network_url=network.url, link="webrtc", verbose=False)


def test_pieces_of_interleaved_messages_are_put_together() -> None:
    from unseen.duet._webrtc import HEAD, PIECE, Channel

    class FakeChannel:
        bufferedAmount = 0
        readyState = "open"

        def __init__(self) -> None:
            self.sent: list[bytes] = []
            self.handlers: dict[str, Any] = {}

        def on(self, event: str, handler: Any) -> None:
            self.handlers[event] = handler

        def send(self, data: bytes) -> None:
            assert len(data) <= PIECE + HEAD.size
            self.sent.append(bytes(data))

    async def scenario() -> tuple[list[int], dict[int, bytes]]:
        fake, order, got = FakeChannel(), [], {}

        def on_message(ident: int, data: bytes) -> None:
            order.append(ident)
            got[ident] = data

        framed = Channel(fake, on_message)
        await framed.send(1, bytes(range(256)) * 1000)  # 4 pieces
        await framed.send(2, b"tiny")
        await framed.send(3, b"")
        assert len(fake.sent) == 6
        for index in (4, 0, 5, 1, 2, 3):  # the big message's pieces interleave with the others
            fake.handlers["message"](fake.sent[index])
        return order, got

    order, got = asyncio.run(scenario())
    assert order == [2, 3, 1]
    assert got == {1: bytes(range(256)) * 1000, 2: b"tiny", 3: b""}
