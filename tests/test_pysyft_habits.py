"""The PySyft 0.2/0.5 calls people type from memory: each works with unseen's semantics or raises
an error that names unseen's equivalent (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import unseen


@pytest.fixture
def hook() -> Iterator[unseen.TorchHook]:
    h = unseen.TorchHook(torch)
    yield h
    h.unhook()


def test_location_and_id_at_location(hospital: unseen.VirtualWorker) -> None:
    ptr = hospital.send(np.arange(4))
    assert ptr.location is hospital
    assert ptr.id_at_location == ptr.id
    assert {"location", "id_at_location", "copy"} <= set(dir(ptr))


def test_move_and_remote_get_name_the_equivalent(hospital: unseen.VirtualWorker) -> None:
    ptr = hospital.send(np.arange(4))
    other = unseen.VirtualWorker(name="General")
    with pytest.raises(unseen.UsageError, match=r"\.share\("):
        ptr.move(other)
    with pytest.raises(unseen.UsageError, match=r"\.compute\(\)"):
        ptr.remote_get()


def test_copy_is_a_remote_copy(hospital: unseen.VirtualWorker, hook: unseen.TorchHook) -> None:
    a = hospital.send(np.arange(4))
    b = a.copy()
    assert isinstance(b, unseen.Pointer) and b.id != a.id
    np.testing.assert_array_equal(b.get(), np.arange(4))
    t = torch.tensor([1.0, 2.0]).send(hospital).copy()
    assert torch.equal(t.get(), torch.tensor([1.0, 2.0]))


def test_get_delete_obj(hospital: unseen.VirtualWorker) -> None:
    kept = hospital.send(np.arange(3))
    np.testing.assert_array_equal(kept.get(delete_obj=False), np.arange(3))
    np.testing.assert_array_equal(kept.get(), np.arange(3))  # still there
    gone = hospital.send(np.arange(3)) * 2  # a result you computed is deleted on the node
    np.testing.assert_array_equal(gone.get(delete_obj=True), np.arange(3) * 2)
    with pytest.raises(unseen.NotFound):
        gone.get()


def test_worker_objects_and_clear_objects(hospital: unseen.VirtualWorker) -> None:
    a = hospital.send(np.arange(3))
    objects = hospital._objects
    assert a.id in objects
    np.testing.assert_array_equal(objects[a.id], np.arange(3))
    hospital.clear_objects()
    assert hospital._objects == {}
    with pytest.raises(unseen.NotFound):
        a.get()


def test_local_worker_names_the_equivalent() -> None:
    with pytest.raises(AttributeError, match="VirtualWorker"):
        unseen.local_worker  # noqa: B018


def test_fix_precision_works_as_sharing_encodes_itself(hook: unseen.TorchHook) -> None:
    t = torch.tensor([1.5, -2.25])
    assert t.fix_precision() is t and t.fix_prec() is t and t.float_precision() is t
    bob, alice, crypto = (unseen.VirtualWorker(name=n) for n in ("bob", "alice", "crypto"))
    x = t.fix_prec().share(bob, alice, crypto_provider=crypto)
    assert torch.allclose(x.get().float_precision(), t, atol=1e-3)
    with pytest.raises(unseen.UsageError, match="frac_bits"):
        t.fix_precision(precision_fractional=5)


def test_send_pointable_is_searchable(
    hospital: unseen.VirtualWorker, hook: unseen.TorchHook
) -> None:
    ana = hospital.new_client("Ana")
    torch.tensor([1.0]).tag("#x").send(hospital, pointable=True)
    assert len(ana.search("#x", verbose=False)) == 1


def test_launch_duet_loopback_names_the_equivalent() -> None:
    with pytest.raises(unseen.UsageError, match="network_url"):
        unseen.launch_duet(loopback=True)


def test_torch_functions_on_pointers_run_on_the_node(hospital: unseen.VirtualWorker) -> None:
    ptr = hospital.send(torch.tensor([1.0, -1.0]))
    assert torch.equal(torch.add(ptr, ptr).get(), torch.tensor([2.0, -2.0]))
    assert torch.equal(torch.nn.functional.relu(ptr).get(), torch.tensor([1.0, 0.0]))
    assert torch.equal(unseen.torch.add(ptr, ptr).get(), torch.tensor([2.0, -2.0]))
    with pytest.raises(unseen.OperationNotAllowed, match=r"torch\.fft\.fft"):
        torch.fft.fft(ptr)
    with pytest.raises(unseen.OperationNotAllowed, match="training=True"):
        torch.nn.functional.dropout(ptr, 0.5, True)


def test_request_fields_in_dir_and_requester_name(with_dataset: unseen.VirtualWorker) -> None:
    ana = with_dataset.new_client("Ana")
    ana.search("#diabetes", verbose=False)[0].mean(axis=0).request(name="mean", reason="paper")
    request = with_dataset.requests[0]
    assert {"name", "reason", "id", "status", "requester"} <= set(dir(request))
    assert request.name == "mean" and request.reason == "paper"
    assert "Ana" in str(request.requester)
