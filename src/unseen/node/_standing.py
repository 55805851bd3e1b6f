"""``train.approval``: the owner's standing approval of federated fits, and spending it.

One request in the owner's queue (``owner.requests``) names a fit configuration (its hash:
architecture, loss, optimizer, lr, epochs, batch size, rounds), the data and target, and N
rounds. Once accepted, each of the next N ``train.fit`` calls of exactly that configuration
that names the approval (and starts from the caller's own weights) gets a read grant on its
new weights and its training losses (:func:`unseen.node._policy.standing_covers` decides); a changed configuration,
other data, or an approval spent needs a new request.
"""

from __future__ import annotations

import math
import threading
import uuid
from typing import TYPE_CHECKING

from unseen.errors import NotFound, UsageError
from unseen.messages.requests import RequestView
from unseen.messages.training import (
    LOSSES,
    OPTIMIZERS,
    TRAIN_APPROVAL,
    ApprovalRequest,
    FitRequest,
    fit_config_hash,
)
from unseen.node._policy import Lineage, check_use, may_read, standing_covers
from unseen.node._principal import MEMBERS, Principal
from unseen.node._requests import decide, matching_handler, request_view
from unseen.node._routes import typed_route
from unseen.store import RequestRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["approval", "spend"]

#: the most rounds one approval covers
MAX_ROUNDS = 100_000

_SPEND = threading.Lock()  # one read-modify-write of an approval's count at a time


def _live(record: RequestRecord) -> bool:
    standing = record.standing
    assert standing is not None
    if record.status == "pending":
        return True
    return record.status == "accepted" and int(standing["used"]) < int(standing["rounds"])


@typed_route(TRAIN_APPROVAL, MEMBERS)
def approval(node: Node, principal: Principal, request: ApprovalRequest) -> RequestView:
    """File (or find) the caller's standing approval request for this configuration."""
    from unseen.node._training import build

    if request.loss not in LOSSES or request.optimizer not in OPTIMIZERS:
        raise UsageError(
            f"loss must be one of {', '.join(LOSSES)} and optimizer one of "
            f"{', '.join(OPTIMIZERS)}; got {request.loss!r}, {request.optimizer!r}"
        )
    if not math.isfinite(request.lr) or request.lr <= 0:
        raise UsageError(f"lr must be a finite number > 0, got {request.lr!r}")
    for name in ("epochs", "batch_size"):
        if getattr(request, name) < 1:
            raise UsageError(f"{name} must be at least 1, got {getattr(request, name)}")
    if not 1 <= request.rounds <= MAX_ROUNDS:
        raise UsageError(f"rounds must be between 1 and {MAX_ROUNDS}, got {request.rounds}")
    build(request.architecture)  # a malformed or foreign architecture is refused here
    data = node.stores.objects.get(request.data)
    target = node.stores.objects.get(request.target)
    check_use(principal, data)
    check_use(principal, target)
    config = {"architecture": request.architecture, "loss": request.loss,
              "optimizer": request.optimizer, "lr": float(request.lr),
              "epochs": request.epochs, "batch_size": request.batch_size}  # fmt: skip
    config_hash = fit_config_hash(**config, rounds=request.rounds)  # type: ignore[arg-type]
    for existing in node.stores.requests.list():
        standing = existing.standing
        if (
            standing is not None
            and existing.requester == principal.user_id
            and standing["config_hash"] == config_hash
            and (standing["data"], standing["target"]) == (data.id, target.id)
            and _live(existing)
        ):
            return request_view(existing)
    graph = (
        f"federated fit: {request.rounds} round(s) of train.fit(loss={request.loss}, "
        f"optimizer={request.optimizer}, lr={request.lr:g}, epochs={request.epochs}, "
        f"batch_size={request.batch_size}) on {data.id}, {target.id}",
        f"releases each round's trained weights and training losses to {principal.name}; "
        f"config {config_hash}",
    )
    record = RequestRecord(
        id=uuid.uuid4().hex,
        object_id="",
        requester=principal.user_id,
        requester_name=principal.name,
        name=request.name or "federated fit",
        reason=request.reason,
        graph=graph,
        tags=tuple(dict.fromkeys(data.tags + target.tags)),
        standing={
            "config_hash": config_hash,
            "config": config,
            "rounds": request.rounds,
            "used": 0,
            "data": data.id,
            "target": target.id,
        },  # fmt: skip
    )
    if may_read(principal, Lineage(data.sources | target.sources)):
        record.status = "accepted"  # the caller's own data: nothing to approve
        record.decided_by = "release rule"
    node.stores.requests.add(record)
    node.audit(principal, "train.approval", record.id)
    if record.status == "pending":
        handler = matching_handler(node, record)
        if handler is not None:
            record = decide(node, record, handler.action, by=f"handler {handler.id}")
    return request_view(record)


def spend(
    node: Node, principal: Principal, request: FitRequest, param_sources: frozenset[str]
) -> bool:
    """Spend one release of the approval ``request.approval`` names on this fit: True when
    it covers the fit (its weights then get the caller's read grant), else False (the
    weights stay the owner's to release, as without it)."""
    if request.approval is None or request.dp is not None:
        return False
    with _SPEND:
        try:
            record = node.stores.requests.get(request.approval)
        except NotFound:
            return False
        standing = record.standing
        if standing is None:
            return False
        config_hash = fit_config_hash(
            architecture=request.architecture, loss=request.loss, optimizer=request.optimizer,
            lr=request.lr, epochs=request.epochs, batch_size=request.batch_size,
            rounds=int(standing["rounds"]),
        )  # fmt: skip
        if not standing_covers(
            principal, record, config_hash=config_hash, data=request.data,
            target=request.target, param_sources=param_sources,
        ):  # fmt: skip
            return False
        record.standing = {**standing, "used": int(standing["used"]) + 1}
        node.stores.requests.update(record)
    node.audit(principal, "train.approval.spend", record.id)
    return True
