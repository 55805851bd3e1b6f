"""The party runtime a node hosts: the engine's party plus lineage and the node's release rule.

Every command's outputs derive from its inputs, so each party keeps ``share id -> set of
(owner rank, object id)`` and updates it for every command it runs (all parties run the same
commands). A reveal passes only if, for every source object on this party's own node, the
session's principal may read it, or the owner accepted a request for this MPC result
(an approval bound to the share id's version, so a reused id is not approved).
An input that could not be loaded from private data (``mpc.input`` loads zeros instead) is
poisoned: a marker in its lineage, and a reveal of what carries one fails (:meth:`NodeParty.load`).

Lineage is sound only if every party runs the same commands. Each party keeps a running
SHA-256 digest of the commands it received (op, ids, public arguments and tensors; not the
per-party shares of the scientist's own inputs) and, before a private input is shared and
before a release, the parties compare their digests over their authenticated links: a
scientist who sent different commands to different parties gets a ProtocolError, and
nothing is shared or released.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unseen.errors import NotFound, PermissionDenied, ProtocolError, RemoteError, UsageError
from unseen.mpc import Party
from unseen.mpc.comm import Comm
from unseen.node._policy import may_read

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["NodeParty", "as_tensor"]

#: ops before which the parties check that they received the same commands
CHECKPOINTS = frozenset({"share_private", "reveal"})
#: ops whose tensors differ per party by design (shares of the scientist's own input)
PER_PARTY = frozenset({"input"})
DIGEST_TAG = "cmd-digest"

Lineage = frozenset[tuple[int, str]]
_EMPTY: Lineage = frozenset()

#: what a release of anything derived from a poisoned input answers: the words of a failed
#: computation on private data (``check_release``), whatever went wrong
WITHHELD = "the computation failed on the node (details withheld: the inputs are private)"

log = logging.getLogger("unseen.node")


class NodeParty(Party):
    """A party hosted by a node: the engine's party plus lineage and the node's release rule."""

    def __init__(
        self, node: Node, user_id: str, session: str, comm: Comm, rank: int, world: int,
        frac_bits: int, names: tuple[str, ...] = (),
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
        # lineage markers of inputs loaded as zeros (mpc.input on private data that failed,
        # had another shape than declared, or was out of range): what carries one is withheld
        self.poison: set[tuple[int, str]] = set()
        self._counter = itertools.count(1)
        self.names = names
        self._digest = hashlib.sha256(f"unseen-mpc-commands|{session}".encode())

    def load(self, name: str, value: torch.Tensor, object_id: str, *, poisoned: bool) -> None:
        """Keep plaintext ``name`` (object ``object_id`` of this node) for ``share_private``.

        A poisoned input (a stand-in of zeros) gets a marker in its lineage besides its object:
        the marker flows through every command exactly like the object does, and a reveal of
        a share that carries one fails (:meth:`_op_reveal`)."""
        sources = {(self.rank, object_id)}
        if poisoned:
            marker = (self.rank, f"poisoned-input:{uuid.uuid4().hex}")
            sources.add(marker)
        with self.lock:
            if poisoned:
                self.poison.add(marker)
            self.plain[name] = value
            self.plain_sources[name] = frozenset(sources)

    # -- lineage: every command's outputs derive from its inputs ----------------------------
    def _run(self, meta: dict[str, Any], tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        op = str(meta.get("op"))
        if op == "reveal_to":
            raise PermissionDenied(
                "revealing to a party is not available on nodes: values leave only through "
                "a release to the orchestrator"
            )
        self._absorb(op, meta, tensors)
        if op in CHECKPOINTS:
            self._agree(op)
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

    # -- command agreement ------------------------------------------------------------------
    def _absorb(self, op: str, meta: dict[str, Any], tensors: list[torch.Tensor]) -> None:
        head = json.dumps(meta, sort_keys=True, separators=(",", ":"), default=str)
        self._digest.update(len(head).to_bytes(8, "big") + head.encode())
        if op in PER_PARTY:
            return
        for t in tensors:
            flat = t.detach().cpu().contiguous().reshape(-1)
            spec = f"{flat.dtype}|{list(t.shape)}".encode()
            self._digest.update(len(spec).to_bytes(8, "big") + spec)
            if flat.numel():
                self._digest.update(flat.view(torch.uint8).numpy().tobytes())

    def _agree(self, op: str) -> None:
        """Compare command digests with every other party (over the authenticated links)."""
        mine = self._digest.hexdigest()
        for peer in self.ctx.peers:
            self.comm.send(peer, DIGEST_TAG, meta={"digest": mine})
        for peer in self.ctx.peers:
            theirs = self.comm.recv(peer, DIGEST_TAG).meta.get("digest")
            if theirs != mine:
                who = self.names[peer] if peer < len(self.names) else f"party {peer}"
                raise ProtocolError(
                    f"the parties received different commands ({who!r} disagrees with "
                    f"{self.node.name!r} before {op!r}): the orchestrator must send every "
                    "party the same commands; nothing was shared or released"
                )

    def _forget(self, sid: str) -> None:
        self.lineage.pop(sid, None)
        self.versions.pop(sid, None)
        self.approvals.pop(sid, None)

    def own_sources(self, sid: str) -> list[str]:
        """Ids of the objects on this node that share ``sid`` derives from."""
        with self.lock:
            return sorted(
                obj
                for rank, obj in self.lineage.get(sid, _EMPTY) - self.poison
                if rank == self.rank
            )

    def poisoned(self, sid: str) -> bool:
        """Whether share ``sid`` derives from an input of this node that loaded as zeros."""
        with self.lock:
            return not self.lineage.get(sid, _EMPTY).isdisjoint(self.poison)

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

    def _op_reveal(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """The engine's reveal (with the release rule first, so that a result nobody released
        is refused the same way, poisoned or not); then, where the release would happen, a
        poisoned result fails with the words of any failed private computation."""
        out = super()._op_reveal(ins, outs, args)
        if self.poisoned(ins[0]):
            log.warning(
                "MPC result %s of session %s was not released: it derives from an input of "
                "this node that did not load (see the earlier warning)",
                ins[0], self.session[:8],
            )  # fmt: skip
            raise RemoteError(WITHHELD, operation="mpc.reveal")
        return out

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
        # ascontiguousarray makes a 0-d array 1-d: keep the value's own shape (a scalar is ())
        t = torch.from_numpy(np.ascontiguousarray(arr).reshape(arr.shape))
    if t.is_complex():
        raise UsageError("complex values cannot be shared")
    return t if t.is_floating_point() else t.to(torch.float64)
