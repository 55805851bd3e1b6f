"""Training on private data: weights, gradients and losses derive from the data, so they leave
only through a release (tests/train for the training itself, against torch)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import unseen
from unseen.ops import Action, Ref

F = torch.nn.functional


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()


@pytest.fixture
def clinic() -> unseen.VirtualWorker:
    torch.manual_seed(0)
    X, y = torch.randn(60, 5), torch.randint(0, 3, (60,))
    hospital = unseen.VirtualWorker(name="May Clinic")
    ds = unseen.Dataset(name="Visits", description="60 visits", tags=["#visits"])
    ds.add_asset(name="data", data=X, mock=torch.zeros(10, 5))
    ds.add_asset(name="target", data=y, mock=torch.zeros(10, dtype=torch.int64))
    hospital.upload_dataset(ds)
    return hospital


def _private(clinic: unseen.VirtualWorker) -> tuple[torch.Tensor, torch.Tensor]:
    values = [clinic.node.stores.objects.value(a.object_id) for a in _assets(clinic)]
    return values[0], values[1]


def _assets(clinic: unseen.VirtualWorker) -> list[Any]:
    [dataset] = clinic.node.stores.datasets.list()
    return list(dataset.assets)


def test_weights_grads_and_loss_are_released_only_on_request(
    hook: Any, clinic: unseen.VirtualWorker
) -> None:
    ana = clinic.new_client("Ana")
    data, target = ana.search("#visits", verbose=False)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    model_ptr = model.send(ana)
    # her own upload: she may read it back before training
    assert torch.equal(model_ptr.get()[0].weight, model[0].weight)
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.2)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model_ptr(data), target)
        loss.backward()
        grad = model_ptr[0].weight.grad
        opt.step()
    with pytest.raises(unseen.CannotRequestPrivateData, match="request_block=True"):
        model_ptr.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        loss.get()
    assert grad is not None
    with pytest.raises(unseen.CannotRequestPrivateData):
        grad.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr[2].bias.get()

    def accept() -> None:
        for _ in range(200):
            pending = [r for r in clinic.requests if r.status == "pending"]
            if pending:
                assert pending[0].name == "mlp"
                assert any("torch.autograd.grad" in line for line in pending[0].graph)
                pending[0].accept()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=accept)
    thread.start()
    trained = model_ptr.get(request_block=True, name="mlp", reason="visits", timeout_secs=30)
    thread.join()
    X, y = _private(clinic)
    local = copy.deepcopy(model)
    lopt = torch.optim.SGD(local.parameters(), lr=0.2)
    for _ in range(3):
        lopt.zero_grad()
        F.cross_entropy(local(X), y).backward()
        lopt.step()
    for got, want in zip(trained.parameters(), local.parameters()):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_a_graph_on_her_own_parameters_and_private_data_differentiates_through_both(
    hook: Any, clinic: unseen.VirtualWorker
) -> None:
    """The node runs what she may read first and the rest after: a parameter used in both
    parts (``w.t()`` alone, then with the data) must be one leaf, or its gradient is lost."""
    ana = clinic.new_client("Ana")
    data, target = ana.search("#visits", verbose=False)
    w = torch.randn(3, 5)
    model = torch.nn.Linear(5, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(w)
    model_ptr = ana.send(model)
    weight = model_ptr.weight
    loss = F.cross_entropy(data @ weight.t(), target)  # weight.t() is hers alone
    loss.backward()
    assert weight.grad is not None
    clinic.requests  # noqa: B018
    request = weight.grad.request(name="grad", reason="check")
    [pending] = [r for r in clinic.requests if r.id == request.id]
    pending.accept()
    got = ana.requests[-1].get()
    X, y = _private(clinic)
    leaf = w.clone().requires_grad_()
    F.cross_entropy(X @ leaf.t(), y).backward()
    torch.testing.assert_close(got, leaf.grad, atol=1e-6, rtol=0)


def test_autograd_stays_refused_as_methods_and_ordinary_graphs_keep_no_history(
    clinic: unseen.VirtualWorker,
) -> None:
    ana = clinic.new_client("Ana")
    mine = ana.send(torch.ones(3, requires_grad=True))
    for name in ("backward", "requires_grad_", "retain_grad", "detach_", "register_hook"):
        body = {"actions": [Action("a" * 16, "method", name, (Ref(mine.id),))], "keep": []}
        with pytest.raises(unseen.OperationNotAllowed, match=name):
            ana.call("graph.run", body)
    with pytest.raises(unseen.OperationNotAllowed):
        mine.grad  # noqa: B018
    # a graph without a gradient action runs under no_grad: its results carry no history
    doubled = (mine * 2).compute()
    assert not clinic.node.stores.objects.value(doubled.id).requires_grad
    # planted: the same graph with a gradient action does run autograd
    body = {
        "actions": [
            Action("b" * 16, "method", "sum", (Ref(mine.id),)),
            Action("c" * 16, "function", "torch.autograd.grad", (Ref("b" * 16), [Ref(mine.id)])),
        ],
        "keep": ["c" * 16],
        "get": ["c" * 16],
    }
    [grads] = ana.call("graph.run", body)["values"]
    assert torch.equal(grads[0], torch.ones(3)) and not grads[0].requires_grad
