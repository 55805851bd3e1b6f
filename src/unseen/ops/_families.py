"""Families: the kind of value a pointer points to, and :func:`family_of`.

torch and pandas are never imported here: a value can only be a tensor or a DataFrame if its
library is already loaded, so the checks look in ``sys.modules``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from unseen.errors import UsageError

__all__ = [
    "FAMILIES",
    "DISPLAY",
    "family_of",
    "is_pandas_object",
    "is_tensor",
    "is_torch_module",
]

#: Every family, in the order they are documented.
FAMILIES: tuple[str, ...] = (
    "ndarray",
    "tensor",
    "dataframe",
    "series",
    "index",
    "groupby",
    "indexer",
    "scalar",
    "value",
)

#: How messages name each family.
DISPLAY: dict[str, str] = {
    "ndarray": "numpy arrays",
    "tensor": "torch tensors",
    "dataframe": "pandas DataFrames",
    "series": "pandas Series",
    "index": "pandas Index objects",
    "groupby": "pandas GroupBy objects",
    "indexer": "pandas indexers (.loc, .iloc, .at, .iat)",
    "scalar": "Python scalars",
    "value": "Python lists, tuples and dicts",
}

SCALAR_TYPES: frozenset[type] = frozenset({bool, int, float, complex, str})

#: Deepest nesting of a list/tuple/dict value.
MAX_VALUE_DEPTH = 32

_SUPPORTED = (
    "numpy arrays and scalars (not of object dtype), torch tensors, pandas DataFrame, Series, "
    "Index, GroupBy and indexers, Python bool/int/float/complex/str, and lists, tuples and "
    "dicts of these"
)

# Types whose family depends on the type alone (filled as values are seen).
_BY_TYPE: dict[type, str] = {t: "scalar" for t in SCALAR_TYPES}


def _torch() -> Any:
    return sys.modules.get("torch")


def _pandas() -> Any:
    return sys.modules.get("pandas")


def is_tensor(value: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def is_torch_module(value: Any) -> bool:
    """A ``torch.nn.Module`` (a model: sent as parameter pointers, never as one value)."""
    torch = _torch()
    return torch is not None and isinstance(value, torch.nn.Module)


def is_pandas_object(value: Any) -> bool:
    """A DataFrame, Series or Index (what may also appear as a public constant)."""
    pd = _pandas()
    return pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index))


def _is_library_tuple(value: Any) -> bool:
    cls = type(value)
    if cls is tuple:
        return True
    module = getattr(cls, "__module__", "") or ""
    return isinstance(value, tuple) and module.split(".")[0] in ("torch", "numpy")


def _type_family(value: Any) -> str | None:
    """The family of a value whose type alone decides it, or None."""
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor):
        return "tensor"
    pd = _pandas()
    if pd is not None:
        if isinstance(value, pd.DataFrame):
            return "dataframe"
        if isinstance(value, pd.Series):
            return "series"
        if isinstance(value, pd.Index):
            return "index"
        groupby = sys.modules.get("pandas.core.groupby.generic")
        if groupby is not None and isinstance(
            value, (groupby.DataFrameGroupBy, groupby.SeriesGroupBy)
        ):
            return "groupby"
        indexing = sys.modules.get("pandas.core.indexing")
        if indexing is not None and isinstance(
            value,
            (
                indexing._LocIndexer,
                indexing._iLocIndexer,
                indexing._AtIndexer,
                indexing._iAtIndexer,
            ),
        ):
            return "indexer"
    return None


def family_of(value: Any) -> str:
    """The family of ``value``; :class:`UsageError` naming the type if it has none."""
    cls = type(value)
    fam = _BY_TYPE.get(cls)
    if fam is not None:
        return fam
    if isinstance(value, np.generic) and not value.dtype.hasobject:
        return "ndarray"  # not cached by type: a structured np.void may hold objects
    if cls is np.ndarray:
        if value.dtype.hasobject:
            raise UsageError(
                "unseen cannot hold a numpy array of object dtype (it may contain arbitrary "
                f"Python objects); convert it to a numeric or string dtype. Supported: {_SUPPORTED}."
            )
        return "ndarray"
    if cls in (list, dict) or isinstance(value, tuple) and _is_library_tuple(value):
        _check_value(value, 0)
        return "value"
    fam = _type_family(value)
    if fam is None:
        name = (
            f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ != "builtins" else cls.__name__
        )
        if isinstance(value, np.generic):
            name = "numpy object scalar"
        raise UsageError(f"unseen cannot hold a value of type {name}. Supported: {_SUPPORTED}.")
    _BY_TYPE[cls] = fam
    return fam


def _check_value(value: Any, depth: int) -> None:
    """Every element of a list/tuple/dict is itself of an allowed kind (None included)."""
    if depth > MAX_VALUE_DEPTH:
        raise UsageError(f"a list, tuple or dict nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, dict):
        for key in value:
            if (
                key is not None
                and type(key) not in SCALAR_TYPES
                and not isinstance(key, np.generic)
            ):
                raise UsageError(f"a dict key of type {type(key).__name__} (keys must be scalars)")
        items: Any = value.values()
    else:
        items = value
    kinds = {type(item) for item in items}
    if kinds <= SCALAR_TYPES:
        return
    for item in items:
        if item is None or type(item) in SCALAR_TYPES:
            continue
        if type(item) in (list, dict) or isinstance(item, tuple) and _is_library_tuple(item):
            _check_value(item, depth + 1)
        else:
            family_of(item)
