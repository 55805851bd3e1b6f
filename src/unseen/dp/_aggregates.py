"""From an aggregating action on a :class:`~unseen.dp._values.Table` (or a group-by) to the
:class:`~unseen.dp._query.Query` it asks for (:func:`aggregate`, :func:`table_query`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from unseen.dp._bind import Bound
from unseen.dp._query import NotTrackable, Query, group_query
from unseen.dp._values import Col, Const, Grouped, Table

__all__ = ["aggregate", "group_aggregate", "table_query"]

_KIND = {
    "sum": "sum", "nansum": "sum", "mean": "mean", "nanmean": "mean", "var": "var",
    "nanvar": "var", "std": "std", "nanstd": "std", "count": "count",
    "count_nonzero": "sum", "median": "quantile", "nanmedian": "quantile",
    "quantile": "quantile", "nanquantile": "quantile", "percentile": "quantile",
    "nanpercentile": "quantile",
}  # fmt: skip

_OUT = {"ndarray": "numpy", "tensor": "torch", "dataframe": "pandas", "series": "pandas"}


def _const(value: Any, what: str) -> Any:
    if isinstance(value, Const):
        return value.value
    if isinstance(value, (Table, Grouped)):
        raise NotTrackable(f"{what} must be a public value, not one computed from private data")
    return value


def _axis(bound: Bound, table: Table) -> str:
    """ "rows" (one answer per column), "all" (every cell) or "row-wise"."""
    axis = _const(bound.get("axis", "dim"), "the axis")
    if table.one_d:
        if axis not in (None, 0, -1, "index", "rows"):
            raise NotTrackable(f"axis={axis!r} on a one-dimensional value")
        return "rows"
    if axis is None:
        return "rows" if table.family == "dataframe" else "all"
    if axis in (0, "index", "rows"):
        return "rows"
    if axis in (1, -1, "columns"):
        return "row-wise"
    raise NotTrackable(f"axis={axis!r} is not supported in a DP aggregate (use 0 or None)")


def _ddof(bound: Bound, family: str) -> int:
    if bound.has("ddof"):
        value = _const(bound.get("ddof"), "ddof")
    elif bound.has("correction"):
        value = _const(bound.get("correction"), "correction")
    elif bound.has("unbiased"):
        value = 1 if _const(bound.get("unbiased"), "unbiased") else 0
    else:
        value = 0 if family == "ndarray" else 1
    if value not in (0, 1):
        raise NotTrackable("ddof must be 0 or 1")
    return int(value)


def _quantiles(bound: Bound) -> tuple[tuple[float, ...], bool]:
    if bound.short in ("median", "nanmedian"):
        return (0.5,), True
    q = _const(bound.get("q", default=0.5), "q")
    scalar = np.ndim(q) == 0
    values = [float(v) for v in np.atleast_1d(np.asarray(q, dtype=float))]
    if bound.short in ("percentile", "nanpercentile"):
        values = [v / 100.0 for v in values]
    if not values or len(values) > 100 or not all(0.0 <= v <= 1.0 for v in values):
        raise NotTrackable("quantiles must be 1 to 100 values in [0, 1] (percentiles in [0, 100])")
    return tuple(values), scalar


def _need_bounds(cols: tuple[Col, ...], what: str) -> None:
    for col in cols:
        if not col.bounded:
            name = "the values" if col.label is None else f"column {col.label!r}"
            raise NotTrackable(
                f"{what} needs bounds, and {name} has none (none declared by the owner, or "
                "lost through an operation without a bound rule): clip it first, e.g. "
                ".clip(L, U) with public L and U"
            )


def _histogram(bound: Bound, table: Table, input_id: str) -> Query:
    if len(table.cols) != 1:
        raise NotTrackable("a histogram needs one column: select it first")
    short = bound.short
    if short == "value_counts":
        col = table.cols[0]
        if col.keys is None:
            raise NotTrackable(
                "value_counts needs public keys: the owner declares them with "
                "categories={column: [keys...]} at upload"
            )
        if _const(bound.get("normalize", default=False), "normalize"):
            raise NotTrackable("value_counts(normalize=True): divide the released counts yourself")
        return Query("histogram", input_id, table, table.cols, False, "value_counts",
                     keys=col.keys, description=f"value_counts of {col.label!r}")  # fmt: skip
    if short == "histc":
        bins = int(_const(bound.get("bins", default=100), "bins"))
        low = float(_const(bound.get("min", default=0), "min"))
        high = float(_const(bound.get("max", default=0), "max"))
        out = "histc"
    else:
        bins = _const(bound.get("bins", default=10), "bins")
        rng = _const(bound.get("range"), "range")
        out = "torch_histogram" if table.family == "tensor" else "numpy_histogram"
        if np.ndim(bins) == 1:
            edges = tuple(float(e) for e in np.asarray(bins, dtype=float))
            if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
                raise NotTrackable("histogram bin edges must increase")
            return Query("histogram", input_id, table, table.cols, False, out, edges=edges,
                         description=f"histogram over {len(edges) - 1} bins")  # fmt: skip
        if rng is None:
            raise NotTrackable(
                "a histogram with a number of bins needs a public range=(low, high): "
                "otherwise the bins come from the private minimum and maximum"
            )
        low, high = (float(v) for v in rng)
    if not (isinstance(bins, int) and 1 <= bins <= 100_000) or not low < high:
        raise NotTrackable("a histogram needs 1 to 100000 bins and a public range low < high")
    edges = tuple(float(e) for e in np.linspace(low, high, bins + 1))
    return Query("histogram", input_id, table, table.cols, False, out, edges=edges,
                 description=f"histogram over {bins} bins")  # fmt: skip


def aggregate(bound: Bound, table: Table, input_id: str) -> Query | None:
    """The query of an aggregating action, or None if ``bound`` does not aggregate (such as a
    row-wise ``sum(axis=1)``, which the analysis treats as a row-local operation)."""
    short = bound.short
    if short in ("histogram", "histc", "value_counts"):
        return _histogram(bound, table, input_id)
    kind = _KIND.get(short)
    if kind is None:
        return None
    if kind in ("sum", "mean", "count") and _const(bound.get("keepdims", "keepdim"), "keepdims"):
        raise NotTrackable("keepdims=True: reshape the released value yourself")
    axis = _axis(bound, table)
    if axis == "row-wise":
        return None
    cols = table.cols
    extra: dict[str, Any] = {}
    if short == "count_nonzero":
        cols = tuple(Col(c.label, 0.0, 1.0, False, None, True) for c in cols)
        extra["nonzero"] = True
    if short in ("sum", "nansum") and all(c.boolean for c in cols):
        cols = tuple(Col(c.label, 0.0, 1.0, c.nullable, None, True) for c in cols)
        extra["integer"] = True
    if short == "count_nonzero":
        extra["integer"] = True
    per_column = not table.one_d and axis == "rows"
    qs: tuple[float, ...] = ()
    q_scalar = True
    if kind == "quantile":
        if axis == "all":
            raise NotTrackable("quantiles over every cell of a table: select a column or axis=0")
        qs, q_scalar = _quantiles(bound)
    if kind != "count" or axis == "all":
        _need_bounds(cols, f"a DP {short}")
    if axis == "all" and kind not in ("sum", "mean"):
        raise NotTrackable(f"{short} over every cell of a table: use axis=0 or select a column")
    ddof = _ddof(bound, table.family) if kind in ("var", "std") else 0
    if axis == "all":
        if any(c.nullable for c in cols):
            raise NotTrackable(
                f"{short} over every cell of a table with missing values: use axis=0"
            )
        extra["cell_bounds"] = [(c.lower, c.upper) for c in cols]
        extra["cells"] = len(cols)
        low = sum(c.lower for c in cols)  # type: ignore[misc]
        high = sum(c.upper for c in cols)  # type: ignore[misc]
        cols = (Col(None, float(low), float(high)),)
        per_column = False
    labels = ", ".join(str(c.label) for c in cols if c.label is not None)
    return Query(
        kind=kind,
        input=input_id,
        table=table,
        cols=cols,
        per_column=per_column,
        out=_OUT[table.family],
        all_cells=axis == "all",
        ddof=ddof,
        qs=qs,
        q_scalar=q_scalar,
        description=f"{short}({labels})" if labels else f"{short}()",
        extra=extra,
    )


def group_aggregate(bound: Bound, grouped: Grouped, input_id: str) -> Query:
    """A per-key aggregate of a group-by over public keys."""
    kind = {"sum": "sum", "mean": "mean", "count": "count", "size": "count", "var": "var",
            "std": "std"}.get(bound.short)  # fmt: skip
    if kind is None:
        raise NotTrackable(
            f"groupby(...).{bound.short}() is not DP-releasable; use sum, mean, count, size, "
            "var or std"
        )
    query = group_query(kind, grouped, input_id, _ddof(bound, "dataframe"),
                        f"groupby({grouped.by!r}).{bound.short}()")  # fmt: skip
    if kind != "count":
        _need_bounds(query.cols, f"a DP group {bound.short}")
    return query


def table_query(table: Table, input_id: str) -> Query:
    """Releasing a whole table: every cell noised, each row's change bounded by the bounds."""
    if table.mode != "replace":
        raise NotTrackable(
            "releasing a whole table needs a public row count (the owner declares "
            "public_rows at upload) and no filter: otherwise the number of rows itself is "
            "private. Release an aggregate instead, e.g. .mean(axis=0)"
        )
    _need_bounds(table.cols, "releasing a table")
    return Query("table", input_id, table, table.cols, True, _OUT[table.family],
                 description=f"table of {table.rows} rows x {len(table.cols)} columns")  # fmt: skip
