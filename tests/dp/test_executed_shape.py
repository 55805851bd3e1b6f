"""The analysis is checked on what ran: the value a statistic reads must have the claimed
shape, on the mock before any charge and on the private data before any release. Each guard
is shown catching a planted violation (the pre-fix broadcasting hole re-opened)."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pytest
from tests.dp.conftest import assets, release_of

import unseen
from unseen import dp
from unseen.node._dp import service


def test_check_executed_accepts_the_claim_and_refuses_anything_else(node: Any) -> None:
    owner, ana = node
    x, pub = assets(ana)["x"], assets(ana)["pub"]
    one_d = release_of(owner, ana, (x[:, 0] + x[:, 1]).mean()).query
    dp.check_executed(one_d, np.zeros(1000), 1000)
    two_d = release_of(owner, ana, (x[:, 0:1] + x[:, 1:2]).mean()).query
    dp.check_executed(two_d, np.zeros((1000, 1)), 1000)
    filtered = release_of(owner, ana, x[x[:, 0] > 5][:, 1].sum()).query
    dp.check_executed(filtered, np.zeros(37), 1000)
    public = release_of(owner, ana, pub[5:, 1].sum()).query
    dp.check_executed(public, np.zeros(995), 1000)
    planted = [
        (two_d, np.zeros((1000, 1000))),  # the broadcast (n, 1) + (n,)
        (one_d, np.zeros((1000, 1))),  # 2-D where 1-D was claimed
        (one_d, np.zeros(1001)),  # more rows than the source
        (one_d, np.zeros(999)),  # fewer rows, unfiltered
        (filtered, np.zeros(1001)),  # a filter cannot add rows
        (public, np.zeros(996)),  # not the public row count
        (one_d, np.float64(1.0)),  # not a table at all
    ]
    for query, value in planted:
        with pytest.raises(dp.ShapeMismatch) as caught:
            dp.check_executed(query, value, 1000)
        assert not re.search(r"\d", str(caught.value))  # no shape, no count in the message


def _reopen_the_hole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant the pre-fix bug: the analysis no longer compares operand shapes."""
    monkeypatch.setattr("unseen.dp._rows.same_shape", lambda a, b, what: None)


def test_mock_check_refuses_before_any_charge(node: Any, monkeypatch) -> None:
    owner, ana = node
    _reopen_the_hole(monkeypatch)
    x = assets(ana)["x"]  # mock: 4 x 2, so the broadcast shows on it as 4 x 4
    with pytest.raises(unseen.CannotRequestPrivateData, match="on the mock.*Nothing was charged"):
        (x[:, 0:1] * 0 + x[:, 1]).mean().get(epsilon=1.0)
    assert service(owner.node).accountant.spent(ana.user_id) == 0.0


def test_private_check_refuses_after_the_run(monkeypatch, caplog) -> None:
    """A one-row mock cannot show the broadcast; the check on the private value does. The
    charge stands (whether it failed may be private), the answer is not released, and the
    error says nothing about the shape."""
    owner = unseen.VirtualWorker(name="one-row-mock")
    data = np.random.default_rng(3).uniform(0, 10, size=(50, 2))
    ds = unseen.Dataset("M")
    ds.add_asset("x", data, mock=np.zeros((1, 2)), bounds=(0, 10))
    owner.upload_dataset(ds)
    ana = owner.new_client("Ana")
    owner.users.update(ana.user_id, budget=10.0)
    x = ana.datasets["M"]["x"]
    _reopen_the_hole(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="unseen.node"):
        with pytest.raises(unseen.RemoteError, match="charge of 1 stands") as caught:
            (x[:, 0:1] * 0 + x[:, 1]).mean().get(epsilon=1.0)
    assert "shape the DP analysis claimed" in caplog.text
    assert "50" not in str(caught.value) and "shape" not in str(caught.value)
    assert service(owner.node).accountant.spent(ana.user_id) == pytest.approx(1.0)
    monkeypatch.undo()  # with the analysis intact, the same graph is refused before any charge
    with pytest.raises(unseen.CannotRequestPrivateData, match="different shapes"):
        (x[:, 0:1] * 0 + x[:, 1]).mean().get(epsilon=1.0)
