"""Stand-ins: a value of the same family, shape and dtype as another, holding no data.

When an action on private data fails, the executor (``on_failure="continue"``) goes on with
the actions that depend on it, on a stand-in of what the failed action would have returned, so
that the work done does not tell whether it failed (docs/security.md, "Timing"). A stand-in is
computed from shapes, dtypes and labels only: zeros, empty strings, ``False``. It is never
released: every result of a run that failed is marked failed.

:func:`standin` makes one from a value; :func:`fallback` makes what replaces a failed action's
result when the action fails on stand-ins too (zeros of the shape a reshape asked for, or the
stand-in of its receiver or first array argument).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from unseen.ops._families import is_pandas_object, is_tensor

__all__ = ["SHAPED", "ZERO", "fallback", "standin"]

#: The stand-in of last resort: a float64 zero.
ZERO = np.float64(0.0)


def _array(value: np.ndarray) -> np.ndarray:
    return np.zeros(value.shape, dtype=value.dtype)


def _generic(value: np.generic) -> Any:
    return np.zeros((), dtype=value.dtype)[()]


def _column(values: Any, n: int) -> Any:
    """Zeros (or empty strings) of a pandas column's or Index's dtype, ``n`` long."""
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.hasobject:
            return np.full(n, "", dtype=object)
        return np.zeros(n, dtype=dtype)
    if isinstance(dtype, pd.CategoricalDtype):  # missing: no category is picked
        return pd.Categorical.from_codes(np.full(n, -1), dtype=dtype)
    # extension dtypes: strings, nullable ints and booleans, categoricals, datetimes with tz
    attempts = (
        lambda: pd.array([""] * n, dtype=dtype),
        lambda: pd.array(np.zeros(n, dtype=np.int64), dtype="Int64").astype(dtype),
    )
    if not pd.api.types.is_string_dtype(dtype):
        attempts = attempts[::-1]
    for attempt in attempts:
        try:
            return attempt()
        except Exception:
            continue
    return np.full(n, "", dtype=object)


def _pandas(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        n = len(value)
        columns = {i: _column(value.iloc[:, i], n) for i in range(value.shape[1])}
        frame = pd.DataFrame(columns, index=value.index)
        frame.columns = value.columns
        return frame
    if isinstance(value, pd.Series):
        return pd.Series(_column(value, len(value)), index=value.index, name=value.name)
    if isinstance(value, pd.RangeIndex):
        return pd.RangeIndex(len(value), name=value.name)
    return pd.Index(_column(value, len(value)), name=value.name)


def _groupby(value: Any) -> Any:
    """The stand-in of the grouped object, grouped by the group numbers of its rows (so that
    the groups have the same sizes; their keys become 0, 1, ...)."""
    fake = standin(value.obj)
    try:
        return fake.groupby(value.ngroup().to_numpy(), sort=True)
    except Exception:
        return fake


def _sequence(value: Any) -> Any:
    items = [standin(v) for v in value]
    cls = type(value)
    if cls in (list, tuple):
        return cls(items)
    try:  # torch.Size, torch's and numpy's named result tuples
        return cls(items)
    except Exception:
        try:
            return cls(*items)
        except Exception:
            return tuple(items)


def standin(value: Any) -> Any:
    """A value like ``value`` (family, shape, dtype, labels) holding zeros: never ``value``'s
    data. Anything not understood becomes :data:`ZERO`."""
    cls = type(value)
    if cls is np.ndarray:
        return _array(value)
    if cls is bool:
        return False
    if cls in (int, float, complex):
        return cls(0)
    if cls is str:
        return ""
    if value is None:
        return None
    if isinstance(value, np.generic):
        return _generic(value)
    if is_tensor(value):
        import torch

        return torch.zeros(value.shape, dtype=value.dtype)
    if is_pandas_object(value):
        return _pandas(value)
    if cls is dict:
        return {k: standin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return _sequence(value)
    if hasattr(value, "obj") and hasattr(value, "keys") and hasattr(value, "ngroups"):
        return _groupby(value)
    if hasattr(value, "obj") and hasattr(value, "name") and value.name in (
        "loc", "iloc", "at", "iat"
    ):  # fmt: skip
        return getattr(standin(value.obj), value.name)
    return ZERO


#: Operations whose arguments say the shape of their result: a stand-in of that shape replaces
#: them when they fail (``rows.reshape((3, 2))`` with a private number of rows).
SHAPED = frozenset({"reshape", "view", "resize", "broadcast_to", "expand"})


def _ints(values: Iterable[Any]) -> list[int] | None:
    out: list[int] = []
    for value in values:
        if isinstance(value, (list, tuple)):  # torch.Size too
            inner = _ints(value)
            if inner is None:
                return None
            out += inner
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out.append(int(value))
        else:
            return None
    return out


def _shaped(receiver: Any, rest: list[Any], kwargs: dict[str, Any], most: int) -> Any:
    """Zeros of the shape a reshape-like call asked for (a ``-1`` made to fit the receiver's
    size), of the receiver's dtype; None if the arguments name no such shape or it is too big."""
    found = _ints([*rest, *(kwargs[k] for k in ("shape", "newshape", "size") if k in kwargs)])
    if not found or any(d < -1 for d in found) or found.count(-1) > 1:
        return None
    known = math.prod(d for d in found if d != -1)
    size = int(np.prod(receiver.shape))
    shape = [max(1, size // max(1, known)) if d == -1 else d for d in found]
    if math.prod(shape) > most:
        return None
    if is_tensor(receiver):
        import torch

        return torch.zeros(shape, dtype=receiver.dtype)
    return np.zeros(shape, dtype=receiver.dtype)


def fallback(name: str, args: list[Any], kwargs: dict[str, Any], most: int) -> Any:
    """What stands in for action ``name`` (unqualified) called with ``args`` (stand-ins, the
    receiver first for a method) when it fails on stand-ins too: zeros of the shape a
    reshape-like call asked for (at most ``most`` elements), else the stand-in of its first
    argument that is an array, tensor or pandas object (the receiver of most), else ZERO."""
    arrays = [i for i, a in enumerate(args) if type(a) is np.ndarray or is_tensor(a)]
    if name in SHAPED and arrays:
        found = _shaped(args[arrays[0]], args[arrays[0] + 1 :], kwargs, most)
        if found is not None:
            return found
    for arg in args:
        if type(arg) is np.ndarray or is_tensor(arg) or is_pandas_object(arg):
            return standin(arg)
    return ZERO
