"""model_ptr.fit without DP: the same weights as the documented loop run locally, and the
refusals (layers that are not standard, bad options), each before anything trains."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from train_support import assert_same_weights, mlp

import unseen
from unseen import ops
from unseen.messages.training import TRAIN_FIT, FitRequest


def local_fit(model: torch.nn.Module, X: Any, y: Any, *, opt: str, lr: float, epochs: int,
              batch_size: int, seed: int) -> torch.nn.Module:  # fmt: skip
    """The oracle: torch's own loop with the batch order docs/training.md describes."""
    model = copy.deepcopy(model)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt]
    optimizer = cls(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed + epoch))
        for index in torch.split(order, batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X[index]), y[index]).backward()
            optimizer.step()
    return model


@pytest.mark.parametrize("opt, lr", [("sgd", 0.5), ("adam", 0.01)])
def test_fit_equals_the_local_loop(hook: Any, digits: Any, opt: str, lr: float) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit")
    model = mlp()
    model_ptr = model.send(worker)
    history = model_ptr.fit(X.send(worker), y.send(worker), loss="cross_entropy",
                            optimizer=opt, lr=lr, epochs=5, batch_size=64, seed=11)  # fmt: skip
    want = local_fit(model, X, y, opt=opt, lr=lr, epochs=5, batch_size=64, seed=11)
    trained = model_ptr.get()
    assert_same_weights(trained, want, atol=1e-6)
    accuracy = (trained(X).argmax(1) == y).float().mean().item()
    assert accuracy == (want(X).argmax(1) == y).float().mean().item() and accuracy > 0.8
    # the owner of every input sees the losses: the local loop's mean loss per epoch
    assert history.loss_released and len(history) == 5
    assert history.losses is not None and history.losses[-1] < history.losses[0]
    assert [e.steps for e in history] == [29] * 5


def test_fit_continues_from_the_trained_weights(hook: Any, digits: Any) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit2")
    model = mlp(1)
    model_ptr = model.send(worker)
    x_ptr, y_ptr = X.send(worker), y.send(worker)
    model_ptr.fit(x_ptr, y_ptr, lr=0.5, epochs=1, batch_size=128, seed=3)
    model_ptr.fit(x_ptr, y_ptr, lr=0.5, epochs=1, batch_size=128, seed=4)
    first = local_fit(model, X, y, opt="sgd", lr=0.5, epochs=1, batch_size=128, seed=3)
    both = local_fit(first, X, y, opt="sgd", lr=0.5, epochs=1, batch_size=128, seed=4)
    assert_same_weights(model_ptr.get(), both, atol=1e-6)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x: Any) -> Any:
        return self.fc(x)


def test_own_modules_are_refused_naming_the_layer(hook: Any, digits: Any) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit3")
    model_ptr = torch.nn.Sequential(Net(), torch.nn.ReLU()).send(worker)
    with pytest.raises(unseen.OperationNotAllowed, match=r"^0 is a .*Net: model_ptr.fit"):
        model_ptr.fit(X.send(worker), y.send(worker), epochs=1)


def test_the_node_builds_standard_layers_only(hook: Any, digits: Any) -> None:
    # descriptions planted past the client's check: refused by the node, naming the layer
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit6")
    weight = torch.zeros(10, 64).send(worker)
    x_ptr, y_ptr = X.send(worker), y.send(worker)

    def ask(architecture: dict[str, Any]) -> Any:
        request = FitRequest(architecture=architecture, names=["0.weight"],
                             parameters=[weight.id], data=x_ptr.id, target=y_ptr.id,
                             loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=1,
                             batch_size=64, seed=0)  # fmt: skip
        return worker.ask(TRAIN_FIT, request)

    with pytest.raises(unseen.OperationNotAllowed, match=r"the model\.0 is a 'Transformer'"):
        ask({"type": "Sequential", "children": [["0", {"type": "Transformer"}]]})
    linear = {"in_features": 64, "out_features": 10, "bias": False}
    with pytest.raises(unseen.UsageError, match="takes no argument 'device'"):
        ask({"type": "Sequential", "children": [
            ["0", {"type": "Linear", "args": {**linear, "device": "meta"}}]]})  # fmt: skip
    reply = ask({"type": "Sequential", "children": [
        ["0", {"type": "Linear", "args": linear}], ["1", {"type": "Dropout"}]]})  # fmt: skip
    assert reply.weights_released and len(reply.parameters) == 1


@pytest.mark.parametrize(
    "options, message",
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"lr": 0}, "lr must be a number > 0"),
        ({"epochs": 0}, "epochs must be an int >= 1"),
        ({"batch_size": 2.5}, "batch_size must be an int >= 1"),
        ({"seed": 1, "dp": unseen.DPSGD(epsilon=1.0)}, "leave seed out"),
    ],
)
def test_bad_options_are_refused(hook: Any, digits: Any, options: dict[str, Any],
                                 message: str) -> None:  # fmt: skip
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit4")
    model_ptr = mlp().send(worker)
    before = [p.id for p in model_ptr.parameters()]
    with pytest.raises(unseen.UsageError, match=message):
        model_ptr.fit(X.send(worker), y.send(worker), **options)
    assert [p.id for p in model_ptr.parameters()] == before


def test_a_huge_batch_is_refused_not_an_oom(hook: Any, digits: Any) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="fit5")
    worker.node.limits = ops.Limits(max_elements=10_000)
    model_ptr = mlp().send(worker)
    with pytest.raises(unseen.OperationNotAllowed, match="use a smaller batch_size"):
        model_ptr.fit(X.send(worker), y.send(worker), batch_size=1024)


def test_a_fit_shows_its_epochs(hook: Any, digits: Any, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="bar")
    model_ptr = mlp().send(worker)
    monkeypatch.setenv("UNSEEN_PROGRESS", "1")
    model_ptr.fit(X.send(worker), y.send(worker), epochs=3, batch_size=256, seed=0)
    err = capsys.readouterr().err
    assert "fit on 'bar'" in err or "fit on bar" in err
    assert "3/3" in err and "loss=" in err  # your own data: the loss shows
    monkeypatch.setenv("UNSEEN_PROGRESS", "0")
    model_ptr.fit(X.send(worker), y.send(worker), epochs=1, batch_size=256, seed=0)
    assert "fit on" not in capsys.readouterr().err
