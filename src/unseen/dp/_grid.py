"""Exact arithmetic for sums: values are clamped to their public bounds and rounded to a
public grid of step ``2**-shift``, so that every statistic is an exact integer.

Floating-point sums of clamped values can break a mechanism's sensitivity (rounding depends
on the order and on the other values); integer sums cannot. A sum grid keeps
``|value| <= 2**24`` grid steps and a centered grid for squares ``2**12``, so sums of up to
``2**29`` rows stay below ``2**53``: they are exact in int64 and as floats. The grid bounds
``[low, high]`` (in steps) are what the sensitivities use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from unseen.dp._values import Col

__all__ = ["Grid", "sum_grid", "centered_grid", "quantize"]

SUM_BITS = 24
SQUARE_BITS = 12


@dataclass(frozen=True)
class Grid:
    """Values map to integers in ``[low, high]``: ``rint((clip(v, lo, hi) - center) * 2**shift)``."""

    shift: int
    low: int
    high: int
    lo: float
    hi: float
    center: float = 0.0

    def to_value(self, steps: float) -> float:
        return math.ldexp(steps, -self.shift)


def _shift(magnitude: float, bits: int) -> int:
    magnitude = max(magnitude, 2.0**-60)
    return bits - math.ceil(math.log2(magnitude)) - 1


def sum_grid(col: Col) -> Grid:
    assert col.lower is not None and col.upper is not None
    shift = _shift(max(abs(col.lower), abs(col.upper)), SUM_BITS)
    low = math.floor(math.ldexp(col.lower, shift))
    high = math.ceil(math.ldexp(col.upper, shift))
    return Grid(shift, int(low), int(high), col.lower, col.upper)


def centered_grid(col: Col, squares: bool) -> Grid:
    assert col.lower is not None and col.upper is not None
    center = (col.lower + col.upper) / 2.0
    half = max(col.upper - center, center - col.lower)
    shift = _shift(half, SQUARE_BITS if squares else SUM_BITS)
    steps = math.ceil(math.ldexp(half, shift))
    return Grid(shift, -int(steps), int(steps), col.lower, col.upper, center)


def quantize(values: np.ndarray, grid: Grid) -> np.ndarray:
    """Integers in ``[grid.low, grid.high]`` for finite float ``values`` (a row-local map)."""
    clipped = np.clip(values, grid.lo, grid.hi)
    if grid.center:
        clipped = clipped - grid.center
    steps = np.rint(np.ldexp(clipped, grid.shift))
    np.clip(steps, grid.low, grid.high, out=steps)
    return steps.astype(np.int64)
