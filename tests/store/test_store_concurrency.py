"""Many threads on one store at once (a server's thread pool), on every backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from store_support import a_request, a_user, an_object

from unseen.errors import BudgetExhausted, UsageError


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
