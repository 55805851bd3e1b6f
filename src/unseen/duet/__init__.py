"""Duet: a peer-to-peer session between a data owner's notebook and a data scientist's.

``duet = unseen.launch_duet(network_url=...)`` (the owner) starts a node in the owner's process
and registers a single-use id with the network's rendezvous service; ``unseen.join_duet(id,
network_url=...)`` (the scientist) claims it, pins the owner's key and talks to the node over a
direct link or the network's relay, sealed end to end. See docs/duet.md.
"""

from unseen.duet._host import Host
from unseen.duet._owner import Duet, launch_duet
from unseen.duet._partner import DuetClient, DuetConnection, join_duet

__all__ = ["Duet", "DuetClient", "DuetConnection", "Host", "join_duet", "launch_duet"]
