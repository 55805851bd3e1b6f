"""DP outputs of code requests: ``@unseen.function(..., dp_epsilon=...)`` is charged to the
scientist's ledger (the odometer of DP queries) once, before the job runs, and refused with
BudgetExhausted when the budget cannot cover it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.dp.conftest import assets, make_node

import unseen


def dp_mean(data: unseen.Pointer, epsilon: float = 1.0) -> unseen.CodeFunction:
    @unseen.function(data=data, dp_epsilon=epsilon)
    def noisy_mean(data):  # type: ignore[no-untyped-def]
        import numpy as np
        import opendp.prelude as dp

        dp.enable_features("contrib")
        clipped = np.clip(data[:, 0], 0.0, 10.0)
        # the mean of 1000 rows in [0, 10] moves by at most 10/1000 with one row changed
        laplace = dp.m.make_laplace(
            dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), 10.0 / 1000
        )  # scale = sensitivity / epsilon, for epsilon 1 (laplace.map(0.01) == 1.0)
        return laplace(float(clipped.mean()))

    return noisy_mean


def accepted(owner: Any, ana: Any, fn: unseen.CodeFunction) -> None:
    request = ana.code.request(fn, reason="a DP mean")
    review = [r for r in owner.requests if r.id == request.id][0]
    assert "a DP value at epsilon" in str(review.code) and "NOTE" not in str(review.code)
    review.accept()


def test_a_dp_output_is_charged_once_beside_query_charges() -> None:
    owner, ana = make_node(budget=10.0)
    x = assets(ana)["x"]
    ana_x = owner.node.stores.objects.value(x.id)
    x.mean().get(epsilon=0.5)  # a DP query first
    fn = dp_mean(x)
    accepted(owner, ana, fn)
    job = ana.code.run(fn).wait(60)
    assert job.status == "done"
    value = job.result.get()
    assert abs(value - ana_x[:, 0].mean()) < 1.0  # noise of scale 0.01
    assert job.result.get() == value  # a DP value: post-processing reads it again, free
    releases = owner.node.stores.ledger.entries(ana.user_id)
    assert [e.mechanism for e in releases][0] != "code-dp"
    assert [e.mechanism for e in releases][1:] == ["code-dp"]
    entry = releases[1]
    assert entry.epsilon == 1.0 and entry.datasets == ("D",) and fn.hash[:12] in entry.query
    assert entry.charge == pytest.approx(1.0)
    with pytest.raises(unseen.PermissionDenied, match="an approval runs once"):
        ana.code.run(fn)
    assert len(owner.node.stores.ledger.entries(ana.user_id)) == 2  # charged once
    assert ana.budget == pytest.approx(10.0 - 0.5 - 1.0)  # remaining, as for queries


def test_out_of_budget_is_refused_before_the_job_runs() -> None:
    owner, ana = make_node(budget=0.8)
    fn = dp_mean(assets(ana)["x"], epsilon=1.0)
    accepted(owner, ana, fn)
    with pytest.raises(unseen.BudgetExhausted, match="nothing was charged"):
        ana.code.run(fn)
    assert owner.node.stores.ledger.entries(ana.user_id) == []
    assert owner.code.jobs == []  # nothing ran
    owner.users.update(ana.user_id, budget=2.0)
    assert ana.code.run(fn).wait(60).status == "done"  # the approval was not used


def test_the_epsilon_is_part_of_the_hash() -> None:
    owner, ana = make_node()
    x = assets(ana)["x"]
    one, two = dp_mean(x, 1.0), dp_mean(x, 2.0)
    assert one.hash != two.hash and one.source == two.source
    accepted(owner, ana, one)
    with pytest.raises(unseen.PermissionDenied, match="no accepted code request"):
        ana.code.run(two)  # the approval of epsilon 1 does not cover 2


def test_on_own_data_nothing_is_charged() -> None:
    owner, ana = make_node(budget=0.0)
    own = ana.send(np.arange(10.0))

    @unseen.function(data=own, dp_epsilon=1.0)
    def total(data):  # type: ignore[no-untyped-def]
        return data.sum()

    assert ana.code.request(total).status == "accepted"
    assert ana.code.run(total).wait(60).result.get() == 45.0
    assert owner.node.stores.ledger.entries(ana.user_id) == []


def test_bad_epsilons_and_outputs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    owner, ana = make_node()
    x = assets(ana)["x"]
    for bad in (0, -1.0, float("inf"), "1", True):
        with pytest.raises(unseen.UsageError, match="dp_epsilon"):
            dp_mean(x, bad)  # type: ignore[arg-type]
    fn = dp_mean(x)
    monkeypatch.setattr(fn, "output", "dp:lots")
    with pytest.raises(unseen.UsageError, match="'dp:<epsilon>'"):
        ana.code.request(fn)
    monkeypatch.setattr(fn, "output", "dp:1e9")
    with pytest.raises(unseen.UsageError, match="epsilon must be between"):
        ana.code.request(fn)


def test_the_review_notes_a_dp_output_without_opendp() -> None:
    owner, ana = make_node()

    @unseen.function(data=assets(ana)["x"], dp_epsilon=1.0)
    def raw_mean(data):  # type: ignore[no-untyped-def]
        return data.mean()  # no noise: the owner must deny it

    ana.code.request(raw_mean)
    review = str(owner.requests[0].code)
    assert "never mentions opendp" in review
