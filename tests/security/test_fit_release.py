"""The release rule for model_ptr.fit: weights and losses of a fit on private data without DP
stay on the node (a request releases the weights); a DP-SGD fit's weights are released."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

import unseen


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()


def _setup(hook: Any) -> tuple[Any, Any, Any, Any, Any]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.tensor(bunch.data / 16, dtype=torch.float32)
    y = torch.tensor(bunch.target)
    worker = unseen.VirtualWorker(hook, id="clinic")
    ds = unseen.Dataset(name="Digits", description="digits", tags=["#digits"])
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64), public_rows=len(X))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)), public_rows=len(X))
    worker.upload_dataset(ds)
    worker.dp_settings(delta=1e-5)
    ana = worker.new_client("Ana")
    worker.users.update(ana.user_id, budget=5.0)
    return worker, ana, X, y, ana.search("#digits", verbose=False)


def test_a_fit_on_private_data_releases_nothing_without_the_owner(hook: Any) -> None:
    worker, ana, X, y, (images, labels) = _setup(hook)
    torch.manual_seed(0)
    model_ptr = torch.nn.Sequential(torch.nn.Linear(64, 10)).send(ana)
    history = model_ptr.fit(images, labels, lr=0.5, epochs=2, batch_size=64, seed=1)
    # the losses and the steps (the private row count) are not in the history
    assert not history.loss_released and history.losses is None
    assert all(e.loss is None and e.steps is None for e in history)
    assert "not released" in repr(history)
    with pytest.raises(unseen.CannotRequestPrivateData, match="request_block=True"):
        model_ptr.get()
    for param in model_ptr.parameters():  # nor one parameter, by its own pointer
        with pytest.raises(unseen.CannotRequestPrivateData):
            param.get()
    # the owner reviews what produced the weights: the fit and its settings
    request = model_ptr.request(name="linear", reason="digits")
    pending = worker.requests[0]
    assert any("train.fit(" in line and "epochs=2" in line for line in pending.graph)
    pending.accept()
    assert request is not None
    trained = model_ptr.get()
    assert (trained(X).argmax(1) == y).float().mean().item() > 0.8


def test_a_dpsgd_fit_is_released_and_composes_with_released_weights(hook: Any) -> None:
    worker, ana, X, y, (images, labels) = _setup(hook)
    model_ptr = torch.nn.Sequential(torch.nn.Linear(64, 10)).send(ana)
    model_ptr.fit(images, labels, lr=0.5, epochs=1, batch_size=64, seed=1)
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.get()
    # a DP-SGD fit from weights derived (without DP) from the data is not released...
    model_ptr.fit(images, labels, lr=0.5, epochs=1, batch_size=64,
                  dp=unseen.DPSGD(epsilon=1.0))  # fmt: skip
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.get()
    # ...until the owner released those weights: then they are Ana's, and so is a DP fit's
    model_ptr.request(name="w", reason="r")
    worker.requests[-1].accept()
    model_ptr.get()
    model_ptr.fit(images, labels, lr=0.5, epochs=1, batch_size=64,
                  dp=unseen.DPSGD(epsilon=1.0))  # fmt: skip
    assert isinstance(model_ptr.get(), torch.nn.Sequential)


def test_a_failed_fit_on_private_data_answers_as_a_success(hook: Any) -> None:
    """Labels out of range fail cross_entropy on the node: the reply is the same as for a
    fit that worked (whether it failed is private), and get() tells nothing more."""
    worker, ana, X, y, (images, labels) = _setup(hook)
    model_ptr = torch.nn.Sequential(torch.nn.Linear(64, 3)).send(ana)  # 3 classes < 10
    history = model_ptr.fit(images, labels, lr=0.5, epochs=2, batch_size=64, seed=1)
    assert [(e.epoch, e.steps, e.loss) for e in history] == [(1, None, None), (2, None, None)]
    model_ptr.request(name="w", reason="r")
    worker.requests[-1].accept()
    with pytest.raises(unseen.RemoteError, match="details withheld") as caught:
        model_ptr.get()
    assert "out of bounds" not in str(caught.value) and "Target" not in str(caught.value)


def _raw_fit(ana: Any, model_ptr: Any, data: Any, target: Any, **changes: Any) -> Any:
    from unseen.messages.training import TRAIN_FIT, DPSGDSpec, FitRequest
    from unseen.train import describe

    entries = model_ptr._entries()
    fields: dict[str, Any] = dict(
        architecture=describe(model_ptr._module), names=[n for n, _ in entries],
        parameters=[p.id for _, p in entries], data=data.id, target=target.id,
        loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=1, batch_size=64,
        dp=DPSGDSpec(epsilon=1.0, max_grad_norm=1.0),
    )  # fmt: skip
    fields.update(changes)
    return ana.ask(TRAIN_FIT, FitRequest(**fields))


def test_the_node_refuses_what_the_client_would_not_send(hook: Any) -> None:
    """Planted past the client's checks: a seed with DP (predictable noise), a delta above
    the node's, data computed from private data (its row count is not public)."""
    worker, ana, X, y, (images, labels) = _setup(hook)
    model_ptr = torch.nn.Sequential(torch.nn.Linear(64, 10)).send(ana)
    with pytest.raises(unseen.UsageError, match="leave seed out"):
        _raw_fit(ana, model_ptr, images, labels, seed=5)
    from unseen.messages.training import DPSGDSpec

    with pytest.raises(unseen.UsageError, match="above this node's delta"):
        _raw_fit(ana, model_ptr, images, labels,
                 dp=DPSGDSpec(epsilon=1.0, delta=1e-3, max_grad_norm=1.0))  # fmt: skip
    doubled = (images * 1.0).compute()
    with pytest.raises(unseen.UsageError, match="trains on dataset assets directly"):
        _raw_fit(ana, model_ptr, doubled, labels)
    assert ana.budget == 5.0 and len(list(ana.releases)) == 0


