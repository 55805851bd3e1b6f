"""VirtualWorker: an in-process node owned by its creator, for experiments and tests."""

from __future__ import annotations

from typing import Any

from unseen.client._client import Client
from unseen.errors import UsageError
from unseen.node import Node, QuotaSettings, Role
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

    def _dataset_objects(self) -> set[str]:
        ids: set[str] = set()
        for dataset in self.node.stores.datasets.list():
            for asset in dataset.assets:
                ids.update(i for i in (asset.object_id, asset.mock_id) if i)
        return ids

    @property
    def _objects(self) -> dict[str, Any]:
        """PySyft's ``worker._objects``: id -> value of every object on this node that is not
        part of a dataset (yours to see: you own the node)."""
        kept = self._dataset_objects()
        records = self.node.stores.objects.list()
        return {r.id: self.node.stores.objects.value(r.id) for r in records if r.id not in kept}

    def clear_objects(self) -> None:
        """PySyft's ``worker.clear_objects()``: delete every object on this node that is not
        part of a dataset (datasets stay; pointers to what was deleted raise NotFound)."""
        kept = self._dataset_objects()
        for record in self.node.stores.objects.list():
            if record.id not in kept:
                self.node.stores.objects.delete(record.id)

    def close(self) -> None:
        """Close this session and the node's job executor (jobs running now are stopped)."""
        super().close()
        self.node.close()

    def __repr__(self) -> str:
        return f"<VirtualWorker {self.id!r}>"
