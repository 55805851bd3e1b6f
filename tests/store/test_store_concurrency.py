"""Many threads on one store at once (a server's thread pool), on every backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from store_support import a_ledger_entry, a_request, a_user, an_audit_entry, an_object

from unseen import dp
from unseen.errors import BudgetExhausted, UsageError
from unseen.store import LedgerConflict


def run_all(n: int, job: Callable[[int], Any]) -> list[Any]:
    """Run ``job(0..n-1)`` on n threads; the result or the exception of each."""

    def guarded(i: int) -> Any:
        try:
            return job(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(guarded, range(n)))


def test_twenty_charges_on_a_budget_for_ten(stores: Any) -> None:
    stores.users.add(a_user(1, budget=10.0))
    results = run_all(20, lambda i: stores.users.charge_budget(a_user(1).id, 1.0))
    ok = [r for r in results if isinstance(r, float)]
    refused = [r for r in results if isinstance(r, BudgetExhausted)]
    assert (len(ok), len(refused)) == (10, 10), results
    assert sorted(ok) == [float(n) for n in range(10)]  # each remainder seen exactly once
    assert stores.users.get(a_user(1).id).spent == 10.0


def test_concurrent_updates_of_one_request(stores: Any) -> None:
    stores.requests.add(a_request(1))
    versions = [dataclasses.replace(a_request(1), reason=f"reason {i}") for i in range(20)]
    results = run_all(20, lambda i: stores.requests.update(versions[i]))
    assert results == [None] * 20
    assert stores.requests.get(a_request(1).id) in versions


def test_concurrent_updates_of_one_object(stores: Any) -> None:
    stores.objects.put(an_object(1), "value")
    versions = [an_object(1, readers=frozenset({f"r{i}"})) for i in range(20)]
    results = run_all(20, lambda i: stores.objects.update(versions[i]))
    assert results == [None] * 20
    assert stores.objects.get(an_object(1).id) in versions
    assert stores.objects.value(an_object(1).id) == "value"


def test_concurrent_puts_reads_and_deletes(stores: Any) -> None:
    def job(i: int) -> None:
        record = an_object(i)
        stores.objects.put(record, np.full(1000, i))
        assert stores.objects.get(record.id) == record
        assert int(stores.objects.value(record.id)[0]) == i
        if i % 2:
            stores.objects.delete(record.id)

    assert run_all(16, job) == [None] * 16
    assert sorted(r.id for r in stores.objects.list()) == [an_object(i).id for i in range(0, 16, 2)]


def test_one_winner_when_threads_put_the_same_id(stores: Any) -> None:
    results = run_all(12, lambda i: stores.objects.put(an_object(1, description=str(i)), i))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    assert all(isinstance(r, UsageError) for r in results if r is not None)
    record = stores.objects.get(an_object(1).id)
    assert record.description == str(winners[0])
    assert stores.objects.value(record.id) == winners[0]


def test_one_winner_when_threads_add_the_same_email(stores: Any) -> None:
    results = run_all(12, lambda i: stores.users.add(a_user(i, email="same@example.org")))
    assert sum(r is None for r in results) == 1, results
    assert len(stores.users.list()) == 1


# -- the privacy ledger -----------------------------------------------------------------------


def test_twenty_appends_race_for_one_number(stores: Any) -> None:
    stores.ledger.append(a_ledger_entry(1, 0))
    entries = [a_ledger_entry(1, 1, id=f"try{i:02d}", charge=float(i)) for i in range(20)]
    results = run_all(20, lambda i: stores.ledger.append(entries[i]))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    assert all(isinstance(r, LedgerConflict) for r in results if r is not None), results
    assert stores.ledger.entries(a_ledger_entry(1).user_id) == [
        a_ledger_entry(1, 0),
        entries[winners[0]],
    ]


def test_one_append_per_user_wins(stores: Any) -> None:
    results = run_all(20, lambda i: stores.ledger.append(a_ledger_entry(i % 10, 0, id=f"e{i}")))
    assert sum(r is None for r in results) == 10, results
    assert all(isinstance(r, LedgerConflict) for r in results if r is not None), results
    assert sorted(r.user_id for r in stores.ledger.list()) == [
        a_ledger_entry(u).user_id for u in range(10)
    ]


def test_twenty_threads_append_until_each_placed_five(stores: Any) -> None:
    user = a_ledger_entry(1).user_id

    def job(i: int) -> int:
        conflicts = 0
        for k in range(5):
            while True:
                last = stores.ledger.last(user)
                seq = 0 if last is None else last.seq + 1
                try:
                    stores.ledger.append(a_ledger_entry(1, seq, id=f"t{i:02d}-{k}"))
                    break
                except LedgerConflict:
                    conflicts += 1
        return conflicts

    results = run_all(20, job)
    assert all(isinstance(r, int) for r in results), results
    entries = stores.ledger.entries(user)
    assert [e.seq for e in entries] == list(range(100))  # no number twice, none skipped
    assert len({e.id for e in entries}) == 100


def test_twenty_accountants_on_a_budget_for_ten(stores: Any) -> None:
    """One accountant per thread, as if each were another process sharing the ledger: only
    the ledger's compare-and-set keeps them from overspending."""
    node_delta = 1e-6
    cost = dp.Charge(1.0, 0.0, "laplace", (("laplace", 1.0),), ("D",), "mean(x)")
    odometer = dp.Odometer()
    for _ in range(10):
        odometer = odometer.plus(cost.epsilon, cost.delta, cost.components)
    budget = odometer.spent(node_delta)  # exactly ten releases fit
    eleven = odometer.plus(cost.epsilon, cost.delta, cost.components).spent(node_delta)
    assert eleven > budget * (1 + 1e-6)
    accountants = [dp.Accountant(stores.ledger, node_delta) for _ in range(20)]
    results = run_all(20, lambda i: accountants[i].charge("ana", lambda: budget, cost))
    charged = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, BudgetExhausted)]
    assert (len(charged), len(refused)) == (10, 10), results
    entries = stores.ledger.entries("ana")
    assert [e.seq for e in entries] == list(range(10))
    assert sorted(e.id for e in charged) == sorted(e.id for e in entries)
    for entry, (charge, spent) in zip(entries, dp.replay(entries, node_delta), strict=True):
        assert entry.charge == charge and entry.spent == spent
    assert dp.Accountant(stores.ledger, node_delta).spent("ana") == entries[-1].spent


# -- settings and the audit log ---------------------------------------------------------------


def test_one_value_when_threads_setdefault_one_key(stores: Any) -> None:
    results = run_all(20, lambda i: stores.settings.setdefault("dp.delta", i * 1e-7 + 1e-7))
    assert all(isinstance(r, float) for r in results), results
    assert len(set(results)) == 1
    assert stores.settings.get("dp.delta") == results[0]


def test_concurrent_settings_writes(stores: Any) -> None:
    results = run_all(20, lambda i: stores.settings.set(f"k{i % 4}", i))
    assert results == [None] * 20
    assert {k: v % 4 for k, v in stores.settings.items().items()} == {f"k{j}": j for j in range(4)}


def test_concurrent_audit_entries(stores: Any) -> None:
    def job(i: int) -> None:
        for k in range(25):
            stores.audit.add(an_audit_entry(i * 100 + k))

    assert run_all(20, job) == [None] * 20
    ids = [e.id for e in stores.audit.list()]
    assert len(ids) == 500
    for i in range(20):  # every thread's entries, in the order it added them
        its = [an_audit_entry(i * 100 + k).id for k in range(25)]
        assert [x for x in ids if x in set(its)] == its
