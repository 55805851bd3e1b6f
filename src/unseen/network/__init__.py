"""The network node: a registry of domains, search across them, and reaching domains behind NAT.

``launch_network(...)`` runs one in a background thread (``unseen launch network`` in the
foreground). Domains join with ``owner.join_network(url)``: a registration signed by the
domain's node key, approved by the network's owner (or ``auto_approve``), kept fresh by
heartbeats; a domain behind NAT keeps a reverse tunnel that carries messages sealed end to end.
Scientists use ``unseen.connect_network(url)`` (``unseen.client._network``). See docs/network.md.

The domain's side of a membership (signed registration, heartbeats, its end of the tunnel) is
``unseen.server``'s (``Agents``, re-exported here); a launched domain installs it when it starts.
"""

from unseen.network._app import NETWORK_ACCESS, create_network_app
from unseen.network._launch import RunningNetwork, describe, launch_network, open_network
from unseen.network._node import NETWORK_KINDS, NetworkNode, build_network_routes
from unseen.network._registry import Registry
from unseen.network._rendezvous import DUET_TUNNEL, ID_BYTES, OFFER
from unseen.server import AGENTS, Agents, Membership

__all__ = [
    "AGENTS",
    "NETWORK_ACCESS",
    "NETWORK_KINDS",
    "Agents",
    "Membership",
    "NetworkNode",
    "Registry",
    "RunningNetwork",
    "create_network_app",
    "build_network_routes",
    "describe",
    "launch_network",
    "open_network",
    "DUET_TUNNEL",
    "ID_BYTES",
    "OFFER",
]
