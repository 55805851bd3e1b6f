"""The network node: a registry of domains, search across them, and reaching domains behind NAT.

``launch_network(...)`` runs one in a background thread (``unseen launch network`` in the
foreground). Domains join with ``owner.join_network(url)``: a registration signed by the
domain's node key, approved by the network's owner (or ``auto_approve``), kept fresh by
heartbeats; a domain behind NAT keeps a reverse tunnel that carries messages sealed end to end.
Scientists use ``unseen.connect_network(url)`` (``unseen.client._network``). See docs/network.md.

Importing this package lets the domains of this process join networks: it installs the
domain-side agent into ``unseen.node`` (``unseen launch domain`` imports it).
"""

from unseen.network._agent import AGENTS, Agents, Membership
from unseen.network._app import NETWORK_ACCESS, create_network_app
from unseen.network._launch import RunningNetwork, describe, launch_network, open_network
from unseen.network._node import NETWORK_KINDS, NetworkNode
from unseen.network._registry import Registry
from unseen.node._network import install_agents

install_agents(AGENTS)

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
    "describe",
    "launch_network",
    "open_network",
]
