"""Charges: data-independent, atomic, exhaustible without cost, replayable; bad parameters."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from tests.dp.conftest import assets, make_node

import unseen
from unseen import dp
from unseen.messages.dp import DPRelease
from unseen.node._dp import service


def _spent(owner, ana) -> float:
    return service(owner.node).accountant.spent(ana.user_id)


def _entries(owner, ana) -> list:
    return owner.node.stores.ledger.entries(ana.user_id)


def test_charge_never_depends_on_the_data() -> None:
    charges = []
    for seed in (1, 2):
        owner, ana = make_node(seed=seed)
        d = assets(ana)
        y, df = d["y"], d["df"]
        for ptr in (y.mean(), y[y > 3].var(), df.groupby("sex")["bmi"].mean(), df["age"].sum()):
            ptr.get(epsilon=0.3)
        unseen.np.median(y).get(epsilon=0.2)
        y.mean().get(epsilon=0.1, delta=1e-7)
        charges.append([(e.charge, e.spent, e.components, e.epsilon) for e in _entries(owner, ana)])
    assert charges[0] == charges[1]


def test_budget_of_one_admits_two_releases_of_point_three() -> None:
    owner, ana = make_node(budget=1.0)
    y = assets(ana)["y"]
    y.mean().get(epsilon=0.3)
    y.mean().get(epsilon=0.3)
    assert ana.budget == pytest.approx(0.4)
    y.mean().get(epsilon=0.3)
    with pytest.raises(unseen.BudgetExhausted, match="nothing was charged"):
        y.mean().get(epsilon=0.3)
    assert ana.budget == pytest.approx(0.1)
    assert len(_entries(owner, ana)) == 3


def test_exhaustion_charges_nothing_and_a_raise_admits_more() -> None:
    owner, ana = make_node(budget=0.5)
    y = assets(ana)["y"]
    with pytest.raises(unseen.BudgetExhausted):
        y.mean().get(epsilon=100.0)
    assert _spent(owner, ana) == 0.0 and _entries(owner, ana) == []
    owner.users.update(ana.user_id, budget=200.0)
    y.mean().get(epsilon=100.0)
    assert ana.budget == pytest.approx(100.0)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_bad_epsilons_charge_nothing(node, bad) -> None:
    owner, ana = node
    with pytest.raises(unseen.UsageError, match="epsilon"):
        ana._dp_get(assets(ana)["y"].mean(), epsilon=bad, delta=None)
    assert _entries(owner, ana) == []


@pytest.mark.parametrize("bad", [0.0, 1.0, 1e-3, float("nan")])
def test_bad_deltas_charge_nothing(node, bad) -> None:
    owner, ana = node
    with pytest.raises(unseen.UsageError, match="delta"):
        assets(ana)["y"].mean().get(epsilon=1.0, delta=bad)
    assert _entries(owner, ana) == []


def test_non_trackable_graphs_are_refused_and_charge_nothing(node) -> None:
    owner, ana = node
    d = assets(ana)
    x, y, df = d["x"], d["y"], d["df"]
    cases = [
        x.max(axis=0),  # no sensitivity rule
        y[3],  # a single row
        unseen.np.sort(y),  # not row-local
        y.mean() * 2,  # post-processing belongs after the release
        y[:10].sum(),  # positional slice with a private row count
        unseen.np.log(y).sum(),  # log of [0, 10] has no lower bound: clip first
        y + x[:, 0][x[:, 0] > 1],  # rows not aligned
        df.groupby("age").mean(),  # no public keys
        unseen.np.histogram(y, bins=5),  # bins from the private min and max
    ]
    for ptr in cases:
        with pytest.raises(
            unseen.CannotRequestPrivateData, match=r"not DP-releasable.*\.request\("
        ):
            ptr.get(epsilon=1.0)
    mine = ana.send(np.arange(5.0))
    assert (mine + 1).sum().get(epsilon=1.0) == 15.0  # own data: exact, no charge
    assert _entries(owner, ana) == [] and ana.budget == 1000.0


def test_private_objects_without_metadata_are_refused(node) -> None:
    owner, ana = node
    bob = owner.new_client("Bob")
    theirs = bob.send(np.arange(5.0), searchable=True)
    ptr = ana.store[theirs.id]
    with pytest.raises(unseen.CannotRequestPrivateData, match="no DP metadata"):
        ptr.sum().get(epsilon=1.0)


def test_the_plain_get_is_still_refused(node) -> None:
    _, ana = node
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"epsilon"):
        assets(ana)["x"].get()


def test_replaying_the_ledger_reproduces_every_balance_and_survives_restart(node) -> None:
    owner, ana = node
    y = assets(ana)["y"]
    for i in range(30):
        y.mean().get(epsilon=0.05 * (1 + i % 3), delta=1e-8 if i % 4 == 0 else None)
    entries = _entries(owner, ana)
    replayed = dp.replay(entries, service(owner.node).delta)
    assert [(e.charge, e.spent) for e in entries] == replayed
    # a restarted node rebuilds its odometers from the ledger alone
    fresh = dp.Accountant(owner.node.stores.ledger, service(owner.node).delta)
    assert fresh.spent(ana.user_id) == entries[-1].spent == _spent(owner, ana)
    assert ana.budget == pytest.approx(1000.0 - entries[-1].spent)
    user = owner.node.stores.users.get(ana.user_id)
    assert user.spent == pytest.approx(entries[-1].spent)  # the users table mirrors it


def test_concurrent_releases_never_overspend() -> None:
    odometer = dp.Odometer()
    for _ in range(10):
        odometer = odometer.plus(0.1, 0.0, [("laplace", 0.1)])
    budget = odometer.spent(1e-6)  # what exactly ten sums at epsilon 0.1 cost
    assert odometer.plus(0.1, 0.0, [("laplace", 0.1)]).spent(1e-6) > budget * (1 + 1e-6)
    owner, ana = make_node(budget=budget)
    y = assets(ana)["y"]
    pointers = [y.sum() for _ in range(20)]
    wins, losses = [], []
    barrier = threading.Barrier(20)

    def release(ptr) -> None:
        barrier.wait()
        try:
            wins.append(ptr.get(epsilon=0.1))
        except unseen.BudgetExhausted:
            losses.append(1)

    threads = [threading.Thread(target=release, args=(p,)) for p in pointers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 10 and len(losses) == 10
    assert len(_entries(owner, ana)) == 10
    assert _spent(owner, ana) == pytest.approx(budget)


def test_many_small_gaussian_releases_cost_far_less_than_their_sum() -> None:
    owner, ana = make_node(budget=10.0)
    y = assets(ana)["y"]
    for _ in range(200):
        y.mean().get(epsilon=0.05, delta=1e-9)
    spent = _spent(owner, ana)
    assert spent < 0.3 * 200 * 0.05
    assert math.isclose(ana.budget, 10.0 - spent)


def test_owner_views_and_history(node) -> None:
    owner, ana = node
    d = assets(ana)
    d["y"].mean().get(epsilon=0.5)
    d["df"]["age"].mean().get(epsilon=0.25)
    history = ana.releases
    assert len(history) == 2 and isinstance(history[0], DPRelease)  # a typed row
    assert [r.epsilon for r in history] == [0.5, 0.25]
    ledger = owner.node.stores.ledger.entries(ana.user_id)  # the oracle: the node's ledger
    assert [(r.seq, r.charged, r.spent, r.query) for r in history] == [
        (e.seq, e.charge, e.spent, e.query) for e in ledger
    ]
    assert [r.datasets for r in history] == [["D"], ["D"]]
    assert list(history.pandas.columns)[:2] == ["#", "Query"]
    assert "Spent after" in repr(history)
    budgets = owner.budgets.pandas
    row = budgets[budgets["Name"] == "Ana"].iloc[0]
    assert row["Spent"] == pytest.approx(0.75) and row["Remaining"] == pytest.approx(999.25)
    spend = owner.dp_spend.pandas
    assert spend["Charged"].sum() == pytest.approx(0.75) and set(spend["Dataset"]) == {"D"}
    with pytest.raises(unseen.PermissionDenied):
        _ = ana.budgets


def test_delta_is_fixed_after_the_first_release(node) -> None:
    owner, ana = node
    assert owner.dp_settings()["delta"] == 1e-6
    assert owner.dp_settings(delta=1e-7)["delta"] == 1e-7
    with pytest.raises(unseen.UsageError, match="above this node's delta"):
        assets(ana)["y"].mean().get(epsilon=1.0, delta=1e-6)
    assets(ana)["y"].mean().get(epsilon=1.0)
    with pytest.raises(unseen.UsageError, match="fixed"):
        owner.dp_settings(delta=1e-5)
