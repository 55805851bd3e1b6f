"""Size guards for nn layers, counting, pandas and Python scalars (see :mod:`._guards`)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from unseen.ops._guard_util import first, ints, numel, shape_of, split
from unseen.ops._spec import OpSpec

__all__ = ["SPECIAL_GUARDS"]


def _torch_pad(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    shape = list(shape_of(bound["input"]) or ())
    pads = ints(bound["pad"])
    for i in range(0, len(pads) - 1, 2):
        dim = len(shape) - 1 - i // 2
        if dim >= 0:
            shape[dim] += max(0, pads[i]) + max(0, pads[i + 1])
    return math.prod(shape)


def _bincount(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    receiver, bound = split(spec, args, kwargs)
    x = np.asarray(first(spec, args, bound, receiver))
    top = int(x.max()) + 1 if x.size else 0
    return max(top, int(bound.get("minlength", 0) or 0))


def _bins(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    bins = bound.get("bins", 10)
    if isinstance(bins, str):
        return numel(args[0])
    return abs(int(bins)) if isinstance(bins, (int, np.integer)) else numel(bins)


def _meshgrid(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    arrays = list(args)
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = list(arrays[0])
    total = math.prod(numel(a) for a in arrays)
    return total * len(arrays)


def _cdist(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    sa, sb = shape_of(args[0]) or (1, 1), shape_of(args[1]) or (1, 1)
    return math.prod(sa[:-1]) * sb[-2]


def _one_hot(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    x = bound["tensor"]
    classes = int(bound.get("num_classes", -1))
    if classes < 0:
        classes = int(x.max()) + 1 if numel(x) else 0
    return numel(x) * classes


def _conv(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    shape, wshape = shape_of(bound["input"]) or (), shape_of(bound["weight"]) or ()
    spatial = shape[-(len(wshape) - 2) :] if len(wshape) > 2 else ()
    padding = bound.get("padding", 0)
    pads = [0] * len(spatial) if isinstance(padding, str) else ints(padding)
    if len(pads) == 1:
        pads = pads * len(spatial)
    batch = math.prod(shape[: len(shape) - len(spatial) - 1])
    return (
        batch * (wshape[0] if wshape else 1) * math.prod(d + 2 * p for d, p in zip(spatial, pads))
    )


def _adaptive(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    shape = shape_of(bound["input"]) or ()
    k = 2 if spec.short.endswith("2d") else 1
    size = bound["output_size"]
    sizes = [size] * k if not isinstance(size, (list, tuple)) else list(size)
    dims = [shape[len(shape) - k + i] if s is None else abs(int(s)) for i, s in enumerate(sizes)]
    return math.prod(shape[: len(shape) - k]) * math.prod(dims)


def _cut(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    _, bound = split(spec, args, kwargs)
    bins = bound.get("bins", bound.get("q", 1))
    return abs(int(bins)) if isinstance(bins, (int, np.integer)) else None


def _scalar(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Python scalars: characters of a joined or repeated string, 64-bit words of a big int."""
    a, b = args[0], args[1] if len(args) > 1 else 0
    op = spec.short.strip("_").removeprefix("r")
    if op == "add" and isinstance(a, str) and isinstance(b, str):
        return len(a) + len(b)
    if op == "mul":
        for text, times in ((a, b), (b, a)):
            if isinstance(text, str) and isinstance(times, (int, np.integer)):
                return len(text) * int(times)
        if type(a) is int and type(b) is int:
            return (a.bit_length() + b.bit_length()) // 64
    if op == "pow":
        base, exp = (b, a) if spec.short == "__rpow__" else (a, b)
        if type(base) in (int, bool) and type(exp) in (int, bool) and exp > 0:
            return max(1, abs(base).bit_length()) * int(exp) // 64
    return None


def _max_int(value: Any) -> int | None:
    if isinstance(value, (bool, int, np.integer)):
        return int(value)
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iub" and numel(value):
        return int(np.max(np.asarray(value)))
    return None


def _string_chars(value: Any) -> int:
    """Total characters of the string data in a pandas object (0 if none)."""
    pd = sys.modules["pandas"]
    if isinstance(value, pd.DataFrame):
        return sum(_string_chars(value[c]) for c in value.columns if value[c].ndim == 1)
    if pd.api.types.is_string_dtype(value.dtype) or value.dtype == object:
        return int(pd.Series(value).str.len().sum() or 0)
    return 0


def _pandas_mul(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Repeating the strings of a pandas object."""
    receiver, bound = split(spec, args, kwargs)
    times = _max_int(bound.get("other"))
    if times is None or times <= 1:
        return None
    return _string_chars(receiver) * times


def _astype(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """A conversion creates as many elements as its input (``check_guard`` scales by itemsize)."""
    receiver, bound = split(spec, args, kwargs)
    return numel(first(spec, args, bound, receiver))


SPECIAL_GUARDS: dict[str, Callable[[OpSpec, tuple[Any, ...], Mapping[str, Any]], int | None]] = {
    "torch_pad": _torch_pad,
    "bincount": _bincount,
    "bins": _bins,
    "meshgrid": _meshgrid,
    "cdist": _cdist,
    "one_hot": _one_hot,
    "conv": _conv,
    "adaptive": _adaptive,
    "cut": _cut,
    "scalar": _scalar,
    "pandas_mul": _pandas_mul,
    "astype": _astype,
}
