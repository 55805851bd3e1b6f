"""What a DP release computes (:class:`Query`), and how an aggregate action becomes one.

A query reads one value of the graph (``input``, a :class:`~unseen.dp._values.Table`) and
aggregates it: a count, sum, mean, variance, standard deviation, quantiles over a public
grid, a histogram over public bins or keys, any of these per public group key, or the whole
table cell by cell. Everything in a query is public: it names columns, bounds and keys, never
values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.dp._values import Col, Grouped, Table

__all__ = ["Query", "AGGREGATES", "NotTrackable"]

#: Action names that aggregate rows (numpy, torch and pandas spellings).
AGGREGATES = frozenset(
    {
        "sum", "nansum", "mean", "nanmean", "var", "nanvar", "std", "nanstd", "count",
        "count_nonzero", "median", "nanmedian", "quantile", "nanquantile", "percentile",
        "nanpercentile", "histogram", "histc", "value_counts", "size",
    }
)  # fmt: skip

#: Grid size of the public candidates of a quantile: evenly spaced over the column's bounds.
QUANTILE_CANDIDATES = 1024


class NotTrackable(Exception):
    """The graph is not DP-releasable; the message says which step and why."""


@dataclass(frozen=True)
class Query:
    """One DP aggregate over the columns ``cols`` of the value ``input``.

    ``kind``: count, sum, mean, var, std, quantile, histogram or table. ``per_column``: one
    answer per column (``axis=0``) rather than one for all (a 1-D value or ``axis=None``,
    then ``all_cells``: every cell of a 2-D value counts as one value of the row total).
    ``keys``/``by``: the public group keys and their column, for group-by and value counts;
    ``edges``: public histogram bins. ``out`` names the form of the answer.
    """

    kind: str
    input: str
    table: Table
    cols: tuple[Col, ...]
    per_column: bool
    out: str
    all_cells: bool = False
    ddof: int = 0
    qs: tuple[float, ...] = ()
    q_scalar: bool = True
    edges: tuple[float, ...] = ()
    keys: tuple[Any, ...] = ()
    by: Any = None
    grouped: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted(self.table.datasets))


def group_query(kind: str, grouped: Grouped, input_id: str, ddof: int, label: str) -> Query:
    """An aggregate per public key of a group-by."""
    table = grouped.table
    cols: tuple[Col, ...]
    if kind in ("count", "size"):
        cols = (table.col(grouped.by),)
        kind = "count"
    else:
        names = grouped.selected or tuple(c.label for c in table.cols if c.label != grouped.by)
        cols = tuple(table.col(n) for n in names)
    return Query(
        kind=kind,
        input=input_id,
        table=table,
        cols=cols,
        per_column=not grouped.single and kind != "count",
        out="pandas_groups",
        ddof=ddof,
        keys=grouped.keys,
        by=grouped.by,
        grouped=True,
        description=label,
        extra={"size": label.endswith("size()")},
    )
