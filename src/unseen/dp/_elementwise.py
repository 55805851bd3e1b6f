"""Bounds through row-local operations: unary functions, arithmetic with public constants,
arithmetic between aligned columns, comparisons and clamps.

Each rule maps a column's interval to an interval that holds every result; ``None`` bounds
mean unknown (a later clamp gives them back). The rules need not be tight: the values are
clamped to the final bounds before any aggregate, so a loose rule costs accuracy, never
privacy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from unseen.dp._values import Col

__all__ = ["UNARY", "BINARY", "COMPARE", "LOGICAL", "unary", "binary_const", "binary_cols"]

Interval = tuple[float | None, float | None]


def _monotone(fn: Callable[[float], float], low_ok: float = -math.inf) -> Callable[[Col], Interval]:
    def rule(col: Col) -> Interval:
        if not col.bounded or col.lower < low_ok:  # type: ignore[operator]
            return None, None
        with np.errstate(all="ignore"):
            return float(fn(col.lower)), float(fn(col.upper))  # type: ignore[arg-type]

    return rule


def _abs(col: Col) -> Interval:
    if not col.bounded:
        return None, None
    low, high = col.lower, col.upper
    assert low is not None and high is not None
    if low >= 0:
        return low, high
    if high <= 0:
        return -high, -low
    return 0.0, max(-low, high)


def _square(col: Col) -> Interval:
    low, high = _abs(col)
    return (None, None) if low is None or high is None else (low * low, high * high)


def _neg(col: Col) -> Interval:
    return (None, None) if not col.bounded else (-col.upper, -col.lower)  # type: ignore[operator]


def _same(col: Col) -> Interval:
    return col.lower, col.upper


def _sign(col: Col) -> Interval:
    return -1.0, 1.0


def _floor_ceil(col: Col) -> Interval:
    if not col.bounded:
        return None, None
    return float(math.floor(col.lower)), float(math.ceil(col.upper))  # type: ignore[arg-type]


UNARY: dict[str, Callable[[Col], Interval]] = {
    "__neg__": _neg,
    "negative": _neg,
    "neg": _neg,
    "__pos__": _same,
    "positive": _same,
    "__abs__": _abs,
    "abs": _abs,
    "absolute": _abs,
    "fabs": _abs,
    "square": _square,
    "sqrt": _monotone(math.sqrt, 0.0),
    "cbrt": _monotone(np.cbrt),
    "exp": _monotone(lambda v: math.exp(min(v, 700.0))),
    "exp2": _monotone(lambda v: 2.0 ** min(v, 1000.0)),
    "expm1": _monotone(lambda v: math.expm1(min(v, 700.0))),
    "log1p": _monotone(lambda v: math.log1p(v) if v > -1 else -math.inf, -1.0),
    "sign": _sign,
    "sgn": _sign,
    "tanh": _monotone(math.tanh),
    "arctan": _monotone(math.atan),
    "sigmoid": _monotone(lambda v: 1.0 / (1.0 + math.exp(-max(min(v, 700.0), -700.0)))),
    "floor": _floor_ceil,
    "ceil": _floor_ceil,
    "trunc": _floor_ceil,
    "fix": _floor_ceil,
    "rint": _floor_ceil,
    "round": _floor_ceil,
    "around": _floor_ceil,
    "__round__": _floor_ceil,
}


def _log(base: float) -> Callable[[float], float]:
    def fn(v: float) -> float:
        return math.log(v, base) if v > 0 else -math.inf

    return fn


UNARY["log"] = _monotone(_log(math.e), 0.0)
UNARY["log2"] = _monotone(_log(2.0), 0.0)
UNARY["log10"] = _monotone(_log(10.0), 0.0)

#: Unary operations whose result is a 0/1 indicator that is never missing.
INDICATORS = frozenset(
    {"isnan", "isna", "isnull", "notna", "notnull", "isfinite", "isinf", "signbit", "logical_not"}
)

_ARITH = {
    "add": "add",
    "__add__": "add",
    "__radd__": "add",
    "sub": "sub",
    "subtract": "sub",
    "__sub__": "sub",
    "__rsub__": "rsub",
    "rsub": "rsub",
    "mul": "mul",
    "multiply": "mul",
    "__mul__": "mul",
    "__rmul__": "mul",
    "rmul": "mul",
    "radd": "add",
    "div": "div",
    "truediv": "div",
    "divide": "div",
    "true_divide": "div",
    "__truediv__": "div",
    "__rtruediv__": "rdiv",
    "rdiv": "rdiv",
    "rtruediv": "rdiv",
    "pow": "pow",
    "power": "pow",
    "__pow__": "pow",
    "maximum": "max",
    "fmax": "max",
    "minimum": "min",
    "fmin": "min",
}
BINARY = frozenset(_ARITH)
COMPARE = frozenset(
    {
        "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__",
        "lt", "le", "gt", "ge", "eq", "ne",
        "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    }
)  # fmt: skip
LOGICAL = frozenset(
    {
        "__and__", "__or__", "__xor__", "__rand__", "__ror__", "__rxor__",
        "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
    }
)  # fmt: skip


def unary(name: str, col: Col) -> Col | None:
    """The column after a unary operation, or None if the operation has no rule."""
    if name in INDICATORS:
        return Col(col.label, 0.0, 1.0, False, None, True)
    rule = UNARY.get(name)
    if rule is None:
        return None
    low, high = rule(col)
    return col.with_bounds(low, high)


def _products(a: Interval, b: Interval) -> Interval:
    if None in a or None in b:
        return None, None
    with np.errstate(all="ignore"):
        values = [x * y for x in a for y in b]  # type: ignore[operator]
    if any(math.isnan(v) for v in values):
        return None, None
    return min(values), max(values)


def _combine(op: str, a: Interval, b: Interval) -> Interval:
    """``a op b`` over intervals (``b`` may be a point)."""
    if None in a or None in b:
        return None, None
    (al, ah), (bl, bh) = a, b
    assert al is not None and ah is not None and bl is not None and bh is not None
    if op == "add":
        return al + bl, ah + bh
    if op == "sub":
        return al - bh, ah - bl
    if op == "rsub":
        return bl - ah, bh - al
    if op == "mul":
        return _products(a, b)
    if op == "div":
        if bl <= 0 <= bh:
            return None, None
        return _products(a, (1.0 / bh, 1.0 / bl))
    if op == "rdiv":
        if al <= 0 <= ah:
            return None, None
        return _products(b, (1.0 / ah, 1.0 / al))
    if op == "max":
        return max(al, bl), max(ah, bh)
    if op == "min":
        return min(al, bl), min(ah, bh)
    if op == "pow":
        if bl != bh:
            return None, None
        p = bl
        if float(p).is_integer() and p >= 0:
            if int(p) % 2 == 0:
                low, high = _abs(Col(None, al, ah))
                assert low is not None and high is not None
                return low**p, high**p
            return al**p, ah**p
        if al >= 0 and p > 0:
            return al**p, ah**p
        return None, None
    return None, None


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def binary_const(name: str, col: Col, const: Any) -> Col | None:
    """``col op const`` for a public scalar; None if not trackable."""
    if name in COMPARE:
        return Col(col.label, 0.0, 1.0, False, None, True)
    op = _ARITH.get(name)
    value = _scalar(const)
    if op is None or value is None:
        return None
    low, high = _combine(op, (col.lower, col.upper), (value, value))
    return col.with_bounds(low, high)


def binary_cols(name: str, a: Col, b: Col) -> Col | None:
    """``a op b`` for two aligned columns; None if not trackable."""
    if name in COMPARE or name in LOGICAL:
        return Col(a.label, 0.0, 1.0, a.nullable or b.nullable, None, True)
    op = _ARITH.get(name)
    if op is None or op == "pow":
        return None
    if op == "rsub":
        low, high = _combine("sub", (b.lower, b.upper), (a.lower, a.upper))
    elif op == "rdiv":
        low, high = _combine("div", (b.lower, b.upper), (a.lower, a.upper))
    else:
        low, high = _combine(op, (a.lower, a.upper), (b.lower, b.upper))
    return a.with_bounds(low, high, nullable=a.nullable or b.nullable)


def clamp(col: Col, low: Any, high: Any) -> Col | None:
    """``clip(col, low, high)``; either side may be None (no limit on that side)."""
    lo, hi = _scalar(low), _scalar(high)
    if (low is not None and lo is None) or (high is not None and hi is None):
        return None

    def clip(x: float) -> float:  # monotone: the bounds map to the bounds
        if lo is not None:
            x = max(x, lo)
        if hi is not None:
            x = min(x, hi)
        return x

    new_low = clip(-math.inf if col.lower is None else col.lower)
    new_high = clip(math.inf if col.upper is None else col.upper)
    return col.with_bounds(
        new_low if math.isfinite(new_low) else None, new_high if math.isfinite(new_high) else None
    )
