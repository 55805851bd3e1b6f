"""Charging releases to budgets (:class:`Accountant`): the odometer's state comes from the
ledger, a charge is checked and appended in one compare-and-set step before any noise is
drawn, and replaying the ledger reproduces every balance (:func:`replay`)."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from unseen.dp._odometer import Component, Odometer
from unseen.errors import BudgetExhausted
from unseen.store import BUDGET_RTOL, LedgerConflict, LedgerRecord

__all__ = ["Accountant", "Charge", "replay"]

_RETRIES = 200


@dataclass(frozen=True)
class Charge:
    """What one release will cost, from public parameters only."""

    epsilon: float
    delta: float
    mechanism: str
    components: tuple[Component, ...]
    datasets: tuple[str, ...]
    query: str


def replay(entries: Sequence[LedgerRecord], node_delta: float) -> list[tuple[float, float]]:
    """``(charge, spent)`` of every entry recomputed from the ledger alone."""
    odometer = Odometer()
    out = []
    for entry in entries:
        before = odometer.spent(node_delta)
        odometer = odometer.plus(entry.epsilon, entry.delta, entry.components)
        after = odometer.spent(node_delta)
        out.append((after - before, after))
    return out


class Accountant:
    """The odometers of a node's users over its ledger store.

    ``ledger`` is the store (``append`` is its compare-and-set); ``node_delta`` the delta at
    which RDP is converted. The per-process lock only saves retries between threads; the
    ledger's compare-and-set is what keeps concurrent charges (also from other processes
    sharing an SQL ledger) from overspending.
    """

    def __init__(self, ledger: object, node_delta: float) -> None:
        self.ledger = ledger
        self.node_delta = node_delta
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, Odometer]] = {}

    def odometer(self, user_id: str) -> tuple[int, Odometer]:
        """``(number of entries, odometer)`` of a user, replaying the ledger when needed."""
        last = self.ledger.last(user_id)  # type: ignore[attr-defined]
        seq = 0 if last is None else last.seq + 1
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] == seq:
            return cached
        odometer = Odometer()
        for entry in self.ledger.entries(user_id):  # type: ignore[attr-defined]
            odometer = odometer.plus(entry.epsilon, entry.delta, entry.components)
        self._cache[user_id] = (odometer.count, odometer)
        return odometer.count, odometer

    def spent(self, user_id: str) -> float:
        return self.odometer(user_id)[1].spent(self.node_delta)

    def charge(self, user_id: str, budget: Callable[[], float], cost: Charge) -> LedgerRecord:
        """Append the release to the ledger if it fits the budget; :class:`BudgetExhausted`
        (charging nothing) if it does not."""
        with self._lock:
            for _ in range(_RETRIES):
                seq, odometer = self.odometer(user_id)
                after_state = odometer.plus(cost.epsilon, cost.delta, cost.components)
                before = odometer.spent(self.node_delta)
                after = after_state.spent(self.node_delta)
                limit = budget()
                if not after <= limit + BUDGET_RTOL * limit:
                    left = max(limit - before, 0.0)
                    raise BudgetExhausted(
                        f"privacy budget exhausted: this release would bring your spend to "
                        f"{_fmt(after)} of a budget of {limit:g} ({_fmt(left)} left); nothing "
                        "was charged. Ask for less (a smaller epsilon) or ask the owner for more"
                    )
                record = LedgerRecord(
                    id=uuid.uuid4().hex,
                    user_id=user_id,
                    seq=seq,
                    epsilon=cost.epsilon if cost.components else 0.0,
                    delta=cost.delta if cost.components else 0.0,
                    mechanism=cost.mechanism,
                    components=list(cost.components),
                    charge=after - before,
                    spent=after,
                    datasets=cost.datasets,
                    query=cost.query,
                )
                try:
                    self.ledger.append(record)  # type: ignore[attr-defined]
                except LedgerConflict:
                    self._cache.pop(user_id, None)
                    continue
                self._cache[user_id] = (seq + 1, after_state)
                return record
        raise BudgetExhausted(
            "the privacy ledger is too busy to charge this release now; nothing was charged: retry"
        )


def _fmt(value: float) -> str:
    return "infinity" if math.isinf(value) else f"{value:.6g}"
