"""The typed ``dp.*`` kinds over an in-process node: each request type in, each reply type out,
checked against the node's own ledger, users and settings; ill-typed fields are refused by name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.dp.conftest import assets

import unseen
from unseen import ops
from unseen.client._graph import ancestry
from unseen.messages.dp import (
    DP_BUDGET,
    DP_GET,
    DP_HISTORY,
    DP_SETTINGS,
    DP_SPEND,
    DPAnswer,
    DPBalance,
    DPBudgetRequest,
    DPGetRequest,
    DPHistoryRequest,
    DPRelease,
    DPSettings,
    DPSettingsRequest,
    DPSpend,
    DPSpendRequest,
    DPSpendRow,
)


def test_dp_get_of_ones_own_value_is_exact_and_free(node: Any) -> None:
    _, ana = node
    data = np.arange(12.0).reshape(4, 3)
    mine = ana.send(data)
    action = ops.Action("typedmean01", "method", "mean", (ops.Ref(mine.id),), {"axis": 0})
    answer = ana.ask(DP_GET, DPGetRequest(actions=[action], target="typedmean01", epsilon=1.0))
    assert isinstance(answer, DPAnswer) and answer.exact
    np.testing.assert_array_equal(answer.value, data.mean(axis=0))  # the oracle: numpy
    assert (answer.charged, answer.epsilon, answer.mechanism, answer.spent) == (
        0.0,
        0.0,
        None,
        None,
    )


def test_dp_get_charges_and_the_views_agree_with_the_ledger(node: Any) -> None:
    owner, ana = node
    y = assets(ana)["y"].mean()
    _, order = ancestry(y._vertex)
    request = DPGetRequest(
        actions=[v.action for v in order if v.action is not None], target=y.id, epsilon=0.5
    )
    answer = ana.ask(DP_GET, request)
    assert not answer.exact and answer.mechanism == "laplace" and 0.0 <= answer.value <= 10.0
    [entry] = owner.node.stores.ledger.entries(ana.user_id)  # the oracle: the node's ledger
    assert (answer.charged, answer.spent, answer.epsilon) == (entry.charge, entry.spent, 0.5)
    assert answer.query == entry.query

    balance = ana.ask(DP_BUDGET, DPBudgetRequest())
    user = owner.node.stores.users.get(ana.user_id)
    assert isinstance(balance, DPBalance)
    assert (balance.user_id, balance.email, balance.budget) == (user.id, user.email, user.budget)
    assert balance.releases == 1 and balance.spent == pytest.approx(entry.spent)
    assert balance.remaining == pytest.approx(user.budget - entry.spent) == ana.budget

    [release] = ana.ask(DP_HISTORY, DPHistoryRequest())
    assert isinstance(release, DPRelease)
    assert (release.seq, release.at, release.charged, release.datasets) == (
        entry.seq,
        entry.created_at,
        entry.charge,
        list(entry.datasets),
    )

    spend = owner.ask(DP_SPEND, DPSpendRequest())
    assert isinstance(spend, DPSpend) and [u.user_id for u in spend.users] == [ana.user_id]
    assert spend.datasets == [
        DPSpendRow(
            user_id=ana.user_id,
            email=user.email,
            dataset="D",
            releases=1,
            epsilon_sum=0.5,
            charged=entry.charge,
        )
    ]
    assert owner.dp_spend[0] == spend.datasets[0] and ana.releases[0] == release
    with pytest.raises(unseen.PermissionDenied):
        ana.ask(DP_SPEND, DPSpendRequest())


def test_dp_settings_reads_and_sets_the_stored_delta(node: Any) -> None:
    owner, ana = node
    assert owner.ask(DP_SETTINGS, DPSettingsRequest()) == DPSettings(delta=1e-6)
    assert owner.ask(DP_SETTINGS, DPSettingsRequest(delta=1e-7)) == DPSettings(delta=1e-7)
    assert owner.node.stores.settings.get("dp.delta") == 1e-7  # the oracle: the store
    assert owner.dp_settings() == {"delta": 1e-7}  # the documented map
    with pytest.raises(unseen.PermissionDenied):
        ana.ask(DP_SETTINGS, DPSettingsRequest())


@pytest.mark.parametrize(
    "kind, body, field",
    [
        ("dp.get", {"target": 5, "epsilon": 1.0}, "target"),
        ("dp.get", {"target": "t", "epsilon": "much"}, "epsilon"),
        ("dp.get", {"target": "t", "epsilon": 1.0, "drop": "x"}, "drop"),
        ("dp.settings", {"delta": "tiny"}, "delta"),
    ],
)
def test_an_ill_typed_field_is_refused_by_name(
    node: Any, kind: str, body: dict[str, Any], field: str
) -> None:
    owner, _ = node
    with pytest.raises(unseen.UsageError, match=f"the field '{field}' must be"):
        owner.call(kind, body)
    assert owner.node.stores.ledger.list() == []  # nothing charged


def test_a_dp_get_without_target_or_epsilon_says_what_is_missing(node: Any) -> None:
    _, ana = node
    with pytest.raises(unseen.UsageError, match="needs the field 'target'"):
        ana.call("dp.get", {"epsilon": 1.0})
    y = assets(ana)["y"]
    with pytest.raises(unseen.UsageError, match="needs epsilon"):
        ana.ask(DP_GET, DPGetRequest(target=y.id))
