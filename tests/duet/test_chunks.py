"""Large answers travel in sealed chunks: whole on both links, and only to the pinned partner."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import unseen
from unseen.duet._host import CHUNK, STREAM_MIN, chunk_key, open_chunk, seal_chunk

pytest.importorskip("nacl")


@pytest.mark.parametrize("link", ["direct", "relay"])
def test_a_large_value_arrives_whole(network: Any, link: str) -> None:
    with unseen.launch_duet(network_url=network.url, verbose=False) as duet:
        value = np.arange((STREAM_MIN + 3 * CHUNK + 12345) // 8, dtype=np.float64)
        duet.send(value, tags=["big"], searchable=True)
        duet.requests.add_handler(action="accept")
        partner = unseen.join_duet(duet.id, network_url=network.url, link=link, verbose=False)
        try:
            assert partner.link == link
            got = (partner.store["big"] + 1.0).get(
                request_block=True, name="big", reason="test", timeout_secs=30
            )
            assert np.array_equal(got, value + 1.0)
            assert not duet.host._streams  # every chunk was fetched once: nothing kept
        finally:
            partner.close()


def test_chunks_are_bound_to_their_place() -> None:
    from nacl.exceptions import CryptoError

    key, stream = chunk_key(bytes(32)), bytes(16)
    sealed = seal_chunk(key, stream, 1, 3, b"abc")
    assert open_chunk(key, stream, 1, 3, sealed) == b"abc"
    for args in [(key, stream, 0, 3), (key, stream, 1, 2), (key, bytes(15) + b"x", 1, 3)]:
        with pytest.raises(CryptoError):
            open_chunk(*args, sealed)
    with pytest.raises(CryptoError):
        open_chunk(chunk_key(b"\x01" * 32), stream, 1, 3, sealed)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(CryptoError):
        open_chunk(key, stream, 1, 3, bytes(tampered))


def test_a_chunk_is_served_once_and_only_to_the_partner(network: Any) -> None:
    with unseen.launch_duet(network_url=network.url, verbose=False) as duet:
        partner = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
        try:
            connection = partner._conn
            host = duet.host
            ident = host._stream(b"\x02" * 32, bytearray(STREAM_MIN + 1))["stream"]
            request = {"op": "chunk", "stream": ident, "index": 0}
            first = connection._post(connection._seal(request), None, None)
            assert len(first) == 24 + CHUNK + 16
            again = connection._post(connection._seal(request), None, None)
            with pytest.raises(unseen.UsageError, match="no such chunk"):
                connection._open(again)
        finally:
            partner.close()
