"""The node's side of an MPC session over the network: its listener, its place in the mesh.

For a remote session ``mpc.join`` carries ``comm = MPCLink(kind="tcp", token=...)``. The node
opens a listener on the host it serves on (see :func:`unseen.node._mpc.serve_mesh_on`; loopback if the server
did not say), answers its address, and waits for ``mpc.mesh`` with every endpoint's address.
Its runtime thread then joins the mesh (dial lower ids, accept higher ones, every link
authenticated by the session token and the node keys the session names, see
:mod:`unseen.mpc.secure_link`, and encrypted),
tells the orchestrator it is ready, and serves. Shares and seeds go node to node.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unseen.errors import ProtocolError, UsageError
from unseen.mpc.comm import orchestrator_id
from unseen.mpc.comm_mesh import MeshComm, join_mesh, open_listener
from unseen.mpc.secure_link import Identity, session_key
from unseen.node._mpc import listen_host

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["PendingMesh", "parse_peers"]

_WILDCARDS = ("", "0.0.0.0", "::")


class PendingMesh:
    """A node endpoint's listener and comm, before and while it joins the mesh."""

    def __init__(
        self, node: Node, token: str | None, me: int, n: int, timeout: float,
        keys: tuple[str, ...],
    ) -> None:  # fmt: skip
        if token is None or len(token) < 32:
            raise UsageError("a remote MPC session needs a random token of at least 32 characters")
        self.key = session_key(token)
        self.me, self.n, self.timeout = me, n, timeout
        expected: dict[int, str | None] = dict(enumerate(keys))
        expected[orchestrator_id(n)] = None  # the scientist has no node key: token only
        self.identity = Identity(node.signing_seed, expected)
        host = listen_host(node)
        try:
            self.listener = open_listener("0.0.0.0" if host in _WILDCARDS else host)
        except OSError as exc:
            raise UsageError(f"this node cannot open an MPC listener on {host!r}: {exc}") from None
        self.advertised = None if host in _WILDCARDS else host
        self.comm = MeshComm(me, n, timeout)
        self.peers: dict[int, tuple[str, int] | None] = {}
        self._ready = threading.Event()
        self._closed = False

    def address(self) -> list[Any]:
        """``[host, port]``; the host is None when the orchestrator should use the node's URL's."""
        return [self.advertised, int(self.listener.getsockname()[1])]

    def start(self, peers: dict[int, tuple[str, int] | None]) -> None:
        if self._ready.is_set():
            raise UsageError("this node has the session's mesh addresses already")
        self.peers = peers
        self._ready.set()

    def run(self, serve: Callable[[], None]) -> None:
        """Thread target: wait for the addresses, join the mesh, say ready, serve."""
        try:
            if not self._ready.wait(self.timeout) or self._closed:
                return
            join_mesh(self.comm, self.listener, self.peers, self.key, self.timeout, self.identity)
            self.listener.close()
            self.comm.send(orchestrator_id(self.n), "ready")
        except (ProtocolError, OSError):
            self.close()
            return
        try:
            serve()
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self.listener.close()
        self.comm.close()


def parse_peers(raw: Any, me: int, n: int) -> dict[int, tuple[str, int] | None]:
    """Validate ``mpc.mesh``'s table: every endpoint but ``me`` and the orchestrator."""
    if not isinstance(raw, dict):
        raise UsageError("mpc.mesh needs 'peers': {endpoint: [host, port]}")
    peers: dict[int, tuple[str, int] | None] = {orchestrator_id(n): None}
    for key, value in raw.items():
        try:
            ep = int(key)
            host, port = value
        except (TypeError, ValueError):
            raise UsageError("mpc.mesh peers are {endpoint: [host, port]}") from None
        if not 0 <= ep <= n or ep == me:
            raise UsageError(f"no MPC endpoint {key!r} to link with")
        if not isinstance(host, str) or not isinstance(port, int) or not 0 < port < 65536:
            raise UsageError(f"bad address for MPC endpoint {ep}: {value!r}")
        peers[ep] = (host, port)
    if len(peers) != n + 1:
        raise UsageError(f"mpc.mesh needs the address of all {n} other endpoints")
    return peers
