"""Resource limits (:class:`Limits`) and the size guards that run before an allocation.

A guard estimates, from the resolved arguments, how many elements an operation would create
(``numpy.zeros((n, m))`` -> ``n*m``); above :attr:`Limits.max_elements` the operation is refused
before it runs. A guard that cannot understand its arguments refuses too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from unseen.errors import OperationNotAllowed
from unseen.ops._args import bind
from unseen.ops._spec import OpSpec

__all__ = ["Limits", "DEFAULT_LIMITS", "GUARDS", "check_guard"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one graph may do on a node."""

    #: The most elements (or characters, for strings) one operation may create.
    max_elements: int = 2**28
    #: The most actions in one graph.
    max_actions: int = 100_000


DEFAULT_LIMITS = Limits()

Guard = Callable[[OpSpec, tuple[Any, ...], Mapping[str, Any]], "int | None"]


def check_guard(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    """Refuse ``spec`` called with ``args`` (receiver first for methods) if it would allocate
    more than ``limits.max_elements``."""
    assert spec.guard is not None
    try:
        n = GUARDS[spec.guard](spec, args, kwargs)
    except OperationNotAllowed:
        raise
    except Exception as exc:
        raise OperationNotAllowed(
            f"{spec.name}: could not estimate the size of its result from its arguments "
            f"({type(exc).__name__}), so it is refused; pass plain integer shapes and sizes."
        ) from None
    if n is not None and n > limits.max_elements:
        raise OperationNotAllowed(
            f"{spec.name} would allocate {n} elements, above this node's limit of "
            f"{limits.max_elements}; work on smaller pieces, or ask the node owner to raise it."
        )


# -- helpers ---------------------------------------------------------------------------------


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    return tuple(int(d) for d in shape)


def _numel(value: Any) -> int:
    shape = _shape(value)
    if shape is not None:
        return math.prod(shape)
    if isinstance(value, (list, tuple)):
        return math.prod(np.shape(value))
    return 1


def _ints(value: Any) -> list[int]:
    """A shape-like argument (int, sequence, array, tensor) as a list of ints."""
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (int, float)):
        return [int(value)]
    out: list[int] = []
    for item in value:
        out.extend(_ints(item))
    return out


def _prod(value: Any) -> int:
    return math.prod(abs(d) for d in _ints(value))


