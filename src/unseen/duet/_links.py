"""The owner's two ways in: a reverse tunnel through the network, and a direct HTTP listener.

Both carry the same sealed bytes to :meth:`Host.answer`. The tunnel is the network's NAT
tunnel (``/network/v1/duet/tunnel``, opened with a hello signed by the session key); the direct
link is a small threaded HTTP server (``POST /duet``) on a loopback or LAN port that the offer
announces. Stopping either cuts its open connections, so a partner waiting on a request sees
the owner leave at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from unseen.duet._host import Host
from unseen.network._hub import HEAD, TUNNEL_FRAME_MAX
from unseen.network._rendezvous import DUET_TUNNEL
from unseen.node._network import DOC_VERSION, sign_document

log = logging.getLogger("unseen.duet")

DIRECT_MAX = 2 << 30  # the largest message on the direct link


def session_document(kind: str, public_key: str, **fields: Any) -> dict[str, Any]:
    """A fresh document of the session key (sign it with :func:`sign_document`)."""
    return {
        "type": kind,
        "version": DOC_VERSION,
        "public_key": public_key,
        "issued_at": time.time(),
        "nonce": secrets.token_hex(16),
        **fields,
    }


class OwnerTunnel:
    """Keeps the owner's reverse tunnel to the network open while the session lives."""

    def __init__(self, host: Host, network_url: str, seed: bytes) -> None:
        self.host = host
        self.seed = seed
        base = network_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self.ws_url = f"{base}/network/v1/duet/tunnel"
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._ws: Any = None
        self._send_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(32, thread_name_prefix="unseen-duet-tunnel")
        self._thread = threading.Thread(target=self._run, name="unseen-duet-tunnel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
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
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 0.1
            except Exception as exc:
                log.debug("Duet tunnel: %s", exc)
            self.connected.clear()
            self._ws = None
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, 5.0)

    def _session(self) -> None:
        from websockets.sync.client import connect

        key = self.host.node.public_key
        hello = sign_document(session_document(DUET_TUNNEL, key), self.seed)
        with connect(
            self.ws_url, max_size=TUNNEL_FRAME_MAX, open_timeout=5, compression=None
        ) as ws:
            self._ws = ws
            ws.send(json.dumps(hello))
            if json.loads(ws.recv(timeout=10)).get("ok") is not True:
                return
            self.connected.set()
            while not self._stop.is_set():
                try:
                    frame = ws.recv(timeout=10)
                except TimeoutError:
                    ws.send("ping")
                    continue
                if isinstance(frame, bytes) and len(frame) >= HEAD.size:
                    self._pool.submit(self._one, ws, frame)

    def _one(self, ws: Any, frame: bytes) -> None:
        sealed = self.host.answer(memoryview(frame)[HEAD.size :].tobytes())
        try:
            with self._send_lock:
                ws.send(frame[: HEAD.size] + sealed)
        except Exception as exc:
            log.debug("Duet tunnel reply lost: %s", exc)


class _Handler(BaseHTTPRequestHandler):
    server: DirectServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base's name)
        log.debug("direct link: " + format, *args)

    def do_POST(self) -> None:  # noqa: N802  (the base class's spelling)
        length = self.headers.get("content-length", "")
        if self.path != "/duet" or not length.isdigit() or int(length) > DIRECT_MAX:
            self.send_error(400 if self.path == "/duet" else 404)
            return
        payload = self.rfile.read(int(length))
        sealed = self.server.host.answer(payload)
        self.send_response(200 if sealed else 403)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(sealed)))
        self.end_headers()
        self.wfile.write(sealed)


class DirectServer(ThreadingHTTPServer):
    """The owner's direct link: ``POST /duet`` with sealed bytes, on a port it announces."""

    daemon_threads = True

    def __init__(self, host: Host, bind: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((bind, port), _Handler)
        shown = {"0.0.0.0": "127.0.0.1"}.get(bind, bind)
        self.url = f"http://{shown}:{self.server_address[1]}/duet"
        self._thread = threading.Thread(
            target=self.serve_forever, name="unseen-duet-direct", daemon=True
        )
        self._thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop listening and cut every open connection."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
