"""Running a planned query on the data: exact integer statistics, OpenDP noise, and the
post-processing into answers (:func:`calibrate`, :func:`evaluate`).

Missing values (NaN) of a nullable column are left out, as pandas and numpy's nan-functions
do; in a column declared non-nullable they are replaced by the middle of its bounds, so that
a wrong declaration cannot break the privacy guarantee. Everything after the noise is
post-processing: clamping a mean to its bounds, a count to be non-negative.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from unseen.dp import _mechanisms as mech
from unseen.dp._format import format_answer, matrix
from unseen.dp._grid import quantize
from unseen.dp._plan import Part, Plan
from unseen.dp._query import Query

__all__ = ["calibrate", "evaluate"]


def calibrate(plan: Plan) -> None:
    """Set every noisy part's scale (public parameters only; before any charge)."""
    for part in plan.parts:
        if part.stat == "quantile":
            part.scale = mech.quantile_scale(part.candidates, part.q, part.d_in, part.share)
        elif part.l1 <= 0:
            part.scale = 0.0
        elif plan.mechanism == "gaussian":
            part.scale = mech.gaussian_scale(part.l2, part.share)
        else:
            part.scale = mech.laplace_scale(part.l1, part.share)


def _noisy(values: np.ndarray, part: Part, plan: Plan) -> np.ndarray:
    if part.scale == 0.0:
        return values.astype(np.int64)
    if plan.mechanism == "gaussian":
        return mech.gaussian(values, part.scale)
    return mech.laplace(values, part.scale)


class _Data:
    """The query's columns as floats, with missing values handled, and group indices."""

    def __init__(self, query: Query, value: Any) -> None:
        x, keys = matrix(query, value)
        self.n = x.shape[0]
        self.columns: list[np.ndarray] = []
        self.valid: list[np.ndarray | None] = []
        for j, col in enumerate(query.cols):
            column = x[:, j]
            missing = np.isnan(column)
            if not missing.any():
                self.valid.append(None)
            elif col.nullable:
                self.valid.append(~missing)
            else:
                middle = 0.0 if not col.bounded else (col.lower + col.upper) / 2.0  # type: ignore[operator]
                column = np.where(missing, middle, column)
                self.valid.append(None)
            self.columns.append(column)
        self.group: np.ndarray | None = None
        if query.grouped and keys is not None:
            index = {key: i for i, key in enumerate(query.keys)}
            self.group = np.fromiter((index.get(k, -1) for k in keys.tolist()), np.int64, len(keys))

    def by_group(self, weights: np.ndarray, j: int, groups: int) -> np.ndarray:
        keep = self.group >= 0  # type: ignore[operator]
        valid = self.valid[j] if j >= 0 else None
        if valid is not None:
            keep = keep & valid
        return np.bincount(self.group[keep], weights=weights[keep], minlength=groups)  # type: ignore[index]

    def values(self, j: int) -> np.ndarray:
        valid = self.valid[j]
        return self.columns[j] if valid is None else self.columns[j][valid]


def _statistic(part: Part, data: _Data, query: Query) -> np.ndarray:
    """The exact integer statistic of one part (a vector for groups and histograms)."""
    j = part.col
    groups = len(query.keys)
    if part.stat == "count":
        if data.group is not None:
            return data.by_group(np.ones(data.n), j, groups).astype(np.int64)
        count = data.n if j < 0 or data.valid[j] is None else int(data.valid[j].sum())  # type: ignore[union-attr]
        return np.array([count], dtype=np.int64)
    if part.stat == "hist":
        return _histogram(data, query)
    assert part.grid is not None
    if part.stat == "cells":
        return quantize(data.columns[j], part.grid)
    if data.group is not None:
        steps = quantize(data.columns[j], part.grid)
        if part.stat == "csq":
            steps = steps * steps
        return np.rint(data.by_group(steps.astype(np.float64), j, groups)).astype(np.int64)
    steps = quantize(data.values(j), part.grid)
    if part.stat == "csq":
        steps = steps * steps
    return np.array([int(steps.sum())], dtype=np.int64)


def _histogram(data: _Data, query: Query) -> np.ndarray:
    values = data.values(0)
    if query.keys:
        index = {key: i for i, key in enumerate(query.keys)}
        raw = data.columns[0] if data.valid[0] is None else data.columns[0][data.valid[0]]
        codes = np.fromiter((index.get(v, -1) for v in raw.tolist()), np.int64, len(raw))
        return np.bincount(codes[codes >= 0], minlength=len(query.keys)).astype(np.int64)
    counts, _ = np.histogram(values, bins=np.asarray(query.edges))
    return counts.astype(np.int64)


