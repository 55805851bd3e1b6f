"""Output shapes of operations, by formula, with UsageError on mismatch.

Computing them on meta tensors would work too, but the first elementwise meta op imports
torch's compiler stack (over a second); views and indexing still use meta tensors (free).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from unseen.errors import UsageError

__all__ = ["broadcast", "matmul", "reduce", "pool2d", "via_meta"]

Shape = tuple[int, ...]


def broadcast(a: Sequence[int], b: Sequence[int], what: str = "operation") -> Shape:
    """numpy's broadcasting rule (torch.broadcast_shapes imports sympy on its first call)."""
    a, b = tuple(int(d) for d in a), tuple(int(d) for d in b)
    width = max(len(a), len(b))
    out = []
    for x, y in zip((1,) * (width - len(a)) + a, (1,) * (width - len(b)) + b):
        if x != y and 1 not in (x, y):
            raise UsageError(f"mismatched shapes for {what}: {a} and {b} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def matmul(a: Sequence[int], b: Sequence[int]) -> Shape:
    """torch.matmul's shape rule (1-d operands, batch broadcasting)."""
    a, b = tuple(a), tuple(b)
    if not a or not b:
        raise UsageError("@ needs operands with at least one dimension")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise UsageError(
            f"mismatched shapes for @: {a} and {b} (inner sizes {a2[-1]} and {b2[-2]})"
        )
    batch = broadcast(a2[:-2], b2[:-2], "@ (batch dimensions)")
    out = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return tuple(out)


def reduce(shape: Sequence[int], dims: Sequence[int] | None, keepdim: bool) -> Shape:
    shape = tuple(shape)
    if dims is None:
        return ()
    nd = max(len(shape), 1)
    try:
        norm = {d % nd if -nd <= d < nd else _bad(d, shape) for d in dims}
    except ZeroDivisionError:  # pragma: no cover
        norm = set()
    if keepdim:
        return tuple(1 if i in norm else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in norm)


def _bad(d: int, shape: Shape) -> int:
    raise UsageError(f"dimension {d} out of range for shape {shape}")


def pool2d(
    shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int]
) -> Shape:
    if len(shape) != 4:
        raise UsageError(f"2-d pooling expects NCHW input, got {tuple(shape)}")
    out = []
    for i in range(2):
        if padding[i] * 2 > kernel[i]:
            raise UsageError("pooling padding must be at most half the kernel size")
        size = (shape[2 + i] + 2 * padding[i] - kernel[i]) // stride[i] + 1
        if size < 1:
            raise UsageError(f"pooling kernel {tuple(kernel)} larger than input {tuple(shape[2:])}")
        out.append(size)
    return (int(shape[0]), int(shape[1]), out[0], out[1])


def via_meta(
    fn: Callable[..., torch.Tensor], *shapes: Sequence[int], what: str = "operation"
) -> Shape:
    """Shape of ``fn`` on meta tensors (use for views and indexing only: those are free)."""
    metas = [torch.empty(tuple(s), device="meta") for s in shapes]
    try:
        return tuple(fn(*metas).shape)
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise UsageError(
            f"mismatched shapes for {what}: {shown} ({str(exc).splitlines()[0]})"
        ) from None
