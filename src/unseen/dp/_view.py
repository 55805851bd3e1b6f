"""A read-only table of rows for notebooks: budgets, release histories, spend
(:class:`DPTable`, with ``.pandas``, a text repr and an HTML repr)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, TypeVar

__all__ = ["DPTable"]

Row = TypeVar("Row")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _value(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, dict) else getattr(row, key, None)


class DPTable(Sequence[Row]):
    """Rows under named columns (typed records, such as :class:`unseen.messages.dp.DPRelease`,
    read by attribute; or dicts); ``[i]`` is a row, ``.pandas`` a DataFrame."""

    def __init__(self, columns: list[tuple[str, str]], rows: Sequence[Row], empty: str) -> None:
        self._columns = columns  # (key in the rows, title)
        self._rows = list(rows)
        self._empty = empty

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [[_value(row, key) for key, _ in self._columns] for row in self._rows],
            columns=[title for _, title in self._columns],
        )

    def _cells(self) -> list[list[str]]:
        return [[_cell(_value(row, key)) for key, _ in self._columns] for row in self._rows]

    def __repr__(self) -> str:
        if not self._rows:
            return self._empty
        titles = [title for _, title in self._columns]
        cells = [titles, *self._cells()]
        widths = [min(40, max(len(r[i]) for r in cells)) for i in range(len(titles))]
        lines = ["  ".join(v[:40].ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(t)}</th>" for _, t in self._columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>"
            for r in self._cells()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table(columns: Sequence[tuple[str, str]], rows: Sequence[Row], empty: str) -> DPTable[Row]:
    return DPTable(list(columns), rows, empty)
