"""The release rule: lineage, requests, handlers, and errors that leak nothing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import unseen


def test_seed_search_and_sample(
    scientist: unseen.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    found = scientist.search("#diabetes")
    out = capsys.readouterr().out
    assert "Found 2 results" in out and "#diabetes found 2" in out and "#target found 1" in out
    data = found[0]
    assert data.tags[:2] == ["#diabetes", "#data"]
    assert data.shape == (40, 3)
    assert data.description == "40 patients, 3 features"
    np.testing.assert_array_equal(data.sample(5), np.zeros((5, 3)))  # rows of the mock


def test_private_data_cannot_be_read_directly(scientist: unseen.Client) -> None:
    data = scientist.search("#data", verbose=False)[0]
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"\.get\(epsilon=.*\.request\("):
        data.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        data.mean(axis=0).get()


def test_derived_from_private_stays_private_through_any_chain(scientist: unseen.Client) -> None:
    data = scientist.search("#data", verbose=False)[0]
    mine = scientist.send(np.ones(3))
    chain = ((data * 0) + mine).sum(axis=0) - mine.sum()
    with pytest.raises(unseen.CannotRequestPrivateData):
        chain.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        unseen.np.zeros_like(data).get()
    np.testing.assert_allclose((mine * 2).get(), np.full(3, 2.0))  # own data is readable


def test_request_accept_releases_only_that_object(
    with_dataset: unseen.VirtualWorker, private_data: np.ndarray
) -> None:
    ana = with_dataset.new_client("Ana")
    data = ana.search("#data", verbose=False)[0]
    m = data.mean(axis=0)
    req = m.request(name="mean", reason="To see the result")
    assert req.status == "pending"
    owner_view = with_dataset.requests
    assert len(owner_view) == 1 and owner_view[0].name == "mean"
    assert any("mean" in line for line in owner_view[0].graph)
    assert list(owner_view.pandas.columns) == [
        "Request Name",
        "Reason",
        "Requester",
        "Status",
        "Request ID",
    ]
    owner_view[0].accept()
    np.testing.assert_allclose(m.get(), private_data.mean(axis=0))
    np.testing.assert_allclose(ana.requests[0].get(), private_data.mean(axis=0))
    with pytest.raises(unseen.CannotRequestPrivateData):
        data.sum().get()
    other = with_dataset.new_client("Bob")
    assert len(other.requests) == 0


def test_blocking_get_waits_for_the_owner(
    with_dataset: unseen.VirtualWorker, private_data: np.ndarray
) -> None:
    ana = with_dataset.new_client("Ana")
    m = ana.search("#data", verbose=False)[0].mean(axis=0)

    def owner_accepts() -> None:
        for _ in range(200):
            pending = with_dataset.requests.pending
            if pending:
                pending[0].accept()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=owner_accepts)
    thread.start()
    started = time.monotonic()
    value = m.get(request_block=True, name="mean", reason="To see the result", timeout_secs=30)
    thread.join()
    np.testing.assert_allclose(value, private_data.mean(axis=0))
    assert time.monotonic() - started < 5


def test_blocking_get_times_out_and_the_request_stays(
    scientist: unseen.Client, with_dataset: unseen.VirtualWorker
) -> None:
    m = scientist.search("#data", verbose=False)[0].sum()
    with pytest.raises(unseen.RequestTimeout, match="pending"):
        m.get(request_block=True, name="sum", reason="r", timeout_secs=0.2)
    assert scientist.requests[0].status == "pending"
    with_dataset.requests[0].accept()
    assert scientist.requests[0].status == "accepted"


def test_denied_request_raises(
    scientist: unseen.Client, with_dataset: unseen.VirtualWorker
) -> None:
    m = scientist.search("#data", verbose=False)[0].sum()
    m.request(name="sum", reason="curious")
    with_dataset.requests[0].deny(reason="too fine-grained")
    with pytest.raises(unseen.RequestDenied, match="too fine-grained"):
        scientist.requests[0].get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        m.get()


def test_a_repeated_request_reuses_the_pending_one(
    scientist: unseen.Client, with_dataset: unseen.VirtualWorker
) -> None:
    m = scientist.search("#data", verbose=False)[0].sum()
    first = m.request(name="sum", reason="a")
    second = m.request(name="sum", reason="a")
    assert first.id == second.id and len(with_dataset.requests) == 1


def test_handlers_accept_by_name(
    scientist: unseen.Client, with_dataset: unseen.VirtualWorker, private_data: np.ndarray
) -> None:
    with_dataset.requests.add_handler(action="accept", name="mean")
    m = scientist.search("#data", verbose=False)[0].mean()
    value = m.get(request_block=True, name="mean", reason="r", timeout_secs=5)
    assert value == pytest.approx(private_data.mean())
    s = scientist.search("#data", verbose=False)[0].sum()
    assert s.request(name="sum", reason="r").status == "pending"


def test_scientist_cannot_decide_or_add_handlers(scientist: unseen.Client) -> None:
    scientist.search("#data", verbose=False)[0].sum().request(name="sum", reason="r")
    with pytest.raises(unseen.PermissionDenied):
        scientist.requests[0].accept()
    with pytest.raises(unseen.PermissionDenied):
        scientist.requests.add_handler(action="accept")
    with pytest.raises(unseen.PermissionDenied):
        scientist.upload_dataset(unseen.Dataset("x").add_asset("a", np.zeros(2)))


def test_errors_on_private_data_leak_nothing(hospital: unseen.VirtualWorker) -> None:
    ds = unseen.Dataset(name="names", description="diagnoses", tags=["#names"])
    ds.add_asset(name="names", data=np.array(["Alice-Secret-Diagnosis"]), mock=np.array(["1.5"]))
    hospital.upload_dataset(ds)
    ana = hospital.new_client("Ana")
    names = ana.search("#names", verbose=False)[0]
    converted = names.astype("float64")  # works on the mock, fails on the private data
    converted.compute()  # fails on the node; the reply must not say so
    req = converted.request(name="convert", reason="r")
    owner_side = hospital.requests[0]
    assert owner_side.id == req.id
    owner_side.accept()
    with pytest.raises(unseen.RemoteError) as info:
        ana.requests[0].get()
    assert "astype" in str(info.value)
    assert "Alice" not in str(info.value) and "Secret" not in str(info.value)


def test_errors_on_own_data_are_detailed(hospital: unseen.VirtualWorker) -> None:
    p = hospital.send(np.array(["not-a-number"]))
    with pytest.raises(unseen.RemoteError, match="not-a-number"):
        p.astype("float64").get()


def test_other_users_objects_are_invisible(hospital: unseen.VirtualWorker) -> None:
    ana, bob = hospital.new_client("Ana"), hospital.new_client("Bob")
    secret = ana.send(np.arange(3.0))
    stolen = unseen.Pointer(bob, secret._vertex)
    with pytest.raises(unseen.NotFound):
        stolen.get()
    assert len(bob.store) == 0 and len(ana.store) == 1


def test_duet_style_store(hospital: unseen.VirtualWorker) -> None:
    hook = unseen.TorchHook()
    try:
        import torch

        data = torch.tensor([[0, 0], [0, 1]]).tag("data")
        hospital.send(data, searchable=True)
        ana = hospital.new_client("Ana")
        frame = ana.store.pandas
        assert list(frame.columns) == ["ID", "Tags", "Description"] and frame["Tags"][0] == ["data"]
        sum_ptr = ana.store["data"].sum().item()
        assert isinstance(sum_ptr, unseen.Pointer)
        threading.Timer(0.2, lambda: hospital.requests[0].accept()).start()
        assert (
            sum_ptr.get(request_block=True, name="sum", reason="To see the result", timeout_secs=10)
            == 1
        )
    finally:
        hook.unhook()


def test_own_tags_cannot_steer_private_data_into_a_handler(hospital: unseen.VirtualWorker) -> None:
    hospital.send(np.arange(6.0), tags=["#private"], searchable=True)
    hospital.requests.add_handler(action="accept", tags=["#open"])
    ana = hospital.new_client("Ana")
    mixed = ana.store["#private"] + ana.send(np.zeros(6), tags=["#open"])
    assert mixed.request(name="mixed", reason="r").status == "pending"
    with pytest.raises(unseen.CannotRequestPrivateData):
        mixed.get()
    derived = (ana.store["#private"] * 1).compute()
    with pytest.raises(unseen.PermissionDenied):
        ana.call("object.tag", {"id": derived.id, "tags": ["#open"]})
