"""Absurd privacy parameters (subnormal, huge) get a clear UsageError naming the parameter
and its allowed range, before anything is analysed or charged, never an internal error."""

from __future__ import annotations

from typing import Any

import pytest
from tests.dp.conftest import assets

import unseen
from unseen import dp
from unseen.node._dp import service


@pytest.mark.parametrize("bad", [1e-320, 5e-324, 1e-30, 1e-7, 1e7, 1e308])
def test_absurd_epsilon_is_a_usage_error(node: Any, bad: float) -> None:
    owner, ana = node
    with pytest.raises(unseen.UsageError, match=r"epsilon .*between"):
        assets(ana)["y"].mean().get(epsilon=bad)
    assert service(owner.node).accountant.spent(ana.user_id) == 0.0


@pytest.mark.parametrize("bad", [1e-320, 5e-324, 1e-200])
def test_absurd_delta_is_a_usage_error(node: Any, bad: float) -> None:
    owner, ana = node
    with pytest.raises(unseen.UsageError, match=r"delta .*between"):
        assets(ana)["y"].mean().get(epsilon=1.0, delta=bad)
    with pytest.raises(unseen.UsageError, match=r"epsilon .*between"):
        assets(ana)["y"].mean().get(epsilon=1e-320, delta=1e-7)
    assert service(owner.node).accountant.spent(ana.user_id) == 0.0


def test_range_ends_are_accepted(node: Any) -> None:
    owner, ana = node
    y = assets(ana)["y"]
    assert 0.0 <= y.mean().get(epsilon=dp.MIN_EPSILON) <= 10.0
    assert 0.0 <= y.mean().get(epsilon=1.0, delta=dp.MIN_DELTA) <= 10.0
    owner.users.update(ana.user_id, budget=2 * dp.MAX_EPSILON)
    assert 0.0 <= y.mean().get(epsilon=dp.MAX_EPSILON) <= 10.0


@pytest.mark.parametrize("bad", [1e-320, 5e-324, 1e-200])
def test_absurd_node_delta_is_a_usage_error(node: Any, bad: float) -> None:
    owner, _ = node
    with pytest.raises(unseen.UsageError, match=r"delta must be between"):
        owner.dp_settings(delta=bad)
    assert owner.dp_settings()["delta"] == 1e-6
