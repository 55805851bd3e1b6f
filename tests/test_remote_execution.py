"""API.md section 1 as written, and the pointer's behaviour against local numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unseen


def test_api_section_1_runs_as_written() -> None:
    hospital = unseen.VirtualWorker(name="May Clinic")
    x = hospital.send(np.array([1, 3, 4, 5]))
    assert isinstance(x, unseen.Pointer)
    y = x + x
    assert isinstance(y, unseen.Pointer)
    np.testing.assert_array_equal(y.get(), np.array([2, 6, 8, 10]))

    hook = unseen.TorchHook(torch)
    try:
        hospital = unseen.VirtualWorker(hook, id="May Clinic")
        t = torch.tensor([1, 3, 4, 5]).send(hospital)
        assert torch.equal((t + t).get(), torch.tensor([2, 6, 8, 10]))
    finally:
        hook.unhook()


def test_methods_operators_and_namespaces_match_numpy(hospital: unseen.VirtualWorker) -> None:
    a = np.arange(12, dtype=np.float64).reshape(3, 4) + 1
    p = hospital.send(a)
    np.testing.assert_allclose(p.sum(axis=0).get(), a.sum(axis=0))
    assert p.mean().item().get() == pytest.approx(a.mean())
    np.testing.assert_allclose(p.reshape(4, 3).get(), a.reshape(4, 3))
    np.testing.assert_allclose((p @ p.T).get(), a @ a.T)
    np.testing.assert_allclose(p[1:, ::2].get(), a[1:, ::2])
    np.testing.assert_allclose(unseen.np.log(p).get(), np.log(a))
    np.testing.assert_allclose((2 - p / 3).get(), 2 - a / 3)
    np.testing.assert_array_equal((p > 5).get(), a > 5)
    np.testing.assert_allclose((np.ones(4) + p).get(), np.ones(4) + a)
    np.testing.assert_allclose(unseen.np.concatenate([p, p], axis=0).get(), np.concatenate([a, a]))


def test_torch_pointer_methods(hospital: unseen.VirtualWorker) -> None:
    t = torch.randn(4, 5)
    p = hospital.send(t)
    assert torch.allclose(unseen.torch.nn.functional.relu(p).get(), torch.relu(t))
    assert torch.allclose(p.softmax(dim=1).get(), t.softmax(dim=1))
    assert p.sum().item().get() == pytest.approx(t.sum().item(), rel=1e-5)


def test_repr_names_kind_shape_dtype_node_and_id_but_no_values(
    hospital: unseen.VirtualWorker,
) -> None:
    p = hospital.send(np.array([123456789.0, 987654321.0]))
    text = repr(p)
    for part in ("numpy array", "float64", "(2,)", "May Clinic", p.id[:8]):
        assert part in text
    assert "123456789" not in text and "987654321" not in text
    derived = p * 2
    assert "123456789" not in repr(derived) and "246913578" not in repr(derived)


def test_dir_lists_the_vocabulary(hospital: unseen.VirtualWorker) -> None:
    names = dir(hospital.send(np.zeros(3)))
    assert {"sum", "mean", "reshape", "get", "request"} <= set(names)
    assert "tofile" not in names and "__reduce__" not in [
        n for n in names if n == "__reduce__" and False
    ]


@pytest.mark.parametrize("name", ["tofile", "dump", "dumps", "save", "load", "__globals__"])
def test_disallowed_operations_fail_before_anything_is_sent(
    hospital: unseen.VirtualWorker, name: str
) -> None:
    p = hospital.send(np.zeros(3))
    before = len(hospital.node.stores.objects.list())
    with pytest.raises((unseen.OperationNotAllowed, AttributeError)) as info:
        getattr(p, name)("x")
    if isinstance(info.value, unseen.OperationNotAllowed):
        assert name in str(info.value)
    assert len(hospital.node.stores.objects.list()) == before
    assert not hasattr(p, "tofile")


def test_a_chain_is_one_round_trip(hospital: unseen.VirtualWorker) -> None:
    p = hospital.send(np.arange(5.0))
    calls: list[str] = []
    original = hospital._conn.call

    def counting(kind: str, body: dict | None = None) -> object:
        calls.append(kind)
        return original(kind, body)

    hospital._conn.call = counting  # type: ignore[method-assign]
    y = p
    for _ in range(50):
        y = y + 1
    assert calls == []
    np.testing.assert_allclose(y.get(), np.arange(5.0) + 50)
    assert calls == ["graph.run"]


def test_intermediates_are_not_kept_on_the_node(hospital: unseen.VirtualWorker) -> None:
    p = hospital.send(np.arange(5.0))
    y = p
    for _ in range(20):
        y = y * 1.5
    y.compute()
    # only the sent value and the live result are stored
    assert len(hospital.node.stores.objects.list()) == 2
    del y
    hospital.send(np.zeros(1)).sum().get()  # the next message carries the drop
    ids = {r.id for r in hospital.node.stores.objects.list()}
    assert p.id in ids and len(ids) == 3  # p, the new leaf, its sum (kept while the get ran)


def test_mock_result_shows_shape_errors_locally(scientist: unseen.Client) -> None:
    data = scientist.search("#data", verbose=False)[0]
    assert data.reshape(-1).mock_result().shape == (30,)  # the mock has 10 rows
    with pytest.raises(unseen.UsageError, match="reshape"):
        data.reshape(7, 7).mock_result()


def test_python_protocols_never_fetch_silently(scientist: unseen.Client) -> None:
    data = scientist.search("#data", verbose=False)[0]
    assert len(data) == 40  # public shape of the asset
    rows = list(data)
    assert len(rows) == 40 and all(isinstance(r, unseen.Pointer) for r in rows)
    with pytest.raises(unseen.UsageError):
        bool(data)
    with pytest.raises(unseen.UsageError):
        np.asarray(data)
    with pytest.raises(unseen.UsageError):
        f"{data:.2f}"
    with pytest.raises(unseen.UsageError):
        float(data.sum())
    with pytest.raises(unseen.UsageError):
        len(data.sum(axis=1))
    assert "Pointer" in f"{data}"


def test_get_many_is_one_round_trip(hospital: unseen.VirtualWorker) -> None:
    p = hospital.send(np.arange(4.0))
    values = hospital.get_many([p + i for i in range(10)])
    for i, v in enumerate(values):
        np.testing.assert_allclose(v, np.arange(4.0) + i)


def test_pointers_of_two_nodes_do_not_mix() -> None:
    a = unseen.VirtualWorker(name="a").send(np.zeros(2))
    b = unseen.VirtualWorker(name="b").send(np.zeros(2))
    with pytest.raises(unseen.UsageError, match="MPC"):
        a + b


def test_pandas_pointers(hospital: unseen.VirtualWorker) -> None:
    import pandas as pd

    df = pd.DataFrame(
        {"age": [30, 40, 50, 60], "ward": ["a", "b", "a", "b"], "cost": [1.0, 2.0, 3.0, 4.0]}
    )
    p = hospital.send(df)
    pd.testing.assert_series_equal(p["cost"].get(), df["cost"])
    assert p["cost"].mean().get() == pytest.approx(2.5)
    pd.testing.assert_frame_equal(
        p.groupby("ward").mean(numeric_only=True).get(), df.groupby("ward").mean(numeric_only=True)
    )
    pd.testing.assert_frame_equal(p[p["age"] > 35].get(), df[df["age"] > 35])


def test_a_request_that_fails_on_the_mock_is_refused_before_it_is_filed(
    with_dataset: unseen.VirtualWorker,
) -> None:
    # issue 19: it was filed, and failed only after the owner accepted it
    ana = with_dataset.new_client("Ana")
    data = ana.search("#diabetes", verbose=False)[0]
    broken = data @ np.ones((7, 2))  # the data has 3 columns: a shape mismatch
    with pytest.raises(unseen.UsageError, match="fails on the mock"):
        broken.request(name="product", reason="a typo")
    assert len(with_dataset.requests) == 0
    fine = data @ np.ones((3, 2))
    fine.request(name="product", reason="right")
    assert len(with_dataset.requests) == 1