def _quantile(part: Part, data: _Data) -> float:
    values = data.values(part.col)
    values = values[np.isfinite(values)]
    index = mech.quantile_index(values, part.candidates, part.q, part.scale)
    return part.candidates[index]


def _within_bounds(total: np.ndarray, query: Query, j: int) -> np.ndarray:
    """A noisy sum clamped to what the column's public bounds allow (post-processing): at
    least 0 when no value is negative (a count of booleans), within rows x bounds when the
    row count is public."""
    col = query.cols[j]
    low = -np.inf if col.lower is None else min(col.lower, 0.0)
    high = np.inf if col.upper is None else max(col.upper, 0.0)
    rows = query.table.rows  # a group has at most as many rows as its table
    if rows is not None:
        low, high = low * rows, high * rows
    else:
        low, high = (0.0 if low == 0 else -np.inf), (0.0 if high == 0 else np.inf)
    return np.clip(total, low, high)


def _mean_like(query: Query, j: int, stats: dict[tuple[str, int], np.ndarray], plan: Plan) -> Any:
    col = query.cols[j]
    assert col.lower is not None and col.upper is not None
    cells = query.extra.get("cells", 1)
    if ("sum", j) in stats:
        grid = next(p.grid for p in plan.parts if p.stat == "sum" and p.col == j)
        assert grid is not None and query.table.rows is not None
        rows = max(query.table.rows, 1)
        mean = np.clip(grid.to_value(1.0) * stats[("sum", j)] / rows, col.lower, col.upper)
        return mean / cells
    count = stats.get(("count", j), stats.get(("count", -1)))
    if count is None:
        assert query.table.rows is not None
        count = np.array([query.table.rows])
    grid = next(p.grid for p in plan.parts if p.stat == "csum" and p.col == j)
    assert grid is not None
    n: Any = np.maximum(count.astype(np.float64), 1.0)
    first = stats[("csum", j)] * grid.to_value(1.0)
    if query.kind == "mean":
        return np.clip(grid.center + first / n, col.lower, col.upper) / cells
    second = stats[("csq", j)] * grid.to_value(1.0) * grid.to_value(1.0)
    ddof = query.ddof
    denom = np.maximum(n - ddof, 1.0)
    var = (second - first * first / n) / denom
    top = (col.upper - col.lower) ** 2 / 4.0 * n / denom
    var = np.clip(var, 0.0, top)
    return np.sqrt(var) if query.kind == "std" else var


def evaluate(query: Query, plan: Plan, value: Any) -> Any:
    """The noised answer of ``query`` on ``value`` (the graph's result for ``query.input``)."""
    data = _Data(query, value)
    stats: dict[tuple[str, int], np.ndarray] = {}
    picks: dict[int, list[float]] = {}
    for part in plan.parts:
        if part.stat == "quantile":
            picks.setdefault(part.col, []).append(_quantile(part, data))
            continue
        stats[(part.stat, part.col)] = _noisy(_statistic(part, data, query), part, plan)
    answers: list[Any] = []
    for j in range(len(query.cols)):
        kind = query.kind
        if kind == "count":
            counts = stats[("count", j)] if ("count", j) in stats else stats[("count", 0)]
            answers.append(np.maximum(counts, 0))
        elif kind == "sum":
            grid = next(p.grid for p in plan.parts if p.stat == "sum" and p.col == j)
            assert grid is not None
            total = _within_bounds(stats[("sum", j)] * grid.to_value(1.0), query, j)
            answers.append(np.rint(total).astype(np.int64) if query.extra.get("integer") else total)
        elif kind in ("mean", "var", "std"):
            answers.append(_mean_like(query, j, stats, plan))
        elif kind == "quantile":
            answers.append(np.asarray(picks[j]))
        elif kind == "table":
            grid = next(p.grid for p in plan.parts if p.stat == "cells" and p.col == j)
            assert grid is not None
            answers.append(stats[("cells", j)] * grid.to_value(1.0))
        elif kind == "histogram":
            answers.append(np.maximum(stats[("hist", 0)], 0))
            break
    return format_answer(query, answers)


def finite_epsilon(value: float) -> bool:
    return math.isfinite(value) and value > 0
