"""VirtualWorker: an in-process node owned by its creator, for experiments and tests."""

from __future__ import annotations

from typing import Any

from unseen.client._client import Client
from unseen.errors import UsageError
from unseen.node import Node, Role
from unseen.node._quotas import QuotaSettings
from unseen.transport import InProcConnection


class VirtualWorker(Client):
    """A node living in this process, with you as its owner (you may always ``.get()``).

    ``VirtualWorker(name="May Clinic")``, or the seed's ``VirtualWorker(hook, id="May
    Clinic")``. ``new_client(...)`` gives a session for another user of the same node, such
    as a data scientist who must ask before seeing private values.
    """

    def __init__(self, hook: Any = None, *, name: str | None = None, id: str | None = None) -> None:
        if isinstance(hook, str) and name is None and id is None:
            hook, name = None, hook
        label = name or id
        if not label:
            raise UsageError('a VirtualWorker needs a name: VirtualWorker(name="May Clinic")')
        self.node = Node(label, quotas=QuotaSettings.unlimited())  # yours: turns, no quotas
        self.id = id or label
        owner = self.node.add_user("owner", "owner")
        super().__init__(InProcConnection(self.node, owner))

    def new_client(self, name: str = "scientist", role: Role = "data_scientist") -> Client:
        """A session on this node for another user (by default a data scientist)."""
        return Client(InProcConnection(self.node, self.node.add_user(name, role)))

    def __repr__(self) -> str:
        return f"<VirtualWorker {self.id!r}>"
