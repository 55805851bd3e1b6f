"""Sending an operation to the parties and recording its gradient; operand helpers.

:func:`run_op` is the one place where an :class:`~unseen.mpc.tensor.MPCTensor` operation
becomes a command: fresh output ids, the training truncation when a training pass runs, and a
backward node when an input requires grad.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unseen.errors import UsageError
from unseen.mpc import autograd
from unseen.mpc.autograd import Node

if TYPE_CHECKING:
    from unseen.mpc.cluster import Cluster
    from unseen.mpc.tensor import MPCTensor

__all__ = [
    "run_op",
    "public_operand",
    "index_spec",
    "meta_index",
    "matmul_grads",
    "matmul_grads_public",
    "rmatmul_public",
]


def public_operand(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, bool):
        return torch.tensor(int(value), dtype=torch.int64)
    if isinstance(value, int):
        return torch.tensor(value, dtype=torch.int64)
    if isinstance(value, float):
        return torch.tensor(value, dtype=torch.float64)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise UsageError(f"cannot combine an MPCTensor with {type(value).__name__}") from None


def run_op(
    cluster: Cluster,
    op: str,
    ins: Sequence[MPCTensor],
    shapes: Sequence[Sequence[int]],
    args: dict[str, Any] | None = None,
    tensors: Sequence[torch.Tensor] = (),
    *,
    dtype: torch.dtype = torch.float32,
    grad: tuple[str, Callable[..., Sequence[MPCTensor | None]]] | None = None,
    grad_inputs: Sequence[MPCTensor | None] | None = None,
) -> list[MPCTensor]:
    """Send ``op`` to the parties and return handles for its outputs.

    ``grad = (name, fn)`` records a backward node when an input requires grad; ``fn`` gets
    the output gradient and the outputs, and returns gradients for ``grad_inputs``."""
    for t in ins:
        if t.cluster is not cluster:
            raise UsageError("cannot combine tensors shared on different clusters")
    args = dict(args or {})
    watched = list(grad_inputs if grad_inputs is not None else ins)
    needs_grad = autograd.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in watched
    )
    if autograd.in_training() and cluster.train_trunc:
        args["_trunc"] = cluster.train_trunc
    out_ids = [cluster.new_id() for _ in shapes]
    cluster.command(op, [t.sid for t in ins], out_ids, args, tensors)
    from unseen.mpc.tensor import MPCTensor

    outs = [MPCTensor(cluster, sid, tuple(s), dtype) for sid, s in zip(out_ids, shapes)]
    if needs_grad and grad is not None:
        name, fn = grad
        outs[0].requires_grad = True
        first = outs[0]
        rest = outs[1:]
        outs[0].grad_fn = Node(name, watched, lambda g: fn(g, first, *rest))
    return outs


def matmul_grads(g: MPCTensor, a: MPCTensor, b: MPCTensor) -> tuple[MPCTensor, MPCTensor]:
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    g2 = g
    if a.dim() == 1 and b.dim() == 1:
        g2 = g.reshape(1, 1)
    elif a.dim() == 1:
        g2 = g.unsqueeze(-2)
    elif b.dim() == 1:
        g2 = g.unsqueeze(-1)
    ga = (g2 @ b2.transpose(-1, -2)).sum_to(a2.shape).reshape(a.shape)
    gb = (a2.transpose(-1, -2) @ g2).sum_to(b2.shape).reshape(b.shape)
    return ga, gb


def matmul_grads_public(g: MPCTensor, a: MPCTensor, v: torch.Tensor) -> MPCTensor:
    if a.dim() == 1 or v.dim() == 1:
        raise UsageError(
            "gradients of matmul with a public vector are not supported; use 2-D operands"
        )
    return (g @ v.transpose(-1, -2)).sum_to(a.shape)


def rmatmul_public(vt: torch.Tensor, g: MPCTensor) -> MPCTensor:
    return g.__rmatmul__(vt)


def index_spec(index: Any) -> tuple[list[Any], list[torch.Tensor]]:
    items = index if isinstance(index, tuple) else (index,)
    spec: list[Any] = []
    tensors: list[torch.Tensor] = []
    for it in items:
        if it is None or isinstance(it, int):
            spec.append(it)
        elif it is Ellipsis:
            spec.append("...")
        elif isinstance(it, slice):
            spec.append({"s": [it.start, it.stop, it.step]})
        elif isinstance(it, (torch.Tensor, np.ndarray, list)):
            t = torch.as_tensor(it)
            if t.dtype not in (torch.int64, torch.int32, torch.bool):
                raise UsageError("tensor indices must be integer or boolean")
            spec.append({"$t": len(tensors)})
            tensors.append(t.cpu())
        else:
            raise UsageError(f"unsupported index {it!r}")
    return spec, tensors


def meta_index(spec: list[Any], tensors: list[torch.Tensor]) -> tuple[Any, ...]:
    from unseen.mpc.ops import build_index

    resolved = [tensors[i["$t"]] if isinstance(i, dict) and "$t" in i else i for i in spec]
    return build_index(resolved)