def test_a_fit_on_failed_weights_does_not_tell_that_they_failed(hook: Any) -> None:
    """Weights whose fit failed on private data train again without an error: the second
    fit's reply is the same as the first's, and its weights fail only at a release."""
    worker, ana, X, y, (images, labels) = _setup(hook)
    failing = torch.nn.Sequential(torch.nn.Linear(64, 3)).send(ana)
    failing.fit(images, labels, lr=0.5, epochs=1, batch_size=64, seed=1)  # fails: 10 classes
    working = torch.nn.Sequential(torch.nn.Linear(64, 10)).send(ana)
    working.fit(images, labels, lr=0.5, epochs=1, batch_size=64, seed=1)
    replies = [
        [(e.epoch, e.steps, e.loss) for e in m.fit(images, labels, epochs=1, seed=2)]
        for m in (failing, working)
    ]
    assert replies[0] == replies[1]
    # a private value that is not a tensor fails the results too, rather than answering
    not_a_tensor = (images > 0.5).sum().compute()  # derived from the private images
    assert len(working.fit(images, not_a_tensor, epochs=1, seed=2)) == 1
    for model_ptr in (failing, working):
        model_ptr.request(name="w", reason="r")
        worker.requests[-1].accept()
        with pytest.raises(unseen.RemoteError, match="details withheld"):
            model_ptr.get()


def test_a_failed_dpsgd_fit_keeps_its_detail_and_its_charge(hook: Any) -> None:
    """DP-SGD weights are the caller's, so a failure on the private data must not carry
    its detail into them; the charge stands (whether it failed is private too)."""
    worker, ana, X, y, (images, labels) = _setup(hook)
    model_ptr = torch.nn.Sequential(torch.nn.Linear(64, 3)).send(ana)  # 3 classes < 10
    history = model_ptr.fit(images, labels, epochs=1, batch_size=64,
                            dp=unseen.DPSGD(epsilon=1.0))  # fmt: skip
    assert history.dp is not None and ana.budget == pytest.approx(5.0 - history.dp.charged)
    with pytest.raises(unseen.RemoteError, match="details withheld") as caught:
        model_ptr.get()
    assert "out of bounds" not in str(caught.value) and "IndexError" not in str(caught.value)
