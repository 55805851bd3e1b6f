"""A :class:`~unseen.mpc.comm.Comm` over encrypted TCP links between machines (a mesh).

Used when the parties and the dealer are hosted by domain servers. Every endpoint except the
orchestrator opens a listener; the orchestrator learns their addresses, hands every endpoint
the table (and, earlier, the session token), and :func:`join_mesh` connects each pair once:
an endpoint dials the lower ids and accepts the higher ones, so the orchestrator (the highest
id) only dials and needs no open port. Each link is a :class:`~unseen.mpc.secure_link.SecureLink`
(authenticated by the token, encrypted). Reader threads feed the inbox; a broken link is
reported at once to whoever waits on that peer.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

from unseen.errors import ProtocolError
from unseen.mpc.comm import Comm, Message
from unseen.mpc.comm_tcp import _tune
from unseen.mpc.secure_link import Identity, SecureLink, accept, dial

__all__ = ["MeshComm", "join_mesh", "open_listener"]

Address = tuple[str, int]


def open_listener(host: str) -> socket.socket:
    """A listening socket on a free port of ``host`` (IPv4 or IPv6)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(64)
    return s


class MeshComm(Comm):
    """An endpoint whose links are :class:`SecureLink` s, attached as the mesh forms."""

    def __init__(self, me: int, n_parties: int, timeout: float = 60.0) -> None:
        super().__init__(me, n_parties, timeout)
        self._links: dict[int, SecureLink] = {}
        self._links_lock = threading.Lock()

    def attach(self, peer: int, link: SecureLink) -> None:
        """Use ``link`` for ``peer`` from now on, and start reading from it."""
        link.sock.settimeout(None)
        try:  # sends time out too: a peer that stops reading must not hang us
            link.sock.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_SNDTIMEO,
                _timeval(self.timeout),
            )
        except OSError:  # pragma: no cover - platforms without SO_SNDTIMEO
            pass
        with self._links_lock:
            self._links[peer] = link
        threading.Thread(
            target=self._read_loop,
            args=(peer, link),
            daemon=True,
            name=f"mpc-mesh-{self.me}-{peer}",
        ).start()

    def _read_loop(self, peer: int, link: SecureLink) -> None:
        try:
            while True:
                self._deliver(peer, link.recv())
        except (OSError, EOFError, ProtocolError, ValueError) as exc:
            self._peer_closed(peer, str(exc) or type(exc).__name__)

    def _post(self, dst: int, msg: Message) -> None:
        link = self._links.get(dst)
        if link is None:
            raise ProtocolError(f"{self.name(self.me)} has no link to {self.name(dst)}")
        try:
            link.send(msg)
        except OSError as exc:
            raise ProtocolError(
                f"{self.name(self.me)} could not send to {self.name(dst)}: {exc}"
            ) from None

    def close(self) -> None:
        super().close()
        with self._links_lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1e6))


def join_mesh(
    comm: MeshComm,
    listener: socket.socket | None,
    peers: dict[int, Address | None],
    key: bytes,
    timeout: float = 30.0,
    identity: Identity | None = None,
) -> None:
    """Link ``comm.me`` with every endpoint in ``peers``: dial lower ids, accept higher ones.

    ``peers`` maps every other endpoint to its address (None for one that only dials, such
    as the orchestrator). ``identity``: this endpoint's node key and the keys expected of
    its peers (links to peers that cannot prove theirs fail). ProtocolError if a peer cannot
    be reached, proves another key, or never connects within ``timeout`` seconds; strangers,
    wrong tokens and wrong keys of accepted peers are refused and ignored.
    """
    me = comm.me
    deadline = time.monotonic() + timeout
    for peer in sorted(p for p in peers if p < me):
        address = peers[peer]
        if address is None:
            raise ProtocolError(f"no address for {comm.name(peer)}")
        try:
            sock = socket.create_connection(address, timeout=max(1.0, deadline - time.monotonic()))
            _tune(sock)
            comm.attach(peer, dial(sock, key, me, peer, identity))
        except ProtocolError as exc:
            sock.close()
            raise ProtocolError(f"{comm.name(me)} refused {comm.name(peer)}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise ProtocolError(
                f"{comm.name(me)} could not connect to {comm.name(peer)} at "
                f"{address[0]}:{address[1]}: {exc}"
            ) from None
    expected = {p for p in peers if p > me}
    if expected and listener is None:
        raise ProtocolError(f"{comm.name(me)} has no listener for its higher peers")
    while expected:
        assert listener is not None
        left = deadline - time.monotonic()
        if left <= 0:
            names = ", ".join(comm.name(p) for p in sorted(expected))
            raise ProtocolError(f"{comm.name(me)}: {names} never connected within {timeout:g} s")
        listener.settimeout(min(left, 1.0))
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        try:
            sock.settimeout(min(left, 10.0))
            _tune(sock)
            peer, link = accept(sock, key, me, expected, identity)
        except (OSError, EOFError, ProtocolError):
            sock.close()  # a stranger, a wrong token or a broken attempt: wait for the real one
            continue
        comm.attach(peer, link)
        expected.discard(peer)
