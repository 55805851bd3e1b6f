"""Each trackable operation's sensitivity against a hand-derived value."""

from __future__ import annotations

import numpy as np
import pytest
from tests.dp.conftest import assets, release_of, value_l1

import unseen


def test_sum_add_remove_is_max_abs_bound(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, assets(ana)["y"].sum())
    assert value_l1(r, "sum") == pytest.approx(10.0)  # max(|0|, |10|)
    assert r.plan.components == [("laplace", 1.0)]


def test_sum_with_public_rows_is_the_width(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, (assets(ana)["pub"] - 5.0).sum(axis=0))
    # bounds [-5, 5]: replace one row changes the sum by at most U - L = 10 (add/remove: 5)
    assert value_l1(r, "sum", 0) == pytest.approx(10.0)
    assert value_l1(r, "sum", 1) == pytest.approx(10.0)
    assert [c for c in r.plan.components] == [("laplace", 0.5), ("laplace", 0.5)]
    r = release_of(owner, ana, (assets(ana)["y"] - 5.0).sum())
    assert value_l1(r, "sum") == pytest.approx(5.0)


def test_mean_public_n_puts_all_epsilon_on_the_sum(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, assets(ana)["pub"][:, 0].mean(), epsilon=0.5)
    assert [p.stat for p in r.plan.parts] == ["sum"]
    assert value_l1(r, "sum") == pytest.approx(10.0)
    assert r.plan.parts[0].share == 0.5


def test_mean_private_n_splits_count_and_centered_sum(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, assets(ana)["y"].mean())
    assert sorted(p.stat for p in r.plan.parts) == ["count", "csum"]
    assert value_l1(r, "count", -1) == 1.0
    assert value_l1(r, "csum") == pytest.approx(5.0)  # (U - L) / 2
    assert all(p.share == 0.5 for p in r.plan.parts)


def test_variance_parts(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, assets(ana)["y"].var())
    assert value_l1(r, "count", -1) == 1.0
    assert value_l1(r, "csum") == pytest.approx(5.0, rel=1e-3)
    assert value_l1(r, "csq") == pytest.approx(25.0, rel=1e-3)
    assert r.query.ddof == 0
    r = release_of(owner, ana, assets(ana)["df"]["age"].std())
    assert r.query.ddof == 1 and r.query.kind == "std"


def test_clip_and_arithmetic_bounds(node) -> None:
    owner, ana = node
    y = assets(ana)["y"]
    assert value_l1(release_of(owner, ana, y.clip(2, 4).sum()), "sum") == pytest.approx(4.0)
    assert value_l1(release_of(owner, ana, (y * 2 + 1).sum()), "sum") == pytest.approx(21.0)
    assert value_l1(release_of(owner, ana, abs(y - 8).sum()), "sum") == pytest.approx(8.0)
    assert value_l1(release_of(owner, ana, (10 - y).sum()), "sum") == pytest.approx(10.0)
    assert value_l1(release_of(owner, ana, unseen.np.sqrt(y).sum()), "sum") == pytest.approx(
        np.sqrt(10.0)
    )
    assert value_l1(release_of(owner, ana, (y / 4).sum()), "sum") == pytest.approx(2.5)


def test_filters_counts_and_histograms(node) -> None:
    owner, ana = node
    d = assets(ana)
    y, pub = d["y"], d["pub"][:, 0]
    r = release_of(owner, ana, (y > 5).sum())
    assert value_l1(r, "sum") == pytest.approx(1.0)
    r = release_of(owner, ana, y[y > 5].mean())
    assert value_l1(r, "count", -1) == 1.0 and value_l1(r, "csum") == pytest.approx(5.0)
    # replace-one on a public row count, then a filter: a row may swap in or out
    r = release_of(owner, ana, pub[pub > 5].sum())
    assert value_l1(r, "sum") == pytest.approx(10.0)  # max(U - L, max|.|)
    r = release_of(owner, ana, unseen.np.histogram(y, bins=5, range=(0, 10)))
    assert r.plan.parts[0].l1 == 1.0
    r = release_of(owner, ana, unseen.np.histogram(pub, bins=[0, 5, 10]))
    assert r.plan.parts[0].l1 == 2.0  # a replaced row leaves one bin and enters another


def test_counts_and_a_constant_sum(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, assets(ana)["df"].count())
    assert [p.l1 for p in r.plan.parts] == [1.0, 1.0, 1.0]
    pub = assets(ana)["pub"]
    r = release_of(owner, ana, (pub[:, 0] * 0 + 1).sum())
    assert value_l1(r, "sum") == pytest.approx(0.0)  # public rows, bounds [1, 1]: width 0
    assert r.plan.mechanism == "none" and r.cost.components == ()


def test_group_by_and_value_counts(node) -> None:
    owner, ana = node
    df = assets(ana)["df"]
    r = release_of(owner, ana, df.groupby("sex")["bmi"].mean())
    assert value_l1(r, "count", 0) == 1.0
    assert value_l1(r, "csum", 0) == pytest.approx(12.5)  # (40 - 15) / 2
    r = release_of(owner, ana, df.groupby("sex").size())
    assert r.plan.parts[0].l1 == 1.0
    r = release_of(owner, ana, df["sex"].value_counts())
    assert r.plan.parts[0].l1 == 1.0 and r.query.keys == (1, 2)


def test_privacy_id_multiplies_by_rows_per_id(node) -> None:
    owner, ana = node
    ids = assets(ana)["ids"]
    r = release_of(owner, ana, ids[:, 1].sum())
    assert value_l1(r, "sum") == pytest.approx(30.0)  # 3 rows per person, each up to 10
    r = release_of(owner, ana, (ids[:, 1] > 2).sum())
    assert value_l1(r, "sum") == pytest.approx(3.0)


def test_row_slice_and_whole_table(node) -> None:
    owner, ana = node
    pub = assets(ana)["pub"]
    r = release_of(owner, ana, pub[:100, 1].sum())
    assert value_l1(r, "sum") == pytest.approx(10.0) and r.query.table.rows == 100
    r = release_of(owner, ana, pub)
    assert [p.stat for p in r.plan.parts] == ["cells", "cells"]
    assert value_l1(r, "cells", 0) == pytest.approx(10.0)


def test_gaussian_splits_rho() -> None:
    from unseen import dp

    rho = dp.rho_of(1.0, 1e-6)
    assert rho + 2 * np.sqrt(rho * np.log(1e6)) == pytest.approx(1.0)


def test_gaussian_release_plan(node) -> None:
    from unseen import dp

    owner, ana = node
    r = release_of(owner, ana, assets(ana)["y"].mean(), epsilon=1.0, delta=1e-7)
    assert r.plan.mechanism == "gaussian"
    assert sum(v for _, v in r.plan.components) == pytest.approx(dp.rho_of(1.0, 1e-7))


def test_quantile_epsilon_matches_opendp_map(node) -> None:
    owner, ana = node
    r = release_of(owner, ana, unseen.np.quantile(assets(ana)["y"], [0.25, 0.75]), epsilon=1.0)
    assert [p.q for p in r.plan.parts] == [0.25, 0.75]
    assert r.plan.components == [("pure", 0.5), ("pure", 0.5)]
    assert all(len(p.candidates) == 1024 and p.candidates[-1] == 10.0 for p in r.plan.parts)
