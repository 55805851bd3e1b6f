"""Row-local operations on tables: selections (:func:`select`: columns, row slices, filters,
group-by) and per-row transforms (:func:`transform`: elementwise maps, clamps, arithmetic,
comparisons, row-wise reductions).

Each keeps the defining property of a table: every output row depends on one input row, so
one privacy unit still touches at most ``k`` rows. Filters make the row count private; row
slices need it public (a positional slice of a table with a private length is not stable).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from unseen import ops
from unseen.dp._bind import Bound
from unseen.dp._elementwise import (
    BINARY,
    COMPARE,
    INDICATORS,
    LOGICAL,
    UNARY,
    binary_cols,
    binary_const,
    clamp,
    unary,
)
from unseen.dp._query import NotTrackable
from unseen.dp._values import Col, Const, Grouped, Table, hull

__all__ = ["select", "transform"]

_PASS = frozenset({"astype", "to_numpy", "values", "copy", "clone", "float", "double", "detach",
                   "numpy", "contiguous", "to_frame"})  # fmt: skip
_ROWWISE = {"sum": "sum", "nansum": "sum", "mean": "mean", "nanmean": "mean", "min": "min",
            "max": "max", "amin": "min", "amax": "max", "nanmin": "min", "nanmax": "max"}  # fmt: skip


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Const) else value


def _mask(value: Any, table: Table) -> bool:
    return (
        isinstance(value, Table)
        and value.space == table.space
        and len(value.cols) == 1
        and value.cols[0].boolean
        and (value.one_d or value.family == "dataframe")
    )


def _filter(table: Table, token: str) -> Table:
    return replace(table, rows=None, filtered=True, space=f"{table.space}|{token}")


def _row_slice(table: Table, key: slice) -> Table:
    parts = (key.start, key.stop, key.step)
    if not all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
        raise NotTrackable("a row slice needs integer bounds")
    if key == slice(None):
        return table
    if table.rows is None or table.filtered:
        raise NotTrackable(
            "a row slice of a table whose row count is private (not declared public, or "
            "filtered) is not stable: one person more or less shifts every later row"
        )
    rows = len(range(table.rows)[key])
    return replace(table, rows=rows, space=f"{table.space}[{key.start}:{key.stop}:{key.step}]")


def _columns(table: Table, key: Any) -> Table:
    if table.family == "dataframe":
        if isinstance(key, (list, tuple)):
            return table.with_cols(tuple(table.col(k) for k in key), one_d=False)
        col = table.col(key)
        return table.with_cols((col,), one_d=True, family="series")
    labels = [c.label for c in table.cols]
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return table.with_cols((replace(table.cols[int(key)], label=None),), one_d=True)
    if isinstance(key, slice):
        return table.with_cols(tuple(table.cols[i] for i in range(len(labels))[key]))
    if isinstance(key, (list, tuple)) and all(isinstance(k, int) for k in key):
        return table.with_cols(tuple(table.cols[k] for k in key))
    raise NotTrackable(f"column selection by {type(key).__name__} is not supported")


def _getitem(table: Table, key: Any, token: str) -> Table:
    key = _plain(key)
    if _mask(key, table):
        return _filter(table, token)
    if isinstance(key, slice):
        return _row_slice(table, key)
    if table.family == "dataframe":
        try:
            return _columns(table, key)
        except KeyError:
            raise NotTrackable(f"no column {key!r}") from None
    if table.one_d:
        raise NotTrackable("indexing single rows of private data is not DP-releasable")
    if isinstance(key, tuple) and len(key) == 2:
        rows, cols = (_plain(k) for k in key)
        out = _columns(table, cols)
        if _mask(rows, table):
            return _filter(out, token)
        if isinstance(rows, slice):
            return _row_slice(out, rows)
    raise NotTrackable(
        "this index selects single rows or cells of private data; use x[:, j] for a column, "
        "x[mask] for a filter, or x[a:b] for rows of a table with a public row count"
    )


def _groupby(bound: Bound, table: Table) -> Grouped:
    by = _plain(bound.get("by"))
    if isinstance(by, (list, tuple)):
        if len(by) != 1:
            raise NotTrackable("group-by over several columns is not supported: use one")
        by = by[0]
    try:
        col = table.col(by)
    except KeyError:
        raise NotTrackable(f"no column {by!r} to group by") from None
    if col.keys is None:
        raise NotTrackable(
            f"group-by over {by!r} needs public keys: the owner declares them with "
            f"categories={{{by!r}: [...]}} at upload"
        )
    return Grouped(table, by, col.keys, None)


def select(bound: Bound, table: Table, token: str) -> Table | Grouped | None:
    """Column and row selections, filters and group-by; None if ``bound`` is none of them."""
    short = bound.short
    if short == "__getitem__":
        return _getitem(table, bound.get("key"), token)
    if short == "head":
        n = _plain(bound.get("n", default=5))
        return _row_slice(table, slice(None, int(n)))
    if short == "dropna":
        if bound.args:
            raise NotTrackable("dropna with arguments is not supported; use dropna()")
        cols = tuple(replace(c, nullable=False) for c in table.cols)
        return _filter(table.with_cols(cols), token)
    if short == "groupby":
        if table.family != "dataframe":
            raise NotTrackable("group-by needs a DataFrame")
        return _groupby(bound, table)
    return None


def _other(bound: Bound) -> Any:
    for name in ("other", "x2", "b", "exponent", "y"):
        if name in bound.args:
            return bound.args[name]
    return bound.positional[0] if bound.positional else None


def _each(table: Table, fn: Any, what: str) -> Table:
    cols = []
    for col in table.cols:
        new = fn(col)
        if new is None:
            raise NotTrackable(f"{what} has no bound rule for these values")
        cols.append(new)
    return table.with_cols(tuple(cols))


def _binary(bound: Bound, table: Table) -> Table:
    name, other = bound.short, _plain(_other(bound))
    if isinstance(other, Table):
        if other.space != table.space:
            raise NotTrackable(
                f"{name} combines values whose rows are not aligned (different tables, or "
                "filtered differently)"
            )
        if len(other.cols) == len(table.cols):
            pairs = zip(table.cols, other.cols)
        elif len(other.cols) == 1 and other.one_d and table.one_d:
            pairs = zip(table.cols, other.cols)
        else:
            raise NotTrackable(f"{name} of tables with different columns")
        cols = []
        for a, b in pairs:
            new = binary_cols(name, a, b)
            if new is None:
                raise NotTrackable(f"{name} of two private columns has no bound rule")
            cols.append(new)
        return table.with_cols(tuple(cols))
    if isinstance(other, (Grouped,)):
        raise NotTrackable(f"{name} with a group-by")
    if name in LOGICAL:
        raise NotTrackable(f"{name} with a public constant: combine two masks instead")
    if np.ndim(other) == 1 and not table.one_d and table.family in ("ndarray", "tensor"):
        values = list(np.asarray(other, dtype=float))
        if len(values) != len(table.cols):
            raise NotTrackable(
                f"{name} with a vector of {len(values)} for {len(table.cols)} columns"
            )
        mapped = [binary_const(name, c, v) for c, v in zip(table.cols, values)]
        kept = tuple(c for c in mapped if c is not None)
        if len(kept) != len(mapped):
            raise NotTrackable(f"{name} has no bound rule for these values")
        return table.with_cols(kept)
    if np.ndim(other) != 0:
        raise NotTrackable(f"{name} with a public array of this shape is not supported")
    return _each(table, lambda c: binary_const(name, c, other), name)


def _rowwise(bound: Bound, table: Table) -> Table | None:
    kind = _ROWWISE.get(bound.short)
    axis = _plain(bound.get("axis", "dim"))
    if kind is None or table.one_d or axis not in (1, -1, "columns"):
        return None
    cols = table.cols
    nullable = any(c.nullable for c in cols)
    low: float | None
    high: float | None
    if not all(c.bounded for c in cols):
        low = high = None
    else:
        lows = [float(c.lower) for c in cols]  # type: ignore[arg-type]
        highs = [float(c.upper) for c in cols]  # type: ignore[arg-type]
        if kind == "sum":
            low = sum(min(v, 0.0) if nullable else v for v in lows)
            high = sum(max(v, 0.0) if nullable else v for v in highs)
        elif kind == "mean" and not nullable:
            low, high = sum(lows) / len(lows), sum(highs) / len(highs)
        elif kind == "min" and not nullable:
            low, high = min(lows), min(highs)
        elif kind == "max" and not nullable:
            low, high = max(lows), max(highs)
        else:
            low, high = min(lows), max(highs)
    family = "series" if table.family == "dataframe" else table.family
    return table.with_cols((Col(None, low, high, nullable),), one_d=True, family=family)


def _where(bound: Bound, table: Table) -> Table:
    x, y = _plain(bound.get("x", "input")), _plain(bound.get("y", "other"))
    cols = []
    for value in (x, y):
        if isinstance(value, Table):
            if value.space != table.space or len(value.cols) != 1:
                raise NotTrackable("where() of values whose rows are not aligned")
            cols.append(value.cols[0])
        elif np.ndim(value) == 0 and isinstance(value, (int, float, np.number)):
            cols.append(Col(None, float(value), float(value)))
        else:
            raise NotTrackable("where() needs columns of the same table or public scalars")
    low, high = hull(*cols)
    return table.with_cols((Col(None, low, high, any(c.nullable for c in cols)),), one_d=True)


def transform(bound: Bound, table: Table, action: ops.Action) -> Table | None:
    """A row-local transform of ``table``, or None if ``bound`` is none of the known ones."""
    short = bound.short
    if short in ("clip", "clamp"):
        low = _plain(bound.get("min", "a_min", "lower"))
        high = _plain(bound.get("max", "a_max", "upper"))
        return _each(table, lambda c: clamp(c, low, high), short)
    if short in UNARY or short in INDICATORS:
        return _each(table, lambda c: unary(short, c), short)
    if short in BINARY or short in COMPARE or short in LOGICAL:
        return _binary(bound, table)
    if short in ("isin", "between"):
        return _each(table, lambda c: Col(c.label, 0.0, 1.0, False, None, True), short)
    if short in ("fillna", "nan_to_num"):
        fill = _plain(bound.get("value", "nan", default=0.0))
        if np.ndim(fill) != 0 or not isinstance(fill, (int, float, np.number)):
            raise NotTrackable(f"{short} needs a public scalar")
        point = Col(None, float(fill), float(fill))
        return _each(table, lambda c: replace(c.with_bounds(*hull(c, point)), nullable=False),
                     short)  # fmt: skip
    if short == "where" and action.kind == "function":
        return _where(bound, table)
    if short in _PASS:
        family = "ndarray" if short in ("to_numpy", "values", "numpy") else table.family
        if short == "to_frame":
            family = "dataframe"
        return table.with_cols(table.cols, one_d=table.one_d and short != "to_frame",
                               family=family)  # fmt: skip
    return _rowwise(bound, table)
