"""DP-releasable expressions are row-local by construction: anything whose shape could
broadcast rows against rows (a one-column 2-D slice with a 1-D column, keepdims, ``where``
with mixed pieces) is refused before any charge, and never answered."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.dp.conftest import assets, release_of

import unseen
from unseen.node._dp import service


def _refused(owner: Any, ana: Any, pointer: Any) -> None:
    """Not DP-releasable: refused with a hint to make a request, and nothing charged."""
    before = service(owner.node).accountant.spent(ana.user_id)
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"request\("):
        release_of(owner, ana, pointer)
    with pytest.raises(unseen.CannotRequestPrivateData, match="Nothing was charged"):
        pointer.get(epsilon=0.1)
    assert service(owner.node).accountant.spent(ana.user_id) == before


def _broadcasts(owner: Any, ana: Any) -> list[Any]:
    d = assets(ana)
    x, pub, df = d["x"], d["pub"], d["df"]
    npx = unseen.np
    # every one of these is (n, n) when run: each column of the result holds one row's value
    return [
        (x[:, 0:1] + x[:, 1]).mean(),
        (x[:, 0:1] * 0 + x[:, 1])[:, 0].mean(),
        (x[:, 1] + x[:, 0:1]).sum(),
        npx.add(x[:, 0:1], x[:, 1]).mean(),
        npx.maximum(x[:, 1], x[:, [0]]).sum(axis=0),
        npx.histogram((x[:, 0:1] * 0 + x[:, 1])[:, 0], bins=10, range=(0, 10)),
        (pub[5:, 0:1] * 0 + pub[5:, 1])[:, 0].mean(),  # row 5 targeted
        npx.where(x[:, 0:1] > 5, x[:, 1], 0.0).mean(),
        npx.where(x[:, 0] > 5, x[:, 0:1], x[:, 1]).mean(),
        ((x[:, 0:1] > 5) & (x[:, 1] > 5)).sum(),
        (df[["age"]] + df["bmi"]).mean(),
    ]


@pytest.mark.parametrize("index", range(11))
def test_broadcasting_rows_against_rows_is_refused(node: Any, index: int) -> None:
    owner, ana = node
    _refused(owner, ana, _broadcasts(owner, ana)[index])


def test_the_exploit_no_longer_reads_a_row(node: Any) -> None:
    """The attack of issue 12: the mean of one column of ``x[:, 0:1] * 0 + x[:, 1]`` is the
    value of row 0, to full precision, at noise sized for one row of a 1000-row mean."""
    owner, ana = node
    x = assets(ana)["x"]
    with pytest.raises(unseen.CannotRequestPrivateData):
        (x[:, 0:1] * 0 + x[:, 1])[:, 0].mean().get(epsilon=1.0)


def test_row_local_forms_stay_releasable(node: Any) -> None:
    """The fix refuses shapes, not arithmetic: same-shape combinations still answer."""
    owner, ana = node
    d = assets(ana)
    x, pub = d["x"], d["pub"]
    npx = unseen.np
    data = owner.node.stores.objects.value(x.id)
    for pointer, truth in [
        ((x[:, 0] + x[:, 1]).mean(), (data[:, 0] + data[:, 1]).mean()),
        ((x[:, 0:1] + x[:, 1:2]).mean(), (data[:, 0] + data[:, 1]).mean()),
        (npx.add(x[:, 0], x[:, 1]).mean(), (data[:, 0] + data[:, 1]).mean()),
        (
            npx.where(x[:, 0] > 5, x[:, 1], 0.0).mean(),
            np.where(data[:, 0] > 5, data[:, 1], 0).mean(),
        ),
        (x.sum(axis=1).mean(), data.sum(axis=1).mean()),
        ((pub[5:, 0] + pub[5:, 1]).mean(), (data[5:, 0] + data[5:, 1]).mean()),
    ]:
        assert abs(pointer.get(epsilon=20.0) - truth) < 0.5


def _not_row_local(owner: Any, ana: Any) -> list[Any]:
    d = assets(ana)
    x, df = d["x"], d["df"]
    return [
        # (n, 1) row sums with an (n,) column: (n, n)
        (x.sum(axis=1, keepdims=True) + x[:, 0]).mean(),
        # membership in another private column reads every row of it
        df["age"].isin(df["bmi"]).sum(),
        # a boolean DataFrame masks cells, it selects no rows
        df[df[["age"]] > 50]["bmi"].mean(),
    ]


@pytest.mark.parametrize("index", range(3))
def test_values_that_mix_rows_are_refused(node: Any, index: int) -> None:
    owner, ana = node
    _refused(owner, ana, _not_row_local(owner, ana)[index])


def test_a_column_index_out_of_range_is_refused_not_an_internal_error(node: Any) -> None:
    owner, ana = node
    _refused(owner, ana, assets(ana)["x"][:, 5].mean())
