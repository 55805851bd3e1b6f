"""One domain of a cross-silo fit: its model pointer (sent once, reused every round), the
round's local training there (``model_ptr.fit``) and the release of the trained weights.

The weights leave the domain only by reading the trained parameter objects, which asks the
node's release rule: they come back when the fit was DP-SGD, when the owner's standing
approval for this fit configuration covers them, or when the data are the caller's own.
Anything else is a refusal, counted as the domain's failure for the round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unseen.client import Pointer
from unseen.errors import CannotRequestPrivateData, UsageError
from unseen.messages.requests import REQUEST_WAIT, RequestView, RequestWaitRequest
from unseen.messages.training import TRAIN_APPROVAL, ApprovalRequest
from unseen.train import DPSGD, ModulePointer, describe, send_module

__all__ = ["LocalResult", "Silo"]


@dataclass
class LocalResult:
    """What one domain returned for one round (``parameters`` None when it failed)."""

    client: str
    round: int
    parameters: dict[str, np.ndarray] | None = None
    num_examples: int = 0
    loss: float | None = None
    seconds: float = 0.0
    bytes: int = 0
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def _rows(data: Pointer) -> int:
    """The public row count of the data (its shape is public metadata); 1 when unknown."""
    try:
        return max(int(data.shape[0]), 1)
    except Exception:
        return 1


class Silo:
    """A domain taking part in the fit: the scientist's client there, the data pointers."""

    def __init__(self, name: str, data: Any, target: Any) -> None:
        for what, ptr in (("data", data), ("target", target)):
            if not isinstance(ptr, Pointer):
                raise UsageError(
                    f"fl.fit takes {what}= as a list of pointers, one per domain "
                    f"(client.search(...)[0]), and got a {type(ptr).__name__}"
                )
        if data.client is not target.client:
            raise UsageError(
                f"{name}: data and target point to different domains; pass them in the same "
                "order, one pair per domain"
            )
        self.name = name
        self.client = data.client
        self.data = data
        self.target = target
        self.num_examples = _rows(data)
        self.model_ptr: ModulePointer | None = None
        self.approval: str | None = None  # the id of the owner's standing approval in use
        self.approved_left = 0  # the fits it still covers

    def approve(self, model: Any, config: dict[str, Any], rounds: int, wait: float) -> None:
        """Find or file the owner's standing approval for this fit configuration (one
        request per domain and configuration; a new one once it is spent, as when a resumed
        run repeats a round whose release was spent before the kill) and wait up to
        ``wait`` seconds for the decision. Raises when it is denied or still pending."""
        view: RequestView = self.client.ask(
            TRAIN_APPROVAL,
            ApprovalRequest(
                architecture=describe(model), rounds=rounds, data=self.data.id,
                target=self.target.id, name="federated fit",
                reason=f"unseen.fl.fit: the updated weights of {rounds} round(s)", **config,
            ),
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while view.status == "pending" and (left := deadline - time.monotonic()) > 0:
            view = self.client.ask(
                REQUEST_WAIT, RequestWaitRequest(id=view.id, timeout=min(left, 3600.0))
            )
        if view.status == "denied":
            why = f": {view.deny_reason}" if view.deny_reason else ""
            raise UsageError(f"the owner of {self.name} denied the federated fit{why}")
        if view.status != "accepted":
            raise UsageError(
                f"the owner of {self.name} has not yet approved the federated fit (request "
                f"{view.id}): ask them to accept it in owner.requests, or use dp=unseen.DPSGD"
            )
        assert view.standing is not None
        self.approval = view.id
        self.approved_left = view.standing.rounds - view.standing.used

    def train(
        self,
        round: int,
        model: Any,
        weights: dict[str, np.ndarray],
        *,
        loss: str,
        optimizer: str,
        lr: float,
        epochs: int,
        batch_size: int,
        dp: DPSGD | None,
        seed: int | None,
        rounds: int,
        approval_wait: float,
    ) -> LocalResult:
        """Send ``weights``, train on the domain, release the new weights. Never raises:
        a failure is the result's ``error`` (counted, not fatal)."""
        import torch

        out = LocalResult(client=self.name, round=round, num_examples=self.num_examples)
        start = time.perf_counter()
        try:
            if dp is None and (self.approval is None or self.approved_left < 1):
                config = {"loss": loss, "optimizer": optimizer, "lr": float(lr),
                          "epochs": epochs, "batch_size": batch_size}  # fmt: skip
                self.approve(model, config, rounds, approval_wait)
            if self.model_ptr is None:
                self.model_ptr = send_module(model, self.client)
            entries = self.model_ptr._entries()
            for name, pointer in entries:
                value = torch.from_numpy(np.ascontiguousarray(weights[name])).to(pointer.dtype)
                pointer._rebind(self.client.send(value.contiguous()))
                out.bytes += int(value.numel() * value.element_size())
            object.__setattr__(self.model_ptr, "_joined", None)
            object.__setattr__(self.model_ptr, "_withheld", False)
            history = self.model_ptr.fit(
                self.data, self.target, loss=loss, optimizer=optimizer, lr=lr, epochs=epochs,
                batch_size=batch_size, dp=dp, seed=None if dp is not None else seed,
                approval=None if dp is not None else self.approval,
            )  # fmt: skip
            if dp is None:
                self.approved_left -= 1
            losses = history.losses
            if losses:
                out.loss = float(losses[-1])
            params = {}
            for name, pointer in entries:
                value = pointer.get()
                array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach")
                                   else value)  # fmt: skip
                params[name] = array
                out.bytes += int(array.nbytes)
            out.parameters = params
        except CannotRequestPrivateData:
            self.approval = None  # spent or not covering: the next round asks again
            out.error = (
                "not released: the weights derive from data you may not see (train with "
                "dp=unseen.DPSGD(...), or get the owner's standing approval)"
            )
        except Exception as exc:
            out.error = f"{type(exc).__name__}: {exc}"
        out.seconds = time.perf_counter() - start
        return out
