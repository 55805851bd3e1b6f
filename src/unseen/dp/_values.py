"""The abstract values of the DP analysis: what is known, from public metadata only, about
each value of a graph (:class:`Col`, :class:`Table`, :class:`Grouped`, :class:`Const`).

A :class:`Table` is a value made of rows where each row belongs to one privacy unit: per
column its bounds, nullability and public keys; its row space (two tables with the same space
are aligned row by row); its row count when public; how many rows one privacy unit may have
(``k``); and the neighbouring relation of the source it derives from (``replace``: the owner
declared the row count public, so neighbours replace up to ``k`` rows; otherwise neighbours
add or remove up to ``k`` rows). ``filtered`` means the rows are a data-dependent subset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Col", "Const", "Grouped", "Table", "Mode", "hull"]


@dataclass(frozen=True)
class Col:
    """One column: label, declared or derived bounds (``None``: unknown), nullability."""

    label: Any
    lower: float | None
    upper: float | None
    nullable: bool = False
    keys: tuple[Any, ...] | None = None
    boolean: bool = False

    @property
    def bounded(self) -> bool:
        return (
            self.lower is not None
            and self.upper is not None
            and math.isfinite(self.lower)
            and math.isfinite(self.upper)
        )

    def with_bounds(self, lower: float | None, upper: float | None, **changes: Any) -> Col:
        if lower is not None and upper is not None:
            if math.isnan(lower) or math.isnan(upper):
                lower = upper = None
            elif lower > upper:
                lower, upper = upper, lower
        return replace(self, lower=lower, upper=upper, keys=None, boolean=False, **changes)


@dataclass(frozen=True)
class Table:
    """A value whose rows are the records of privacy units (see the module docstring)."""

    family: str
    cols: tuple[Col, ...]
    one_d: bool
    space: str
    rows: int | None
    k: int
    replace: bool
    filtered: bool
    datasets: frozenset[str]
    max_rows: int
    dtype: str = "float64"
    #: the id of the asset the rows come from (its executed value bounds the row count)
    source: str = ""

    @property
    def mode(self) -> Mode:
        if not self.replace:
            return "add_remove"
        return "replace_filtered" if self.filtered or self.rows is None else "replace"

    def col(self, label: Any) -> Col:
        for col in self.cols:
            if col.label == label:
                return col
        raise KeyError(label)

    def with_cols(self, cols: tuple[Col, ...], one_d: bool | None = None, **changes: Any) -> Table:
        return replace(self, cols=cols, one_d=self.one_d if one_d is None else one_d, **changes)


@dataclass(frozen=True)
class Grouped:
    """``table.groupby(by)`` over a column with public keys, optionally with columns selected."""

    table: Table
    by: Any
    keys: tuple[Any, ...]
    selected: tuple[Any, ...] | None
    single: bool = False
    source: str = ""


@dataclass(frozen=True)
class Const:
    """A public value: a literal of the graph or an object the caller may read."""

    value: Any


Mode = str  # "add_remove" | "replace" | "replace_filtered"


def hull(*cols: Col) -> tuple[float | None, float | None]:
    """The smallest interval holding every column's bounds (``None`` if one is unknown)."""
    if not all(c.bounded for c in cols):
        return None, None
    return min(c.lower for c in cols), max(c.upper for c in cols)  # type: ignore[type-var]
