"""API.md section 8's training loop over a VirtualWorker: the weights equal torch's own loop
from the same initial weights (SGD, SGD with momentum, Adam, AdamW; a user nn.Module)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from train_support import assert_same_weights, mlp, train_locally

import unseen

F = torch.nn.functional


def test_api_md_loop(hook: Any, digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    x_ptr, y_ptr = X.send(hospital), y.send(hospital)
    model = mlp()
    model_ptr = model.send(hospital)
    assert isinstance(model_ptr, unseen.ModulePointer)
    stored = len(hospital._objects)
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for step in range(100):  # noqa: B007  (as written in API.md)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model_ptr(x_ptr), y_ptr)
        loss.backward()
        opt.step()
    assert len(hospital._objects) == stored  # lazy: nothing ran yet
    trained = model_ptr.get()
    assert isinstance(trained, torch.nn.Sequential) and trained is not model
    want = train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5), X, y, 100)
    assert_same_weights(trained, want)
    # the original module is untouched; the loss of the last step is the local one's
    assert torch.equal(model[0].weight, mlp()[0].weight)
    local_loss = F.cross_entropy(train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5),
                                               X, y, 99)(X), y)  # fmt: skip
    torch.testing.assert_close(loss.get(), local_loss.detach(), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "name, make",
    [
        ("sgd-momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        (
            "sgd-nesterov-wd",
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        ),  # fmt: skip
        ("adam", lambda p: torch.optim.Adam(p, lr=0.01)),
        ("adam-wd", lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-2)),
        ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01)),
    ],
)
def test_optimizers_match_torch(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor], name: str, make: Any
) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = mlp(1)
    model_ptr = hospital.send(model)
    opt = make(model_ptr.parameters())
    assert isinstance(opt, unseen.train.Optimizer), name
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(model_ptr(x_ptr), y_ptr).backward()
        opt.step()
    assert_same_weights(model_ptr.get(), train_locally(model, make, X, y, 30))


class Net(torch.nn.Module):
    """A user module: its forward runs on the client with the module pointer as ``self``."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(64, 16)
        self.scale = torch.nn.Parameter(torch.ones(16))
        self.out = torch.nn.Linear(16, 10)
        self.slope = 0.1

    def features(self, x: Any) -> Any:
        return F.leaky_relu(self.hidden(x), self.slope) * self.scale

    def forward(self, x: Any) -> Any:
        h = torch.tanh(self.features(x))
        return F.log_softmax(h @ self.out.weight.t() + self.out.bias, dim=1)


def test_user_module_subclass(hook: Any, digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    x_ptr, y_ptr = X.send(hospital), y.send(hospital)
    torch.manual_seed(3)
    model = Net()
    model_ptr = model.send(hospital)
    assert [n for n, _ in model_ptr.named_parameters()] == [n for n, _ in model.named_parameters()]
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.3, momentum=0.5)
    for _ in range(20):
        opt.zero_grad()
        F.nll_loss(model_ptr(x_ptr), y_ptr).backward()
        opt.step()
    local = Net()
    local.load_state_dict(model.state_dict())
    lopt = torch.optim.SGD(local.parameters(), lr=0.3, momentum=0.5)
    for _ in range(20):
        lopt.zero_grad()
        F.nll_loss(local(X), y).backward()
        lopt.step()
    trained = model_ptr.get()
    assert isinstance(trained, Net)
    assert_same_weights(trained, local)


def test_conv_batchnorm_and_pooling_match_torch(hook: Any) -> None:
    torch.manual_seed(5)
    X = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 3, (16,))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Dropout(0.0),
        torch.nn.Linear(64, 8), torch.nn.BatchNorm1d(8), torch.nn.GELU(), torch.nn.Linear(8, 3),
    )  # fmt: skip
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model_ptr = hospital.send(model)
    # SGD: a conv bias before BatchNorm gets a gradient of rounding noise, which Adam would
    # scale up to full steps (locally too, differently)
    make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731
    opt = make(model_ptr.parameters())
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model_ptr(x_ptr), y_ptr).backward()
        opt.step()
    want = train_locally(model, make, X, y, 5)
    assert_same_weights(model_ptr.get(), want)  # running statistics included
    model_ptr.eval()
    want.eval()
    torch.testing.assert_close(model_ptr(x_ptr).get(), want(X).detach(), atol=1e-5, rtol=0)


def test_gradients_accumulate_and_zero_grad_clears(hook: Any) -> None:
    torch.manual_seed(0)
    X, y = torch.randn(8, 4), torch.randn(8, 1)
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = torch.nn.Linear(4, 1)
    model_ptr = hospital.send(model)
    weight = model_ptr.weight
    assert isinstance(weight, unseen.ParameterPointer) and weight.grad is None
    F.mse_loss(model_ptr(x_ptr), y_ptr).backward()
    F.mse_loss(model_ptr(x_ptr), y_ptr).backward()
    F.mse_loss(model(X), y).backward()
    F.mse_loss(model(X), y).backward()
    assert weight.grad is not None
    torch.testing.assert_close(weight.grad.get(), model.weight.grad, atol=1e-6, rtol=0)
    model_ptr.zero_grad()
    assert weight.grad is None


def test_compute_runs_now_and_training_goes_on(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = mlp(2)
    model_ptr = hospital.send(model)
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for step in range(10):
        opt.zero_grad()
        F.cross_entropy(model_ptr(x_ptr), y_ptr).backward()
        opt.step()
        if step % 3 == 0:
            model_ptr.compute()
            assert all(p.computed for p in model_ptr.parameters())
    want = train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5), X, y, 10)
    assert_same_weights(model_ptr.get(), want)
    # a sub-module comes back on its own
    assert_same_weights(model_ptr[2].get(), want[2])
