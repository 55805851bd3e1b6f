"""The noise plan of a query: which statistics get noise, their sensitivities, and how the
privacy parameter is split between them (:func:`make_plan`). Public parameters only.

Statistics are exact integers (see :mod:`unseen.dp._grid`): sums of values quantized to a
public grid, counts, centered sums and sums of squares. Their sensitivities per privacy unit
(``k`` rows), by neighbouring relation (module :mod:`unseen.dp._values`), with the grid bounds
``[a, b]``, ``M = max(|a|, |b|)`` and centered half-width ``H``:

=================  ============  =====================  =====================
statistic          add/remove    replace (public rows)  replace, filtered
=================  ============  =====================  =====================
count              k             0 (k if nullable)      k
sum                k M           k (b - a)              k max(b - a, M)
centered sum       k H           2 k H                  2 k H
centered squares   k H^2         k H^2                  k H^2
histogram (L1)     k             2 k                    2 k
per-group vectors  as above      twice the scalar       twice the scalar
one table column   -             k (b - a)              -
=================  ============  =====================  =====================

Laplace: epsilon is split equally between the noisy statistics. Gaussian: the zCDP
parameter ``rho`` of the requested (epsilon, delta) is split equally. Quantiles use the
exponential mechanism (pure DP) with an equal share each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from unseen.dp._grid import Grid, centered_grid, sum_grid
from unseen.dp._query import QUANTILE_CANDIDATES, Query
from unseen.dp._values import Col

__all__ = ["Part", "Plan", "make_plan", "rho_of"]


@dataclass
class Part:
    """One noisy statistic: ``stat`` (count, sum, csum, csq, hist, cells, quantile) of
    column ``col`` (index into the query's columns; -1 for a shared row count)."""

    stat: str
    col: int
    grid: Grid | None
    l1: float
    l2: float
    share: float = 0.0
    scale: float = 0.0
    q: float = 0.0
    candidates: tuple[float, ...] = ()
    d_in: int = 0


@dataclass
class Plan:
    mechanism: str
    epsilon: float
    delta: float
    parts: list[Part]
    components: list[tuple[str, float]] = field(default_factory=list)


def rho_of(epsilon: float, delta: float) -> float:
    """The zCDP ``rho`` whose (epsilon, delta) conversion is ``epsilon`` at ``delta``
    (Bun and Steinke 2016: rho-zCDP implies (rho + 2 sqrt(rho log(1/delta)), delta)-DP)."""
    log = math.log(1.0 / delta)
    return (math.sqrt(log + epsilon) - math.sqrt(log)) ** 2


def _count_l1(query: Query, col: Col | None) -> float:
    k, mode = float(query.table.k), query.table.mode
    if query.grouped:
        return k if mode == "add_remove" else 2 * k
    if mode == "replace" and not (col is not None and col.nullable):
        return 0.0
    return float(k)


def _sum_l1(query: Query, col: Col, grid: Grid) -> float:
    k, mode = float(query.table.k), query.table.mode
    big = max(abs(grid.low), abs(grid.high))
    width = grid.high - grid.low
    if query.grouped:
        return k * big if mode == "add_remove" else 2 * k * big
    if mode == "add_remove":
        return k * big
    if mode == "replace" and not col.nullable:
        return k * width
    return k * max(width, big)


def _centered_l1(query: Query, grid: Grid, squares: bool) -> float:
    k, mode = float(query.table.k), query.table.mode
    half = grid.high
    if squares:
        value = k * half * half
        return value if mode == "add_remove" or not query.grouped else 2 * value
    return k * half if mode == "add_remove" else 2 * k * half


def _needs_count(query: Query, col: Col) -> bool:
    return query.grouped or query.table.mode != "replace" or col.nullable


def _parts(query: Query) -> list[Part]:
    kind, cols = query.kind, query.cols
    parts: list[Part] = []
    k = float(query.table.k)
    l1: float
    if kind == "table":
        for i, col in enumerate(cols):
            grid = sum_grid(col)
            width = float(grid.high - grid.low)
            parts.append(Part("cells", i, grid, k * width, math.sqrt(k) * width))
        return parts
    if kind == "histogram":
        l1 = k if query.table.mode == "add_remove" else 2 * k
        return [Part("hist", 0, None, l1, l1)]
    if kind == "count":
        for i, col in enumerate(cols):
            l1 = _count_l1(query, col)
            parts.append(Part("count", i, None, l1, l1))
            if not query.per_column and not query.grouped:
                break
        return parts
    if kind == "quantile":
        d_in = query.table.k if query.table.mode == "add_remove" else 2 * query.table.k
        for i, col in enumerate(cols):
            assert col.lower is not None and col.upper is not None
            candidates = tuple(_linspace(col.lower, col.upper))
            for q in query.qs:
                parts.append(Part("quantile", i, None, 0, 0, q=q, candidates=candidates, d_in=d_in))
        return parts
    shared_count = not query.grouped and not any(c.nullable for c in cols)
    if kind in ("mean", "var", "std") and shared_count and _needs_count(query, cols[0]):
        l1 = _count_l1(query, None)
        parts.append(Part("count", -1, None, l1, l1))
    for i, col in enumerate(cols):
        if kind == "sum":
            grid = sum_grid(col)
            l1 = _sum_l1(query, col, grid)
            parts.append(Part("sum", i, grid, l1, l1))
            continue
        if not shared_count and _needs_count(query, col):
            l1 = _count_l1(query, col)
            parts.append(Part("count", i, None, l1, l1))
        squares = kind in ("var", "std")
        private_n = _needs_count(query, col)
        if kind == "mean" and not private_n:
            grid = sum_grid(col)
            l1 = _sum_l1(query, col, grid)
            parts.append(Part("sum", i, grid, l1, l1))
            continue
        grid = centered_grid(col, squares)
        l1 = _centered_l1(query, grid, False)
        parts.append(Part("csum", i, grid, l1, l1))
        if squares:
            l1 = _centered_l1(query, grid, True)
            parts.append(Part("csq", i, grid, l1, l1))
    return parts


def _linspace(low: float, high: float) -> list[float]:
    step = (high - low) / (QUANTILE_CANDIDATES - 1)
    return [low + i * step for i in range(QUANTILE_CANDIDATES - 1)] + [high]


def make_plan(query: Query, epsilon: float, delta: float | None) -> Plan:
    """Split the privacy parameters between the query's noisy statistics."""
    parts = _parts(query)
    noisy = [p for p in parts if p.stat == "quantile" or p.l1 > 0]
    pure = all(p.stat == "quantile" for p in noisy) or delta is None
    if not noisy:
        return Plan("none", 0.0, 0.0, parts)
    if pure:
        share = epsilon / len(noisy)
        for part in noisy:
            part.share = share
        kind = "laplace"
        components = [("pure" if p.stat == "quantile" else "laplace", share) for p in noisy]
        return Plan(kind, epsilon, 0.0, parts, components)
    assert delta is not None
    rho = rho_of(epsilon, delta) / len(noisy)
    for part in noisy:
        part.share = rho
    return Plan("gaussian", epsilon, delta, parts, [("gaussian", rho) for _ in noisy])
