"""The analysis checked on what ran (:func:`check_executed`, :func:`shape_ok`).

The static analysis claims a shape for the value a statistic reads: 1-D, or 2-D with a number
of columns, and a row count (the public one, the source's, or at most the source's after a
filter). Before a statistic is computed, the executed value is checked against that claim, on
the mock before any charge and on the private data before anything is released. A mismatch
means the analysis was wrong about row-locality (for example a broadcast that made n rows into
n x n): nothing is released. The error carries no shape: the row count of a filtered private
value is itself private.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from unseen.dp._query import NotTrackable, Query
from unseen.dp._values import Table

__all__ = ["ShapeMismatch", "check_executed", "shape_of", "shape_ok"]


class ShapeMismatch(NotTrackable):
    """The executed value's shape is not the one the analysis claimed (no details: the
    shape of a private intermediate may be private)."""


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a numpy, torch or pandas value (None for anything else)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return tuple(int(d) for d in value.shape)
    shape = getattr(value, "shape", None)
    if isinstance(value, np.generic) or shape is None:
        return None
    try:
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        return None


def shape_ok(table: Table, value: Any, rows: int | None, most: int | None) -> bool:
    """Whether ``value`` has the claimed shape of ``table``: its dimensions and columns, and
    ``rows`` rows exactly (when given) or at most ``most``."""
    shape = shape_of(value)
    if shape is None:
        return False
    if table.one_d:
        if len(shape) != 1:
            return False
    elif len(shape) != 2 or shape[1] != len(table.cols):
        return False
    if rows is not None and shape[0] != rows:
        return False
    return most is None or shape[0] <= most


def check_executed(query: Query, value: Any, source_rows: int | None) -> None:
    """Raise :class:`ShapeMismatch` unless the executed ``value`` of ``query.input`` has the
    shape the analysis claimed: the public row count, or the source's ``source_rows`` (exact
    unless filtered), and the claimed dimensions and columns."""
    table = query.table
    if table.rows is not None and not table.filtered:
        rows: int | None = table.rows
    elif not table.filtered:
        rows = source_rows
    else:
        rows = None
    if not shape_ok(table, value, rows, source_rows):
        raise ShapeMismatch(
            "the executed value does not have the shape the DP analysis claimed, so its rows "
            "may not be row-local; nothing is released"
        )
