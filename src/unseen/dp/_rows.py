"""Row-local operations on tables: selections (:func:`select`: columns, row slices, filters,
group-by) and per-row transforms (:func:`transform`: elementwise maps, clamps, arithmetic,
comparisons, row-wise reductions).

Each keeps the defining property of a table: every output row depends on one input row, so
one privacy unit still touches at most ``k`` rows. Filters make the row count private; row
slices need it public (a positional slice of a table with a private length is not stable).

Row-local by construction: two private values combine only when they have the same row space,
the same family and the same shape (1-D with 1-D, or 2-D with the same number of columns).
Anything that could broadcast rows against rows (a ``(n, 1)`` slice with an ``(n,)`` column,
``keepdims``, ``where`` with mixed pieces) or that reads another private value in a way that
is not row by row (``isin(private)``, ``where=`` of a ufunc) is refused.
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


_OTHER = ("other", "x2", "b", "exponent", "y")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Const) else value


def _mask(value: Any, table: Table) -> bool:
    return (
        isinstance(value, Table)
        and value.space == table.space
        and len(value.cols) == 1
        and value.cols[0].boolean
        and value.one_d
    )


def _private(value: Any) -> bool:
    """Whether ``value`` is or holds a value computed from private data."""
    if isinstance(value, (Table, Grouped)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_private(v) for v in value)
    if isinstance(value, dict):
        return any(_private(v) for v in value.values())
    if isinstance(value, slice):
        return _private((value.start, value.stop, value.step))
    return False


def _only(bound: Bound, allowed: frozenset[str], what: str) -> None:
    """Refuse arguments the analysis does not model (``where=`` of a ufunc leaves cells
    uninitialised; ``isin`` of a private column reads every row of it) and private values
    anywhere but an operand checked for shape."""
    extra = sorted(k for k in bound.args if k not in allowed)
    if extra:
        raise NotTrackable(f"{what} with argument(s) {', '.join(extra)} is not DP-trackable")
    if any(_private(v) for v in bound.args.values()):
        raise NotTrackable(
            f"{what} with a value computed from private data as an argument is not "
            "row-local (each output row must depend on one input row)"
        )


def same_shape(a: Table, b: Table, what: str) -> None:
    """Two private values that combine cell by cell: same rows, family and shape, so that no
    broadcasting can pair one row with another (an (n, 1) with an (n,) gives (n, n))."""
    if a.space != b.space:
        raise NotTrackable(
            f"{what} combines values whose rows are not aligned (different tables, row "
            "slices, or filtered differently)"
        )
    if a.family != b.family:
        raise NotTrackable(
            f"{what} combines a {a.family} with a {b.family}: convert one so both are the same"
        )
    if a.one_d != b.one_d or len(a.cols) != len(b.cols):
        raise NotTrackable(
            f"{what} combines values of different shapes ({_shape(a)} and {_shape(b)}): "
            "broadcasting would pair rows with other rows. Select columns the same way on "
            "both sides, e.g. x[:, 0] with x[:, 1], or x[:, 0:1] with x[:, 1:2]"
        )
    if a.family == "dataframe" and [c.label for c in a.cols] != [c.label for c in b.cols]:
        raise NotTrackable(f"{what} of DataFrames with different columns")


def _shape(table: Table) -> str:
    return "(rows,)" if table.one_d else f"(rows, {len(table.cols)})"


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
        if not -len(labels) <= int(key) < len(labels):
            raise NotTrackable(f"column {int(key)} of a value with {len(labels)} columns")
        return table.with_cols((replace(table.cols[int(key)], label=None),), one_d=True)
    if isinstance(key, slice):
        return table.with_cols(tuple(table.cols[i] for i in range(len(labels))[key]))
    if isinstance(key, (list, tuple)) and all(
        isinstance(k, int) and not isinstance(k, bool) and -len(labels) <= k < len(labels)
        for k in key
    ):
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
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise NotTrackable("head(n) needs a public integer n")
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
    for name in _OTHER:
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
    used = next((n for n in _OTHER if n in bound.args), "_1" if bound.positional else None)
    rest = {k: v for k, v in bound.args.items() if k != used}
    _only(Bound(name, bound.kind, None, rest, ()), frozenset(), name)
    if isinstance(other, Table):
        same_shape(table, other, name)
        cols = []
        for a, b in zip(table.cols, other.cols):
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
    _only(bound, frozenset({"axis", "dim", "keepdims", "keepdim", "skipna"}), bound.short)
    keep = _plain(bound.get("keepdims", "keepdim", default=False))
    if not isinstance(keep, (bool, np.bool_)):
        raise NotTrackable("keepdims must be a public True or False")
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
    # keepdims keeps a 2-D (rows, 1) value: tracked as such, so that combining it with a 1-D
    # column is refused (it would broadcast to (rows, rows))
    one_d = not (keep and table.family != "dataframe")
    if not one_d:
        return table.with_cols((Col(0, low, high, nullable),), one_d=False)
    return table.with_cols((Col(None, low, high, nullable),), one_d=True, family=family)


def _where(bound: Bound, table: Table, name: str) -> Table:
    """``numpy.where(cond, x, y)`` / ``torch.where``: every private piece (the condition and
    the branches) has the condition's rows, family and shape; public pieces are scalars."""
    known = {"x", "y", "input", "other", "condition"}
    extra = sorted(k for k in bound.args if k not in known)
    if extra:
        raise NotTrackable(f"where() with argument(s) {', '.join(extra)} is not DP-trackable")
    x, y = _plain(bound.get("x", "input")), _plain(bound.get("y", "other"))
    if x is None or y is None:
        raise NotTrackable("where() needs both branches: where(condition, x, y)")
    branches: list[tuple[Col, ...]] = []
    for value in (x, y):
        if isinstance(value, Table):
            same_shape(table, value, "where()")
            branches.append(value.cols)
        elif np.ndim(value) == 0 and isinstance(value, (int, float, np.number)):
            point = Col(None, float(value), float(value))
            branches.append((point,) * len(table.cols))
        else:
            raise NotTrackable(
                "where() needs columns of the same table and shape as the condition, or "
                "public scalars"
            )
    cols = []
    for i, (a, b) in enumerate(zip(*branches)):
        low, high = hull(a, b)
        cols.append(Col(None if table.one_d else i, low, high, a.nullable or b.nullable))
    family = "tensor" if name.startswith("torch.") else "ndarray"
    return table.with_cols(tuple(cols), family=family)


