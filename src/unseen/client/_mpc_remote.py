"""Joining an MPC session whose parties and crypto provider are domain servers.

The orchestrator (this process) draws a random session token and sends it in ``mpc.join``
(``comm = MPCLink(kind="tcp", token=...)``) to every node, over that node's own client link.
Each node opens a listener on the host it serves on and answers its address; the
orchestrator sends every node the address table (``mpc.mesh``), joins the mesh itself as the
highest endpoint (it only dials: the scientist needs no open port), and waits until every
node says it is ready. Links are authenticated by the token and, between nodes and from
each node to the orchestrator, by the node keys of the session description; encrypted
(:mod:`unseen.mpc.secure_link`); shares, openings and seeds go node to node, never here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from unseen.errors import UsageError
from unseen.messages.mpc import MPC_JOIN, MPC_MESH, MPCJoinRequest, MPCLink, MPCMeshRequest
from unseen.mpc.comm_mesh import MeshComm, join_mesh
from unseen.mpc.secure_link import Identity, session_key
from unseen.transport import InProcConnection

if TYPE_CHECKING:
    from unseen.client._client import Client

__all__ = ["link_kind", "join_remote"]


def link_kind(clients: Sequence[Client]) -> str:
    """``"local"`` when every node lives in this process, ``"tcp"`` when none does."""
    local = [isinstance(c._conn, InProcConnection) for c in clients]
    if all(local):
        return "local"
    if not any(local):
        return "tcp"
    inproc = ", ".join(repr(c.node_name) for c, here in zip(clients, local) if here)
    raise UsageError(
        f"the parties and the crypto provider must all be in-process nodes (VirtualWorkers) or "
        f"all domain servers (unseen.login); {inproc} in-process and others remote cannot "
        "share one MPC session"
    )


def url_host(client: Client) -> str:
    """The host name this process reaches ``client``'s node at (from its URL)."""
    conn: Any = client._conn
    for path in (("session",), ("http", "session")):
        obj = conn
        for attr in path:
            obj = getattr(obj, attr, None)
        url = getattr(obj, "url", None)
        if isinstance(url, str):
            return urlsplit(url).hostname or "127.0.0.1"
    return "127.0.0.1"


def join_remote(
    clients: Sequence[Client],
    join_request: Callable[[int, MPCLink | None], MPCJoinRequest],
    joined: list[Client],
    timeout: float,
) -> MeshComm:
    """Start every node's runtime (parties in rank order, then the dealer) and build the
    mesh; returns the orchestrator's comm. ``join_request(endpoint, link)`` is an endpoint's
    ``mpc.join``; ``joined`` collects the nodes that joined, so that the caller can make them
    leave on failure."""
    n = len(clients) - 1
    link = MPCLink(kind="tcp", token=secrets.token_hex(32))
    addresses: dict[int, tuple[str, int]] = {}
    session = ""
    for ep, c in enumerate(clients):
        request = join_request(ep, link)
        session = request.session
        reply = c.ask(MPC_JOIN, request)
        joined.append(c)
        if reply.address is None or len(reply.address) != 2:
            raise UsageError(f"{c.node_name!r} answered no MPC mesh address: upgrade the node")
        host, port = reply.address
        addresses[ep] = (str(host) if host else url_host(c), int(port))
    table = {str(ep): list(addr) for ep, addr in addresses.items()}
    for ep, c in enumerate(clients):
        peers = {k: v for k, v in table.items() if k != str(ep)}
        c.ask(MPC_MESH, MPCMeshRequest(session=session, peers=peers))
    comm = MeshComm(n + 1, n, timeout)
    _label(comm, clients)
    try:
        expected: dict[int, str | None] = {ep: c.node_key for ep, c in enumerate(clients)}
        identity = Identity(None, expected)  # the nodes must prove the keys we named
        assert link.token is not None
        join_mesh(comm, None, dict(addresses), session_key(link.token), timeout, identity)
        for ep in range(n + 1):
            comm.recv(ep, "ready", timeout=timeout)
    except BaseException:
        comm.close()
        raise
    return comm


def _label(comm: MeshComm, clients: Sequence[Client]) -> None:
    comm.names.update({i: c.node_name for i, c in enumerate(clients)})
    comm.names[len(clients)] = "me"