def _split(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(receiver or None, bound parameters)."""
    if spec.kind == "function":
        return None, bind(spec, args, kwargs)
    return args[0], bind(spec, args[1:], kwargs)


def _first(spec: OpSpec, args: tuple[Any, ...], bound: dict[str, Any], receiver: Any) -> Any:
    if receiver is not None:
        return receiver
    return bound.get(spec.params[0]) if spec.params else None


# -- guards ----------------------------------------------------------------------------------


def _broadcast(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    if len(args) < 2:
        return None
    sa, sb = getattr(args[0], "shape", None), getattr(args[1], "shape", None)
    if sa is None or sb is None or sa == sb:
        return None
    try:
        return math.prod(np.broadcast_shapes(tuple(sa), tuple(sb)))
    except ValueError:
        return None


def _shape_guard(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    for name in ("shape", "size"):
        if name in bound:
            return _prod(bound[name])
    return 1


def _like(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    if bound.get("shape") is not None:
        return _prod(bound["shape"])
    return _numel(_first(spec, args, bound, receiver))


def _arange(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
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
    _, bound = _split(spec, args, kwargs)
    return abs(int(bound.get("num", bound.get("steps", 50))))


def _eye(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    n = int(bound.get("N", bound.get("n", 0)))
    m = bound.get("M", bound.get("m"))
    return abs(n) * abs(int(m) if m is not None else n)


def _identity(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    return int(bound["n"]) ** 2


def _tile(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    base = _first(spec, args, bound, receiver)
    reps = bound.get("reps", bound.get("dims"))
    return _numel(base) * _prod(reps)


def _repeat(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    base = _first(spec, args, bound, receiver)
    reps = _ints(bound.get("repeats", 1))
    size = _numel(base)
    if len(reps) == 1:
        return size * abs(reps[0])
    return size // max(1, len(reps)) * sum(abs(r) for r in reps)


def _tensor_repeat(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    return _numel(receiver) * _prod(bound.get("sizes", ()))


def _expand(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    sizes = _ints(bound.get("sizes", ()))
    shape = list(_shape(receiver) or ())
    offset = len(sizes) - len(shape)
    dims = [shape[i - offset] if s == -1 and i >= offset else abs(s) for i, s in enumerate(sizes)]
    return math.prod(dims)


def _broadcast_to(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    return _prod(bound.get("shape", bound.get("size", ())))


def _broadcast_tensors(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    shapes = [tuple(_shape(t) or ()) for t in args]
    return math.prod(np.broadcast_shapes(*shapes)) * len(shapes)


def _outer(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    return _numel(args[0]) * _numel(args[1])


def _matmul(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    if len(args) < 2:
        return None
    a, b = args[0], args[1]
    if spec.short.startswith("__r"):
        a, b = b, a
    sa, sb = _shape(a), _shape(b)
    if sa is None or sb is None or not sa or not sb:
        return None
    if spec.short in ("tensordot",):
        return math.prod(sa) * math.prod(sb) // max(1, sa[-1] * sb[0])
    if spec.short in ("dot", "inner"):
        inner_b = sb[-2] if spec.short == "dot" and len(sb) >= 2 else sb[-1]
        return math.prod(sa) // max(1, sa[-1]) * (math.prod(sb) // max(1, inner_b))
    if len(sa) < 2 or len(sb) < 2:
        return max(math.prod(sa), math.prod(sb))
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return math.prod(batch) * sa[-2] * sb[-1]


_LETTERS = re.compile(r"[A-Za-z]")


def _einsum(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    subscripts, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    text = subscripts.replace(" ", "")
    inputs, _, output = text.partition("->")
    dims: dict[str, int] = {}
    ellipsis = 1
    for term, op in zip(inputs.split(","), operands):
        shape = _shape(op) or ()
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
    if "->" not in text:
        counts = {c: inputs.count(c) for c in set(_LETTERS.findall(inputs))}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    return math.prod(dims.get(c, 1) for c in _LETTERS.findall(output)) * ellipsis


def _diag(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    base = _first(spec, args, bound, receiver)
    shape = _shape(base) or ()
    k = abs(int(bound.get("k", bound.get("diagonal", bound.get("offset", 0))) or 0))
    if spec.short == "diag_embed":
        n = shape[-1] if shape else 1
        return _numel(base) * (n + k)
    if spec.short == "diagflat" or len(shape) <= 1:
        n = _numel(base) + k
        return n * n
    return min(shape)


def _pad(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    shape = _shape(bound["array"]) or ()
    widths = np.broadcast_to(np.asarray(bound["pad_width"], dtype=np.int64), (len(shape), 2))
    return math.prod(d + abs(int(a)) + abs(int(b)) for d, (a, b) in zip(shape, widths))


def _torch_pad(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    shape = list(_shape(bound["input"]) or ())
    pads = _ints(bound["pad"])
    for i in range(0, len(pads) - 1, 2):
        dim = len(shape) - 1 - i // 2
        if dim >= 0:
            shape[dim] += max(0, pads[i]) + max(0, pads[i + 1])
    return math.prod(shape)


def _bincount(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = _split(spec, args, kwargs)
    x = _first(spec, args, bound, receiver)
    top = int(x.max()) + 1 if _numel(x) else 0
    return max(top, int(bound.get("minlength", 0) or 0))


def _bins(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    bins = bound.get("bins", 10)
    if isinstance(bins, str):
        return _numel(args[0])
    return abs(int(bins)) if isinstance(bins, (int, np.integer)) else _numel(bins)


def _meshgrid(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    arrays = list(args)
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = list(arrays[0])
    total = math.prod(_numel(a) for a in arrays)
    return total * len(arrays)


def _cdist(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    sa, sb = _shape(args[0]) or (1, 1), _shape(args[1]) or (1, 1)
    return math.prod(sa[:-1]) * sb[-2]


def _one_hot(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    x = bound["tensor"]
    classes = int(bound.get("num_classes", -1))
    if classes < 0:
        classes = int(x.max()) + 1 if _numel(x) else 0
    return _numel(x) * classes


def _conv(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    shape, wshape = _shape(bound["input"]) or (), _shape(bound["weight"]) or ()
    spatial = shape[-(len(wshape) - 2) :] if len(wshape) > 2 else ()
    padding = bound.get("padding", 0)
    pads = [0] * len(spatial) if isinstance(padding, str) else _ints(padding)
    if len(pads) == 1:
        pads = pads * len(spatial)
    batch = math.prod(shape[: len(shape) - len(spatial) - 1])
    return batch * (wshape[0] if wshape else 1) * math.prod(d + 2 * p for d, p in zip(spatial, pads))


def _adaptive(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    shape = _shape(bound["input"]) or ()
    k = 2 if spec.short.endswith("2d") else 1
    size = bound["output_size"]
    sizes = [size] * k if not isinstance(size, (list, tuple)) else list(size)
    dims = [shape[len(shape) - k + i] if s is None else abs(int(s)) for i, s in enumerate(sizes)]
    return math.prod(shape[: len(shape) - k]) * math.prod(dims)


def _cut(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = _split(spec, args, kwargs)
    bins = bound.get("bins", bound.get("q", 1))
    return abs(int(bins)) if isinstance(bins, (int, np.integer)) else None


def _scalar_mul(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    a, b = args[0], args[1] if len(args) > 1 else 1
    for text, times in ((a, b), (b, a)):
        if isinstance(text, str) and isinstance(times, (int, np.integer)):
            return len(text) * int(times)
    return None


def _scalar_pow(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    base, exp = args[0], args[1] if len(args) > 1 else 1
    if spec.short == "__rpow__":
        base, exp = exp, base
    if type(base) in (int, bool) and type(exp) in (int, bool) and exp > 0:
        return max(1, abs(base).bit_length()) * int(exp) // 64
    return None


GUARDS: dict[str, Guard] = {
    "broadcast": _broadcast,
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
    "torch_pad": _torch_pad,
    "bincount": _bincount,
    "bins": _bins,
    "meshgrid": _meshgrid,
    "cdist": _cdist,
    "one_hot": _one_hot,
    "conv": _conv,
    "adaptive": _adaptive,
    "cut": _cut,
    "scalar_mul": _scalar_mul,
    "scalar_pow": _scalar_pow,
}
