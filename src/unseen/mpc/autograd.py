"""Reverse-mode differentiation over :class:`~unseen.mpc.tensor.MPCTensor` operations.

The orchestrator records, for each operation whose inputs require gradients, a
:class:`Node` with the input tensors and a closure that maps the output gradient (an
MPCTensor) to input gradients (MPCTensors). :func:`backward` walks the graph in reverse
topological order; every gradient computation is itself an MPC operation run by the parties,
so gradients stay secret-shared.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from unseen.mpc.tensor import MPCTensor

__all__ = [
    "Node",
    "no_grad",
    "is_grad_enabled",
    "in_backward",
    "in_training",
    "training_forward",
    "backward",
]

_state = threading.local()

BackwardFn = Callable[["MPCTensor"], Sequence[Optional["MPCTensor"]]]


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def in_backward() -> bool:
    """Whether a backward pass is running (its products use the training truncation)."""
    return getattr(_state, "backward", False)


def in_training() -> bool:
    """Whether a training forward or backward pass is running: its products use the
    cluster's training truncation (dealer pairs by default)."""
    return getattr(_state, "backward", False) or getattr(_state, "training", False)


@contextlib.contextmanager
def training_forward(active: bool = True) -> Iterator[None]:
    """Mark a model's forward pass in training mode (see :func:`in_training`)."""
    old = getattr(_state, "training", False)
    _state.training = active and is_grad_enabled()
    try:
        yield
    finally:
        _state.training = old


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Operations inside record no graph (like ``torch.no_grad``)."""
    old = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = old


class Node:
    """How to send an output gradient back to the inputs of one operation."""

    __slots__ = ("inputs", "fn", "name")

    def __init__(self, name: str, inputs: Sequence[MPCTensor | None], fn: BackwardFn) -> None:
        self.name = name
        self.inputs = list(inputs)
        self.fn = fn


def _toposort(root: MPCTensor) -> list[MPCTensor]:
    order: list[MPCTensor] = []
    seen: set[int] = set()
    stack: list[tuple[MPCTensor, bool]] = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t.grad_fn is not None:
            for p in t.grad_fn.inputs:
                if p is not None and p.requires_grad and id(p) not in seen:
                    stack.append((p, False))
    return order


def backward(root: MPCTensor, grad: MPCTensor | None = None) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not root.requires_grad:
        from unseen.errors import UsageError

        raise UsageError("backward() on a tensor that does not require grad")
    if grad is None:
        if root.numel() != 1:
            from unseen.errors import UsageError

            raise UsageError("backward() without a gradient needs a one-element tensor")
        import torch

        grad = root.cluster.public(torch.ones(root.shape, dtype=torch.float64), dtype=root.dtype)
    grads: dict[int, MPCTensor] = {id(root): grad}
    _state.backward = True
    try:
        _run_backward(root, grads)
    finally:
        _state.backward = False


def _run_backward(root: MPCTensor, grads: dict[int, MPCTensor]) -> None:
    with no_grad():
        for t in reversed(_toposort(root)):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t.grad_fn is None:
                t.grad = g if t.grad is None else t.grad + g
                continue
            in_grads = t.grad_fn.fn(g)
            for p, pg in zip(t.grad_fn.inputs, in_grads):
                if p is None or pg is None or not p.requires_grad:
                    continue
                prev = grads.get(id(p))
                grads[id(p)] = pg if prev is None else prev + pg