def transform(bound: Bound, table: Table, action: ops.Action) -> Table | None:
    """A row-local transform of ``table``, or None if ``bound`` is none of the known ones."""
    short = bound.short
    if short in ("clip", "clamp"):
        _only(bound, frozenset({"min", "a_min", "lower", "max", "a_max", "upper"}), short)
        low = _plain(bound.get("min", "a_min", "lower"))
        high = _plain(bound.get("max", "a_max", "upper"))
        return _each(table, lambda c: clamp(c, low, high), short)
    if short in UNARY or short in INDICATORS:
        _only(bound, frozenset({"decimals", "ndigits"}), short)
        return _each(table, lambda c: unary(short, c), short)
    if short in BINARY or short in COMPARE or short in LOGICAL:
        return _binary(bound, table)
    if short in ("isin", "between"):
        _only(bound, frozenset({"values", "left", "right", "inclusive", "test_elements"}), short)
        return _each(table, lambda c: Col(c.label, 0.0, 1.0, False, None, True), short)
    if short in ("fillna", "nan_to_num"):
        _only(bound, frozenset({"value", "nan", "copy", "posinf", "neginf"}), short)
        fill = _plain(bound.get("value", "nan", default=0.0))
        if np.ndim(fill) != 0 or not isinstance(fill, (int, float, np.number)):
            raise NotTrackable(f"{short} needs a public scalar")
        point = Col(None, float(fill), float(fill))
        return _each(table, lambda c: replace(c.with_bounds(*hull(c, point)), nullable=False),
                     short)  # fmt: skip
    if short == "where" and action.kind == "function":
        return _where(bound, table, action.name)
    if short in _PASS:
        if any(_private(v) for v in bound.args.values()):
            raise NotTrackable(f"{short} with a value computed from private data as an argument")
        family = "ndarray" if short in ("to_numpy", "values", "numpy") else table.family
        if short == "to_frame":
            family = "dataframe"
        return table.with_cols(table.cols, one_d=table.one_d and short != "to_frame",
                               family=family)  # fmt: skip
    return _rowwise(bound, table)
