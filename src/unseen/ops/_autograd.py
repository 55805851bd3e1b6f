"""Gradients on the node: the vocabulary entry ``torch.autograd.grad`` and the tape that makes
it possible (:class:`GradTape`).

A graph runs without autograd (``torch.no_grad``), except a graph with ``torch.autograd.grad``
actions: for those, the ids listed as ``inputs`` of a grad action (the parameters a scientist
trains) are loaded as fresh leaf tensors that require grad, the graph runs with grad enabled,
and the grad action differentiates its scalar ``outputs`` by them. Nothing else becomes a leaf:
``backward``, ``.grad``, ``requires_grad_`` and ``detach_`` stay refused as methods
(:mod:`unseen.ops._banned`), so a scientist can differentiate only through this entry, whose
result is a new value under the release rule like any other.

The tape is shared by the node's two runs of one graph (the part on data the caller may read
runs first, then the rest): a parameter loaded in both must be the same leaf, or a gradient
taken in the second run would not see the operations of the first.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from unseen.ops._graph import Action, Ref
from unseen.ops._spec import OpSpec, block

__all__ = ["GRAD", "GradTape", "autograd_specs", "grad", "grad_mode", "without_grad"]

#: The qualified name of the one autograd entry of the vocabulary.
GRAD = "torch.autograd.grad"


def autograd_specs() -> list[OpSpec]:
    """``torch.autograd.grad(outputs, inputs)``: gradients of a scalar by a list of tensors."""
    return block(
        "grad : outputs inputs",
        namespace="torch.autograd",
        category="autograd",
        result="value",
        target="unseen.ops._autograd.grad",
    )


def grad(outputs: Any, inputs: Any) -> tuple[Any, ...]:
    """The gradients of the scalar ``outputs`` by each tensor of ``inputs`` (a list), as a
    tuple; zeros for an input the scalar does not depend on (no grad flows to it)."""
    torch = sys.modules["torch"]
    if not isinstance(outputs, torch.Tensor) or outputs.numel() != 1:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs)
        raise ValueError(f"gradients are taken of a scalar (one element), not of {shape}")
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError("inputs must be a non-empty list of tensors")
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, torch.Tensor) or not tensor.requires_grad:
            raise ValueError(
                f"inputs[{i}] is not a floating point tensor listed as a parameter of this graph"
            )
    if not outputs.requires_grad:  # what torch says: the loss does not depend on them
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    found = torch.autograd.grad(outputs, list(inputs), allow_unused=True)
    return tuple(torch.zeros_like(t) if g is None else g for g, t in zip(found, inputs))


def _grad_inputs(action: Action) -> list[str]:
    if not isinstance(action, Action) or action.kind != "function" or action.name != GRAD:
        return []  # the executor refuses what is not an Action, with its message
    inputs = action.args[1] if len(action.args) > 1 else action.kwargs.get("inputs")
    if isinstance(inputs, (list, tuple)):
        return [r.id for r in inputs if type(r) is Ref]
    return []


class GradTape:
    """The leaves of a graph's gradients: the ids that grad actions differentiate by, and the
    leaf tensor made for each (made once, reused by every run that shares the tape)."""

    __slots__ = ("leaves", "_made")

    def __init__(self, leaves: Collection[str]) -> None:
        self.leaves = frozenset(leaves)
        self._made: dict[str, Any] = {}

    @classmethod
    def of(cls, actions: Sequence[Action]) -> GradTape | None:
        """The tape of ``actions``, or None when no action takes a gradient."""
        leaves = {rid for action in actions for rid in _grad_inputs(action)}
        return cls(leaves) if leaves else None

    def leaf(self, rid: str, value: Any) -> Any:
        """``value`` as a leaf that requires grad if ``rid`` is a leaf of the tape (and a
        floating point tensor), else unchanged."""
        if rid not in self.leaves:
            return value
        made = self._made.get(rid)
        if made is not None and (made is value or not _is_float_tensor(value)):
            return made
        if not _is_float_tensor(value):
            return value
        made = value.detach().requires_grad_(True)
        self._made[rid] = made
        return made

    def load(self, env: dict[str, Any]) -> dict[str, Any]:
        """``env`` with every leaf of the tape made a leaf (a new dict)."""
        return {rid: self.leaf(rid, value) for rid, value in env.items()}


def _is_float_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return (
        torch is not None
        and isinstance(value, torch.Tensor)
        and (value.is_floating_point() or value.is_complex())
    )


@contextlib.contextmanager
def grad_mode(enabled: bool) -> Iterator[None]:
    """Autograd on (a graph with a tape) or off (every other graph), when torch is loaded."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    with torch.set_grad_enabled(enabled):
        yield


def without_grad(value: Any) -> Any:
    """``value`` with no autograd history (tensors detached, also inside lists, tuples and
    dicts): what a node stores and sends."""
    torch = sys.modules.get("torch")
    if torch is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach() if value.requires_grad else value
    if type(value) in (list, tuple):
        return type(value)(without_grad(v) for v in value)
    if type(value) is dict:
        return {k: without_grad(v) for k, v in value.items()}
    return value


def requires_grad(value: Any) -> bool:
    """Whether ``value`` is a tensor holding autograd history."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor) and value.requires_grad
