"""TCP :class:`~unseen.mpc.comm.Comm`: one socket per pair of endpoints, raw tensor frames.

Each frame is ``MAGIC | length | JSON header | raw tensor bytes`` (see :mod:`unseen.mpc.comm`);
tensor bytes go straight from and into tensor memory (no pickle, no copies on receive). A
reader thread per peer socket decodes frames into the endpoint's inbox; a broken link is
reported to whoever waits on that peer, at once rather than at the timeout.

:func:`build_mesh` connects a set of endpoints (each with a listening socket) pairwise and
checks a shared random token in a hello frame, so that strangers cannot join a cluster.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc.comm import MAGIC, MAX_HEADER, Comm, Message, decode_header, encode_header

__all__ = ["TcpComm", "listen", "read_frame", "write_frame", "build_mesh"]

_BUF = 4 << 20


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, _BUF)
        except OSError:  # pragma: no cover - platform limits
            pass


def listen(host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on a free port of ``host``."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(64)
    return s


def _recv_exact(sock: socket.socket, view: memoryview) -> None:
    got = 0
    n = len(view)
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed by the peer")
        got += k


def _tensor_view(t: torch.Tensor) -> memoryview:
    arr: Any = t.reshape(-1).numpy()
    return memoryview(arr).cast("B")


def write_frame(sock: socket.socket, msg: Message) -> None:
    head, tensors = encode_header(msg)
    sock.sendall(head)
    for t in tensors:
        if t.numel():
            sock.sendall(_tensor_view(t))


def read_frame(sock: socket.socket) -> Message:
    """Read one frame; ProtocolError when it is malformed, EOFError when the link closed."""
    prefix = bytearray(8)
    _recv_exact(sock, memoryview(prefix))
    if bytes(prefix[:4]) != MAGIC:
        raise ProtocolError("malformed MPC frame: bad magic")
    (length,) = struct.unpack("!I", bytes(prefix[4:]))
    if length > MAX_HEADER:
        raise ProtocolError("malformed MPC frame: header too long")
    raw = bytearray(length)
    _recv_exact(sock, memoryview(raw))
    tag, meta, specs = decode_header(bytes(raw))
    tensors = []
    for dtype, shape in specs:
        t = torch.empty(shape, dtype=dtype)
        if t.numel():
            _recv_exact(sock, _tensor_view(t))
        tensors.append(t)
    return Message(tag, meta, tensors)


class TcpComm(Comm):
    """An endpoint whose links to peers are connected TCP sockets."""

    def __init__(
        self, me: int, n_parties: int, sockets: dict[int, socket.socket], timeout: float = 60.0
    ) -> None:
        super().__init__(me, n_parties, timeout)
        self._socks = dict(sockets)
        self._send_locks = {peer: threading.Lock() for peer in self._socks}
        # Sends time out too (a peer that stops reading must not hang us); receives are
        # bounded by the inbox timeouts of Comm.recv.
        seconds = int(self.timeout)
        micros = int((self.timeout - seconds) * 1e6)
        for sock in self._socks.values():
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros)
                )
            except OSError:  # pragma: no cover - platforms without SO_SNDTIMEO
                pass
        self._readers = []
        for peer, sock in self._socks.items():
            th = threading.Thread(
                target=self._read_loop, args=(peer, sock), daemon=True, name=f"mpc-rx-{me}-{peer}"
            )
            th.start()
            self._readers.append(th)

    def _read_loop(self, peer: int, sock: socket.socket) -> None:
        try:
            while True:
                self._deliver(peer, read_frame(sock))
        except (OSError, EOFError, ProtocolError, ValueError) as exc:
            self._peer_closed(peer, str(exc) or type(exc).__name__)

    def _post(self, dst: int, msg: Message) -> None:
        sock = self._socks.get(dst)
        if sock is None:
            raise ProtocolError(f"{self.name(self.me)} has no link to {self.name(dst)}")
        try:
            with self._send_locks[dst]:
                write_frame(sock, msg)
        except OSError as exc:
            raise ProtocolError(
                f"{self.name(self.me)} could not send to {self.name(dst)}: {exc}"
            ) from None

    def close(self) -> None:
        super().close()
        for sock in self._socks.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def build_mesh(
    me: int,
    listener: socket.socket,
    addresses: dict[int, tuple[str, int]],
    token: str,
    timeout: float = 30.0,
) -> dict[int, socket.socket]:
    """Connect ``me`` to every endpoint in ``addresses``: dial lower ids, accept higher ids."""
    socks: dict[int, socket.socket] = {}
    deadline = time.monotonic() + timeout
    for peer in sorted(p for p in addresses if p < me):
        host, port = addresses[peer]
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        _tune(sock)
        write_frame(sock, Message("hello", {"id": me, "token": token}))
        socks[peer] = sock
    expected = {p for p in addresses if p > me}
    listener.settimeout(1.0)
    while expected:
        if time.monotonic() > deadline:
            raise ProtocolError(f"endpoint {me}: peers {sorted(expected)} never connected")
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        sock.settimeout(timeout)
        _tune(sock)
        hello = read_frame(sock)
        peer_id = hello.meta.get("id")
        if hello.tag != "hello" or hello.meta.get("token") != token or peer_id not in expected:
            sock.close()
            continue
        sock.settimeout(None)
        socks[int(peer_id)] = sock
        expected.discard(int(peer_id))
    return socks


def connect(address: tuple[str, int], timeout: float = 30.0) -> socket.socket:
    sock = socket.create_connection(address, timeout=timeout)
    sock.settimeout(None)
    _tune(sock)
    return sock


def accept_tuned(listener: socket.socket) -> socket.socket:
    sock, _ = listener.accept()
    sock.settimeout(None)
    _tune(sock)
    return sock
