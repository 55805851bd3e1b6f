"""The node's end of a reverse tunnel: a WebSocket it dials out to a relay and keeps open.

A node that cannot be dialled (a domain behind NAT, a Duet owner's notebook) dials the relay
(the hub of :mod:`unseen.network._hub`) and answers what comes down it. Frames::

    node -> relay  text    a signed hello (the first frame); the relay answers {"ok": true}
    relay -> node  binary  u64 request id (big-endian) | sealed request
    node -> relay  binary  the same u64 request id | sealed answer
    node -> relay  text    "ping", after each quiet ``heartbeat_s`` (a heartbeat)

The bytes are sealed end to end by the callers; :class:`ReverseTunnel` only hands each request
to ``answer`` on a worker thread (answers may go back out of order). When the link breaks it
dials again with a fresh hello, after a pause that doubles from 0.1 s up to ``max_backoff``
(back to 0.1 s once a link was up).
"""

from __future__ import annotations

import json
import logging
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger("unseen.transport")

HEAD = struct.Struct(">Q")
RELAY_MAX = 64 << 20  # the largest relayed message (either way)
TUNNEL_FRAME_MAX = RELAY_MAX + 4096


class ReverseTunnel:
    """Keeps one reverse tunnel to ``url`` open, answering each request, until stopped.

    ``hello`` makes a fresh signed hello for each dial; ``answer`` turns sealed request bytes
    into sealed answer bytes; the tunnel also ends once ``alive()`` is false."""

    def __init__(
        self,
        url: str,
        hello: Callable[[], dict[str, Any]],
        answer: Callable[[bytes], bytes],
        *,
        name: str,
        workers: int,
        heartbeat_s: float,
        max_backoff: float,
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self.ws_url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self.hello, self.answer, self.alive = hello, answer, alive
        self.name, self.heartbeat_s, self.max_backoff = name, heartbeat_s, max_backoff
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._ws: Any = None
        self._send_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop dialling and close the open link (requests in flight lose their answers)."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        backoff = 0.1
        while self.alive() and not self._stop.is_set():
            try:
                self._session()
            except Exception as exc:
                log.debug("%s to %s: %s", self.name, self.ws_url, exc)
            if self.connected.is_set():  # the link was up: dial again soon
                backoff = 0.1
            self.connected.clear()
            self._ws = None
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.max_backoff)

    def _session(self) -> None:
        from websockets.sync.client import connect

        hello = self.hello()
        with connect(
            self.ws_url, max_size=TUNNEL_FRAME_MAX, open_timeout=5, compression=None
        ) as ws:
            self._ws = ws
            ws.send(json.dumps(hello))
            if json.loads(ws.recv(timeout=10)).get("ok") is not True:
                return
            self.connected.set()
            while self.alive() and not self._stop.is_set():
                try:
                    frame = ws.recv(timeout=self.heartbeat_s)
                except TimeoutError:
                    ws.send("ping")
                    continue
                if isinstance(frame, bytes) and len(frame) >= HEAD.size:
                    self._pool.submit(self._one, ws, frame)

    def _one(self, ws: Any, frame: bytes) -> None:
        sealed = self.answer(memoryview(frame)[HEAD.size :].tobytes())
        try:
            with self._send_lock:
                ws.send(frame[: HEAD.size] + sealed)
        except Exception as exc:
            log.debug("%s: an answer was lost: %s", self.name, exc)
