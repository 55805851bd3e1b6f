"""Answers come back in the form of the call they answer, close to the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.dp.conftest import assets

import unseen


def test_numpy_answers(node) -> None:
    owner, ana = node
    d = assets(ana)
    x = owner.node.stores.objects.value(d["x"].id)
    means = d["x"].mean(axis=0).get(epsilon=5.0)
    assert isinstance(means, np.ndarray) and means.shape == (2,)
    assert np.allclose(means, x.mean(axis=0), atol=0.2)
    assert isinstance(d["x"].mean().get(epsilon=5.0), np.float64)
    count = (d["y"] > 5).sum().get(epsilon=5.0)
    assert isinstance(count, np.integer) and abs(count - (x[:, 0] > 5).sum()) < 10
    counts, edges = unseen.np.histogram(d["y"], bins=4, range=(0, 10)).get(epsilon=5.0)
    assert counts.shape == (4,) and list(edges) == [0, 2.5, 5, 7.5, 10]
    q = unseen.np.quantile(d["y"], 0.5).get(epsilon=5.0)
    assert abs(q - np.median(x[:, 0])) < 0.5


def test_pandas_answers(node) -> None:
    owner, ana = node
    df = assets(ana)["df"]
    data = owner.node.stores.objects.value(df.id)
    means = df.mean().get(epsilon=5.0)
    assert isinstance(means, pd.Series) and list(means.index) == ["age", "bmi", "sex"]
    groups = df.groupby("sex")["bmi"].mean().get(epsilon=5.0)
    assert list(groups.index) == [1, 2]
    assert np.allclose(groups.values, data.groupby("sex")["bmi"].mean().values, atol=2.0)
    frame = df.groupby("sex").mean().get(epsilon=5.0)
    assert list(frame.columns) == ["age", "bmi"]
    counts = df["sex"].value_counts().get(epsilon=5.0)
    assert counts.sum() == pytest.approx(len(data), abs=20)
    older = df[df["age"] > 50]["bmi"].mean().get(epsilon=5.0)
    assert abs(older - data[data.age > 50].bmi.mean()) < 2.0


def test_torch_answers() -> None:
    torch = pytest.importorskip("torch")
    owner = unseen.VirtualWorker(name="t")
    data = torch.rand(200, 3, dtype=torch.float32)
    ds = unseen.Dataset("T")
    ds.add_asset("t", data, mock=torch.zeros(2, 3), bounds=(0, 1), public_rows=200)
    owner.upload_dataset(ds)
    ana = owner.new_client("Ana")
    owner.users.update(ana.user_id, budget=100.0)
    t = ana.datasets["T"]["t"]
    means = t.mean(dim=0).get(epsilon=5.0)
    assert isinstance(means, torch.Tensor) and means.dtype == torch.float32
    assert torch.allclose(means, data.mean(dim=0), atol=0.05)
    table = t.get(epsilon=1.0)
    assert isinstance(table, torch.Tensor) and table.shape == (200, 3)


def test_nulls_and_privacy_ids() -> None:
    owner = unseen.VirtualWorker(name="n")
    values = np.array([1.0, np.nan, 3.0, np.nan, 5.0] * 40)
    frame = pd.DataFrame({"pid": np.repeat(np.arange(50), 4), "v": values})
    ds = unseen.Dataset("N")
    ds.add_asset("v", frame, mock=frame.head(2), bounds=[(0, 50), (0, 10)], nullable=[False, True],
                 privacy_id="pid", max_rows_per_id=2)  # fmt: skip
    owner.upload_dataset(ds)
    ana = owner.new_client("Ana")
    owner.users.update(ana.user_id, budget=100.0)
    v = ana.datasets["N"]["v"]["v"]
    kept = (
        frame.groupby("pid").head(2)["v"].dropna()
    )  # the oracle: first 2 rows per id, non-missing
    assert len(kept) == 60 and kept.mean() == 3.0
    assert abs(v.count().get(epsilon=5.0) - len(kept)) < 10
    # the noise on the mean has a standard deviation of about 0.12 here: 0.6 is five of them
    assert abs(v.mean().get(epsilon=5.0) - kept.mean()) < 0.6


def test_upload_checks_the_declarations() -> None:
    owner = unseen.VirtualWorker(name="u")
    for kwargs, message in (
        ({"bounds": [(0, 1)] * 3}, "bounds"),
        ({"public_rows": 7}, "public_rows"),
        ({"max_rows_per_id": 2}, "privacy_id"),
        ({"nullable": [True, False, True]}, "nullable"),
        ({"categories": {"nope": [1]}}, "no column"),
    ):
        ds = unseen.Dataset("bad")
        ds.add_asset("a", np.zeros((5, 2)), mock=np.zeros((2, 2)), **kwargs)
        with pytest.raises(unseen.UsageError, match=message):
            owner.upload_dataset(ds)


def test_the_seed_walkthrough_on_diabetes() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_diabetes().data[:73]
    owner = unseen.VirtualWorker(name="alice")
    ds = unseen.Dataset("Diabetes", description="Diabetes dataset", tags=["#diabetes"])
    ds.add_asset("data", data, mock=np.zeros((5, 10)), bounds=(-0.2, 0.2), public_rows=73)
    owner.upload_dataset(ds)
    ana = owner.new_client("Ana")
    owner.users.update(ana.user_id, budget=10.0)
    dataset = ana.search("#diabetes", verbose=False)[0]
    with pytest.raises(unseen.CannotRequestPrivateData):
        dataset.get()
    noised = dataset.get(epsilon=0.1)
    assert noised.shape == (73, 10)
    assert 9.9 - 1e-9 <= ana.budget < 10.0  # at most 0.1 charged (RDP may charge less)
    mean = dataset.mean(axis=0).get(epsilon=0.5)
    assert np.abs(mean - data.mean(axis=0)).max() < 0.5


def test_counts_and_sums_of_non_negative_values_are_never_negative(node) -> None:
    # issue 19: a DP count came back as -2; clamping is post-processing, free under DP
    owner, ana = node
    d = assets(ana)
    x = owner.node.stores.objects.value(d["y"].id)
    assert (x > 1e9).sum() == 0
    answers = [(d["y"] > 1e9).sum().get(epsilon=0.05) for _ in range(30)]
    assert all(isinstance(a, np.integer) and a >= 0 for a in answers), answers
    sums = [(unseen.np.clip(d["y"], 0, 10) * 0).sum().get(epsilon=0.01) for _ in range(20)]
    assert all(s >= 0 for s in sums), sums
