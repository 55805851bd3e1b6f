"""Size guards: from an operation's resolved arguments, the number of elements (or
characters, or 64-bit words for big ints) it would create; ``None`` when it creates nothing
beyond its inputs. :func:`unseen.ops._limits.check_guard` compares it with the limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from unseen.ops._guard_util import first, ints, numel, prod, shape_of, split
from unseen.ops._guards_special import SPECIAL_GUARDS
from unseen.ops._spec import OpSpec

__all__ = ["GUARDS", "Guard", "einsum_dims", "tensordot_contracted"]

Guard = Callable[[OpSpec, tuple[Any, ...], Mapping[str, Any]], "int | None"]


def _broadcast(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Elementwise operations: the size of the broadcast of every array argument."""
    if len(args) < 2 and not kwargs:
        return None
    shapes = [
        s for s in (getattr(a, "shape", None) for a in (*args, *kwargs.values())) if s is not None
    ]
    if len(shapes) < 2 or all(s == shapes[0] for s in shapes):
        return None
    try:
        return math.prod(np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        return None


def _concat(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Joining arrays: the sum of their sizes."""
    receiver, bound = split(spec, args, kwargs)
    joined = first(spec, args, bound, receiver)
    if isinstance(joined, dict):
        joined = list(joined.values())
    items = list(joined) if isinstance(joined, (list, tuple)) else [joined]
    if spec.short == "append":
        items.append(bound.get("values"))
    return sum(numel(item) for item in items)


def _shape_guard(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    for name in ("shape", "size"):
        if name in bound:
            return prod(bound[name])
    return 1


def _like(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    if bound.get("shape") is not None:
        return prod(bound["shape"])
    return numel(first(spec, args, bound, receiver))


def _arange(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    pos = [float(v) for v in bound.get("args", ())]
    start, step = 0.0, 1.0
    if len(pos) == 1:
        stop = pos[0]
    elif len(pos) >= 2:
        start, stop = pos[0], pos[1]
        step = pos[2] if len(pos) > 2 else 1.0
    else:
        stop = float(bound.get("stop", bound.get("end", 0)))
    start = float(bound.get("start", start))
    stop = float(bound.get("stop", bound.get("end", stop)))
    step = float(bound.get("step", step) or 1.0)
    return max(0, math.ceil((stop - start) / step))


def _num(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    return abs(int(bound.get("num", bound.get("steps", 50))))


def _eye(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    n = int(bound.get("N", bound.get("n", 0)))
    m = bound.get("M", bound.get("m"))
    return abs(n) * abs(int(m) if m is not None else n)


def _identity(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    return int(bound["n"]) ** 2


def _tile(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    base = first(spec, args, bound, receiver)
    reps = bound.get("reps", bound.get("dims"))
    return numel(base) * prod(reps)


def _repeat(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    base = first(spec, args, bound, receiver)
    reps = ints(bound.get("repeats", 1))
    size = numel(base)
    if len(reps) == 1:
        return size * abs(reps[0])
    return size // max(1, len(reps)) * sum(abs(r) for r in reps)


def _tensor_repeat(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    return numel(receiver) * prod(bound.get("sizes", ()))


def _expand(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    sizes = ints(bound.get("sizes", ()))
    shape = list(shape_of(receiver) or ())
    offset = len(sizes) - len(shape)
    dims = [shape[i - offset] if s == -1 and i >= offset else abs(s) for i, s in enumerate(sizes)]
    return math.prod(dims)


def _broadcast_to(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    return prod(bound.get("shape", bound.get("size", ())))


def _broadcast_tensors(
    spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> int | None:
    shapes = [tuple(shape_of(t) or ()) for t in args]
    return math.prod(np.broadcast_shapes(*shapes)) * len(shapes)


def _outer(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    return numel(args[0]) * numel(args[1])


def _matmul(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    if len(args) < 2:
        return None
    a, b = args[0], args[1]
    if spec.short.startswith("__r"):
        a, b = b, a
    sa, sb = shape_of(a), shape_of(b)
    if sa is None or sb is None or not sa or not sb:
        return None
    if spec.short == "tensordot":
        return _tensordot(spec, args, kwargs, sa, sb)
    if spec.short in ("dot", "inner"):
        inner_b = sb[-2] if spec.short == "dot" and len(sb) >= 2 else sb[-1]
        return math.prod(sa) // max(1, sa[-1]) * (math.prod(sb) // max(1, inner_b))
    if len(sa) < 2 or len(sb) < 2:
        return max(math.prod(sa), math.prod(sb))
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return math.prod(batch) * sa[-2] * sb[-1]


def _tensordot(
    spec: OpSpec,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    sa: tuple[int, ...],
    sb: tuple[int, ...],
) -> int:
    contracted = tensordot_contracted(spec, args, kwargs, sa, sb)
    return math.prod(sa) // max(1, contracted) * (math.prod(sb) // max(1, contracted))


def tensordot_contracted(
    spec: OpSpec,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    sa: tuple[int, ...],
    sb: tuple[int, ...],
) -> int:
    """The product of the sizes that a tensordot sums over."""
    _, bound = split(spec, args, kwargs)
    axes = bound.get("axes", bound.get("dims", 2))
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        return math.prod(sa[len(sa) - k :]) if k else 1
    first, _ = (ints(part) for part in axes)
    return math.prod(sa[x % len(sa)] for x in {x % len(sa) for x in first})


_LETTERS = re.compile(r"[A-Za-z]")


def einsum_dims(args: tuple[Any, ...]) -> tuple[dict[str, int], int, int]:
    """(size of each named index, size of the ``...`` part, number of operands)."""
    subscripts, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    inputs = subscripts.replace(" ", "").partition("->")[0]
    dims: dict[str, int] = {}
    ellipsis = 1
    for term, op in zip(inputs.split(","), operands):
        shape = shape_of(op) or ()
        letters = _LETTERS.findall(term)
        if "..." in term:
            named = math.prod(shape[i] for i in range(len(letters))) if letters else 1
            ellipsis = max(ellipsis, math.prod(shape) // max(1, named))
            before = term.split("...")[0]
            n_before = len(_LETTERS.findall(before))
            rest = len(shape) - (len(letters) - n_before)
            ordered = list(shape[:n_before]) + list(shape[rest:])
        else:
            ordered = list(shape)
        for letter, size in zip(letters, ordered):
            dims[letter] = max(dims.get(letter, 1), int(size))
    return dims, ellipsis, len(operands)


def _einsum(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    text = args[0].replace(" ", "")
    inputs, _, output = text.partition("->")
    dims, ellipsis, _ = einsum_dims(args)
    if "->" not in text:
        counts = {c: inputs.count(c) for c in set(_LETTERS.findall(inputs))}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    return math.prod(dims.get(c, 1) for c in _LETTERS.findall(output)) * ellipsis


def _diag(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    base = first(spec, args, bound, receiver)
    shape = shape_of(base) or ()
    k = abs(int(bound.get("k", bound.get("diagonal", bound.get("offset", 0))) or 0))
    if spec.short == "diag_embed":
        n = shape[-1] if shape else 1
        return numel(base) * (n + k)
    if spec.short == "diagflat" or len(shape) <= 1:
        n = numel(base) + k
        return n * n
    return min(shape)


def _pad(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    shape = shape_of(bound["array"]) or ()
    widths = np.broadcast_to(np.asarray(bound["pad_width"], dtype=np.int64), (len(shape), 2))
    return math.prod(d + abs(int(a)) + abs(int(b)) for d, (a, b) in zip(shape, widths))


GUARDS: dict[str, Guard] = {
    **SPECIAL_GUARDS,
    "broadcast": _broadcast,
    "concat": _concat,
    "shape": _shape_guard,
    "like": _like,
    "arange": _arange,
    "num": _num,
    "eye": _eye,
    "identity": _identity,
    "tile": _tile,
    "repeat": _repeat,
    "tensor_repeat": _tensor_repeat,
    "expand": _expand,
    "broadcast_to": _broadcast_to,
    "broadcast_tensors": _broadcast_tensors,
    "outer": _outer,
    "matmul": _matmul,
    "einsum": _einsum,
    "diag": _diag,
    "pad": _pad,
}
