"""The owner's two ways in: a reverse tunnel through the network, and a direct HTTP listener.

Both carry the same sealed bytes to :meth:`Host.answer`. The tunnel is the network's NAT
tunnel (``/network/v1/duet/tunnel``, opened with a hello signed by the session key: the
:class:`~unseen.transport._tunnel.ReverseTunnel` a tunnelled domain keeps too); the direct
link is a small threaded HTTP server (``POST /duet``) on a loopback or LAN port that the offer
announces. Stopping either cuts its open connections, so a partner waiting on a request sees
the owner leave at once.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from unseen.duet._host import Host
from unseen.network import DUET_TUNNEL
from unseen.node import new_document, sign_document
from unseen.server import bind_socket, listener_url
from unseen.transport import ReverseTunnel

log = logging.getLogger("unseen.duet")

DIRECT_MAX = 2 << 30  # the largest message on the direct link


def owner_tunnel(host: Host, network_url: str, seed: bytes) -> ReverseTunnel:
    """The owner's reverse tunnel to the network (not started yet), open until stopped."""
    return ReverseTunnel(
        f"{network_url}/network/v1/duet/tunnel",
        lambda: sign_document(new_document(DUET_TUNNEL, host.node.public_key), seed),
        host.answer,
        name="unseen-duet-tunnel",
        workers=32,
        heartbeat_s=10.0,
        max_backoff=5.0,
    )


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
        # The socket is unseen.server's, as a node's is: port 0, a port in use, IPv6 alike.
        super().__init__((bind, port), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = bind_socket(bind, port)
        self.server_address = self.socket.getsockname()
        self.url = listener_url(bind, self.server_address[1], "/duet")
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
