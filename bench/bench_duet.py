"""Duet: time to connect per link, and fetching a large tensor over each link (MB/s).

    python bench/bench_duet.py [--mb 100] [--webrtc-mb 20]

Large answers travel in 4 MiB chunks (8 in flight), so every link carries the full size; the
fetch time includes the request, its acceptance by a handler and the computation (``* 1.0``).
WebRTC (aiortc, when installed) fetches --webrtc-mb and is compared with a bare aiortc data
channel moving the same bytes in the same process and run (64 KiB messages, the same flow
control): aiortc's SCTP is pure Python, so the bare channel bounds the Duet link.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import numpy as np

import unseen
from unseen.duet import _webrtc


async def _bare(size: int) -> float:
    """Seconds to move ``size`` bytes over a bare aiortc data channel on loopback."""
    from aiortc import RTCPeerConnection

    config = _webrtc.configuration(None)
    left, right = RTCPeerConnection(config), RTCPeerConnection(config)
    channel = left.createDataChannel("bare")
    opened, done = asyncio.Event(), asyncio.Event()
    got = 0

    @right.on("datachannel")
    def _incoming(incoming: object) -> None:
        def on_message(data: bytes) -> None:
            nonlocal got
            got += len(data)
            if got >= size:
                done.set()

        incoming.on("message", on_message)  # type: ignore[attr-defined]

    channel.on("open", opened.set)
    await left.setLocalDescription(await left.createOffer())
    await right.setRemoteDescription(left.localDescription)
    await right.setLocalDescription(await right.createAnswer())
    await left.setRemoteDescription(right.localDescription)
    await opened.wait()
    drained = asyncio.Event()
    channel.bufferedAmountLowThreshold = _webrtc.LOW_WATER
    channel.on("bufferedamountlow", drained.set)
    piece = bytes(65536)
    start = time.perf_counter()
    sent = 0
    while sent < size:
        while channel.bufferedAmount > _webrtc.HIGH_WATER:
            drained.clear()
            await drained.wait()
        channel.send(piece[: min(len(piece), size - sent)])
        sent += len(piece)
    await done.wait()
    took = time.perf_counter() - start
    await left.close()
    await right.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--webrtc-mb", type=float, default=20.0)
    args = parser.parse_args()
    links = ["direct", "relay"]
    if _webrtc.available():
        links.append("webrtc")
    with tempfile.TemporaryDirectory() as tmp:
        net = unseen.launch_network(
            port=0, data_dir=tmp, owner_email="n@bench.org", owner_password="bench-pw-123"
        )
        try:
            for link in links:
                mb = args.webrtc_mb if link == "webrtc" else args.mb
                with unseen.launch_duet(network_url=net.url, verbose=False) as duet:
                    value = np.ones(int(mb * 1e6 / 8))
                    duet.send(value, tags=["big"], searchable=True)
                    duet.requests.add_handler(action="accept")
                    start = time.perf_counter()
                    partner = unseen.join_duet(
                        duet.id, network_url=net.url, link=link, verbose=False
                    )
                    connect = time.perf_counter() - start
                    ptr = partner.store["big"] * 1.0
                    start = time.perf_counter()
                    got = ptr.get(request_block=True, name="big", reason="bench", timeout_secs=60)
                    took = time.perf_counter() - start
                    assert got.nbytes == value.nbytes
                    print(
                        f"duet {link:6s} connect {connect * 1e3:7.1f} ms   "
                        f"fetch {mb:.0f} MB in {took:6.2f} s = {mb / took:7.1f} MB/s"
                    )
                    partner.close()
            if "webrtc" in links:
                took = _webrtc.run(_bare(int(args.webrtc_mb * 1e6)), 300)
                print(
                    f"bare aiortc data channel: {args.webrtc_mb:.0f} MB in {took:6.2f} s = "
                    f"{args.webrtc_mb / took:7.1f} MB/s"
                )
        finally:
            net.stop()


if __name__ == "__main__":
    main()
