"""The party runtime a node hosts: the engine's party plus lineage and the node's release rule.

Every command's outputs derive from its inputs, so each party keeps ``share id -> set of
(owner rank, object id)`` and updates it for every command it runs (all parties run the same
commands). A reveal passes only if, for every source object on this party's own node, the
session's principal may read it, or the owner accepted a request for this MPC result
(an approval bound to the share id's version, so a reused id is not approved).
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unseen.errors import NotFound, PermissionDenied, UsageError
from unseen.mpc import Party
from unseen.mpc.comm import Comm
from unseen.node._policy import may_read

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["NodeParty", "as_tensor"]

Lineage = frozenset[tuple[int, str]]
_EMPTY: Lineage = frozenset()


class NodeParty(Party):
    """A party hosted by a node: the engine's party plus lineage and the node's release rule."""

    def __init__(
        self, node: Node, user_id: str, session: str, comm: Comm, rank: int, world: int,
        frac_bits: int,
    ) -> None:  # fmt: skip
        super().__init__(comm, rank, world, frac_bits=frac_bits, release_policy=self.may_release)
        self.node = node
        self.user_id = user_id
        self.session = session
        self.lock = threading.Lock()
        self.lineage: dict[str, Lineage] = {}
        self.versions: dict[str, int] = {}
        self.plain_sources: dict[str, Lineage] = {}
        self.approvals: dict[str, tuple[str, int]] = {}  # sid -> (stand-in object, version)
        self._counter = itertools.count(1)

    # -- lineage: every command's outputs derive from its inputs ----------------------------
    def _run(self, meta: dict[str, Any], tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        op = str(meta.get("op"))
        if op == "reveal_to":
            raise PermissionDenied(
                "revealing to a party is not available on nodes: values leave only through "
                "a release to the orchestrator"
            )
        ins = [str(i) for i in meta.get("in") or []]
        outs = [str(o) for o in meta.get("out") or []]
        with self.lock:
            sources = _EMPTY.union(*(self.lineage.get(i, _EMPTY) for i in ins))
        if op == "share_private":
            args = meta.get("args") or {}
            owner, name = int(args.get("owner", -1)), str(args.get("name"))
            if owner == self.rank:
                if name not in self.plain_sources:
                    raise UsageError(f"no input {name!r} was loaded on this node (mpc.input)")
                sources = sources | self.plain_sources[name]
            else:
                sources = sources | {(owner, name)}
        result = super()._run(meta, tensors)
        with self.lock:
            if op == "free":
                for sid in ins:
                    self._forget(sid)
            for sid in outs:
                self._forget(sid)
                self.lineage[sid] = sources
                self.versions[sid] = next(self._counter)
        return result

    def _forget(self, sid: str) -> None:
        self.lineage.pop(sid, None)
        self.versions.pop(sid, None)
        self.approvals.pop(sid, None)

    def own_sources(self, sid: str) -> list[str]:
        """Ids of the objects on this node that share ``sid`` derives from."""
        with self.lock:
            return sorted(obj for rank, obj in self.lineage.get(sid, _EMPTY) if rank == self.rank)

    # -- the release rule -----------------------------------------------------------------
    def may_release(self, sid: str, args: dict[str, Any]) -> bool:
        own = self.own_sources(sid)
        if not own:
            return True
        try:
            principal = self.node.principal(self.user_id)
            with self.lock:
                approval = self.approvals.get(sid)
                version = self.versions.get(sid)
            if approval is not None and approval[1] == version:
                if may_read(principal, self.node.stores.objects.get(approval[0])):
                    return True
            return all(may_read(principal, self.node.stores.objects.get(o)) for o in own)
        except NotFound:
            return False

    def _op_may_reveal(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """Answer (1 or 0) whether this party would release ``ins[0]``; reveals nothing."""
        self._get(ins[0])
        return [torch.tensor([int(self.may_release(ins[0], args))], dtype=torch.int64)]


def as_tensor(value: Any) -> torch.Tensor:
    """A float tensor of a numeric value (array, tensor, pandas column, number)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
    else:
        to_numpy = getattr(value, "to_numpy", None)  # pandas
        arr = to_numpy() if callable(to_numpy) else np.asarray(value)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise UsageError("only numeric values (arrays, tensors, numeric columns) can be shared")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise UsageError("complex values cannot be shared")
    return t if t.is_floating_point() else t.to(torch.float64)
