"""The record of a federated run: one row per round (clients, failures, loss, accuracy, bytes,
seconds and any further metrics), as a DataFrame, a rich table or loss/accuracy curves."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from unseen.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class RoundRecord:
    """What one round did. ``loss``/``accuracy`` are NaN when the round did not measure them."""

    round: int
    clients: int
    failed: int = 0
    loss: float = math.nan
    accuracy: float = math.nan
    bytes: int = 0
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


class History:
    """Rounds in order; ``history.pandas`` is a DataFrame, ``history.plot()`` draws curves."""

    def __init__(self, rounds: list[RoundRecord] | None = None) -> None:
        self.rounds: list[RoundRecord] = list(rounds or [])

    def add(
        self,
        *,
        round: int,
        clients: int,
        failed: int = 0,
        loss: float | None = None,
        accuracy: float | None = None,
        bytes: int = 0,
        seconds: float = 0.0,
        **metrics: float,
    ) -> RoundRecord:
        """Record one round (later rounds only) and return its record."""
        if self.rounds and round <= self.rounds[-1].round:
            raise UsageError(f"round {round} comes after round {self.rounds[-1].round}: rounds only grow")  # fmt: skip
        record = RoundRecord(
            round=int(round),
            clients=int(clients),
            failed=int(failed),
            loss=math.nan if loss is None else float(loss),
            accuracy=math.nan if accuracy is None else float(accuracy),
            bytes=int(bytes),
            seconds=float(seconds),
            metrics={k: float(v) for k, v in metrics.items()},
        )
        self.rounds.append(record)
        return record

    def __len__(self) -> int:
        return len(self.rounds)

    def __getitem__(self, index: int) -> RoundRecord:
        return self.rounds[index]

    @property
    def loss(self) -> list[float]:
        return [r.loss for r in self.rounds]

    @property
    def accuracy(self) -> list[float]:
        return [r.accuracy for r in self.rounds]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN as null), for checkpoints; :meth:`from_dict` reads it back."""
        rows = []
        for r in self.rounds:
            row = asdict(r)
            for key in ("loss", "accuracy"):
                row[key] = None if math.isnan(row[key]) else row[key]
            rows.append(row)
        return {"rounds": rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        history = cls()
        for row in data.get("rounds", []):
            row = dict(row)
            history.add(**{k: v for k, v in row.items() if k != "metrics"}, **row.get("metrics", {}))  # fmt: skip
        return history

    def _columns(self) -> list[str]:
        extra: list[str] = []
        for r in self.rounds:
            extra += [k for k in r.metrics if k not in extra]
        return ["round", "clients", "failed", "loss", "accuracy", "bytes", "seconds", *extra]

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.rounds:
            row = asdict(r)
            metrics = row.pop("metrics")
            rows.append({**row, **{k: metrics.get(k, math.nan) for k in self._columns()[7:]}})
        return rows

    @property
    def pandas(self) -> Any:
        """One row per round, indexed by round number (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise UsageError("History.pandas needs pandas: pip install 'unseen[pandas]'") from None
        return pd.DataFrame(self._rows(), columns=self._columns()).set_index("round")

    def plot(self, ax: Any = None) -> Any:
        """Loss and accuracy per round on two matplotlib axes (returns them)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise UsageError("History.plot needs matplotlib: pip install matplotlib") from None
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(9, 3.2))
        rounds = [r.round for r in self.rounds]
        for axis, name in zip(ax, ("loss", "accuracy")):
            axis.plot(rounds, getattr(self, name), marker="o")
            axis.set_xlabel("round")
            axis.set_ylabel(name)
            axis.grid(alpha=0.3)
        return ax

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=f"History ({len(self)} rounds)")
        columns = self._columns()
        for name in columns:
            table.add_column(name, justify="right")
        for row in self._rows():
            table.add_row(*(_fmt(row[c]) for c in columns))
        return table

    def __repr__(self) -> str:
        if not self.rounds:
            return "History(0 rounds)"
        last = self.rounds[-1]
        return f"History({len(self)} rounds, last: round {last.round}, loss {_fmt(last.loss)}, accuracy {_fmt(last.accuracy)})"  # fmt: skip


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)
