"""The reverse tunnel client that domains and Duet owners share, against a relay on loopback."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from unseen.transport._tunnel import HEAD, ReverseTunnel

CLOSED = "closed"  # what a link's inbox gets when the link closes


class Relay:
    """A WebSocket relay on loopback: takes a hello, answers ``{"ok": accept}``, and hands each
    open link (the connection and an inbox of what the tunnel sent) to the test."""

    def __init__(self) -> None:
        self.accept = True
        self.hellos: list[dict[str, Any]] = []
        self.links: queue.Queue[tuple[ServerConnection, queue.Queue[Any]]] = queue.Queue()
        self.server = serve(self._serve, "127.0.0.1", 0, compression=None)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}/tunnel"

    def _serve(self, ws: ServerConnection) -> None:
        self.hellos.append(json.loads(ws.recv(timeout=5)))
        ws.send(json.dumps({"ok": self.accept}))
        inbox: queue.Queue[Any] = queue.Queue()
        self.links.put((ws, inbox))
        try:
            for frame in ws:
                inbox.put(frame)
        except ConnectionClosed:
            pass
        inbox.put(CLOSED)

    def link(self) -> tuple[ServerConnection, queue.Queue[Any]]:
        return self.links.get(timeout=10)


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    yield relay
    relay.server.shutdown()


def _answer(request: bytes) -> bytes:
    if request == b"slow":
        time.sleep(0.5)
    return request[::-1]


def _tunnel(relay: Relay, **options: Any) -> ReverseTunnel:
    """A started tunnel to the relay that answers with the request reversed."""
    count = itertools.count()
    options = {
        "name": "test-tunnel",
        "workers": 4,
        "heartbeat_s": 10.0,
        "max_backoff": 0.2,
        **options,
    }
    tunnel = ReverseTunnel(relay.url, lambda: {"hello": next(count)}, _answer, **options)
    tunnel.start()
    return tunnel


def test_it_answers_and_dials_again_with_a_fresh_hello_when_the_relay_drops_it(
    relay: Relay,
) -> None:
    tunnel = _tunnel(relay)
    try:
        ws, inbox = relay.link()
        assert tunnel.connected.wait(5)
        assert tunnel.ws_url.startswith("ws://127.0.0.1:")
        ws.send(HEAD.pack(7) + b"abc")
        assert inbox.get(timeout=5) == HEAD.pack(7) + b"cba"
        ws.close()  # the relay drops the link: the tunnel dials again
        assert inbox.get(timeout=5) == CLOSED
        ws, inbox = relay.link()
        assert relay.hellos == [{"hello": 0}, {"hello": 1}]
        assert tunnel.connected.wait(5)
        ws.send(HEAD.pack(8) + b"xyz")
        assert inbox.get(timeout=5) == HEAD.pack(8) + b"zyx"
    finally:
        tunnel.stop()


def test_answers_go_back_by_id_as_they_are_ready_and_quiet_links_send_pings(
    relay: Relay,
) -> None:
    tunnel = _tunnel(relay, heartbeat_s=0.3)
    try:
        ws, inbox = relay.link()
        ws.send(b"\x01\x02")  # shorter than an id: ignored
        ws.send(HEAD.pack(1) + b"slow")
        ws.send(HEAD.pack(2) + b"fast")
        frames: list[Any] = []
        while len(frames) < 3 or "ping" not in frames:
            frames.append(inbox.get(timeout=5))
        answers = [f for f in frames if f != "ping"]
        assert answers == [HEAD.pack(2) + b"tsaf", HEAD.pack(1) + b"wols"]
    finally:
        tunnel.stop()


def test_a_refused_hello_is_not_a_connection_and_is_tried_again(relay: Relay) -> None:
    relay.accept = False
    tunnel = _tunnel(relay)
    try:
        relay.link()
        relay.link()
        assert not tunnel.connected.is_set()
        assert len(relay.hellos) >= 2
    finally:
        tunnel.stop()


@pytest.mark.parametrize("how", ["stop", "alive"])
def test_a_stopped_tunnel_closes_its_link_and_dials_no_more(relay: Relay, how: str) -> None:
    living = threading.Event()
    living.set()
    tunnel = _tunnel(relay, heartbeat_s=0.2, alive=living.is_set)
    ws, inbox = relay.link()
    assert tunnel.connected.wait(5)
    if how == "stop":
        tunnel.stop()
    else:
        living.clear()  # the tunnel's owner ended: it notices at the next heartbeat
    while (frame := inbox.get(timeout=5)) == "ping":
        pass
    assert frame == CLOSED
    with pytest.raises(queue.Empty):
        relay.links.get(timeout=1.0)
    assert len(relay.hellos) == 1
    tunnel.stop()


def test_a_link_that_was_up_is_dialled_again_at_once_however_often_it_dropped(
    relay: Relay,
) -> None:
    tunnel = _tunnel(relay, max_backoff=5.0)
    try:
        ws, _ = relay.link()
        for _ in range(6):  # without a reset the pause would double to 3.2 s by the last drop
            assert tunnel.connected.wait(5)
            start = time.monotonic()
            ws.close()
            ws, _ = relay.link()
            assert time.monotonic() - start < 1.0
    finally:
        tunnel.stop()
