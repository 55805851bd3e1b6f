"""What training refuses, each before anything is sent, with an error that names it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import unseen
import unseen.train

F = torch.nn.functional


@pytest.fixture
def node() -> unseen.VirtualWorker:
    return unseen.VirtualWorker(name="May Clinic")


def _stored(node: unseen.VirtualWorker) -> int:
    return len(node.node.stores.objects.list())


class Leaky(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        return torch.fft.fft(self.fc(x))  # not in the vocabulary


def test_an_op_outside_the_vocabulary_in_forward_is_refused_before_sending(
    hook: Any, node: unseen.VirtualWorker
) -> None:
    x = node.send(torch.randn(3, 4))
    model_ptr = Leaky().send(node)
    before = _stored(node)
    with pytest.raises(unseen.OperationNotAllowed, match=r"torch\.fft\.fft"):
        model_ptr(x)
    assert _stored(node) == before


def test_backward_needs_a_scalar_loss(hook: Any, node: unseen.VirtualWorker) -> None:
    x, y = node.send(torch.randn(3, 4)), node.send(torch.randn(3, 2))
    model_ptr = torch.nn.Linear(4, 2).send(node)
    before = _stored(node)
    with pytest.raises(unseen.UsageError, match=r"scalar loss.*reduction is 'none'"):
        F.mse_loss(model_ptr(x), y, reduction="none").backward()
    with pytest.raises(unseen.UsageError, match=r"scalar loss.*\(3, 2\)"):
        (model_ptr(x) - y).backward()
    with pytest.raises(unseen.UsageError, match="no gradient argument"):
        (model_ptr(x) - y).backward(torch.ones(3, 2))
    assert model_ptr.weight.grad is None
    assert _stored(node) == before
    ((model_ptr(x) - y) ** 2).mean().backward()  # reduced: fine
    assert model_ptr.weight.grad is not None


def test_a_model_takes_tensors(hook: Any, node: unseen.VirtualWorker) -> None:
    model_ptr = torch.nn.Linear(4, 2).send(node)
    array = node.send(np.ones((3, 4)))
    with pytest.raises(unseen.UsageError, match=r"unseen\.torch\.as_tensor"):
        model_ptr(array)
    out = model_ptr(unseen.torch.as_tensor(array, dtype=torch.float32)).get()
    assert out.shape == (3, 2)


def test_backward_needs_a_parameter_of_a_sent_model(node: unseen.VirtualWorker) -> None:
    x = node.send(torch.randn(3, 4))
    with pytest.raises(unseen.UsageError, match=r"model\.send"):
        x.sum().backward()


def test_hooks_and_unsupported_layers_are_refused_before_sending(
    hook: Any, node: unseen.VirtualWorker
) -> None:
    hooked = torch.nn.Linear(4, 2)
    hooked.register_forward_hook(lambda *args: None)
    before = _stored(node)
    with pytest.raises(unseen.OperationNotAllowed, match="forward hooks"):
        hooked.send(node)
    with pytest.raises(unseen.OperationNotAllowed, match="LSTM"):
        node.send(torch.nn.Sequential(torch.nn.LSTM(4, 4)))
    with pytest.raises(unseen.OperationNotAllowed, match="max_norm"):
        node.send(torch.nn.Embedding(5, 2, max_norm=1.0))
    with pytest.raises(unseen.OperationNotAllowed, match="padding_mode"):
        node.send(torch.nn.Conv1d(1, 1, 3, padding_mode="circular"))
    assert _stored(node) == before


class Doubled(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, t: Any) -> Any:
        return t * 2

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * 2


def test_custom_autograd_functions_and_data_edits_are_refused(
    hook: Any, node: unseen.VirtualWorker
) -> None:
    model_ptr = torch.nn.Linear(4, 2).send(node)
    x = node.send(torch.randn(3, 4))
    before = _stored(node)
    with pytest.raises(unseen.OperationNotAllowed, match="custom autograd Function Doubled"):
        Doubled.apply(model_ptr(x))
    with pytest.raises(unseen.OperationNotAllowed, match=r"\.data"):
        model_ptr.weight.data = torch.zeros(2, 4)
    with pytest.raises(unseen.OperationNotAllowed, match="'data'"):
        model_ptr.weight.data  # noqa: B018
    with pytest.raises(unseen.OperationNotAllowed, match="add_"):
        model_ptr.weight.add_(1.0)
    assert _stored(node) == before
    local = torch.ones(2, requires_grad=True)  # local tensors keep torch's own Function
    Doubled.apply(local).sum().backward()
    assert torch.equal(local.grad, torch.full((2,), 2.0))


def test_dropout_in_training_form_is_refused_in_a_users_forward(
    hook: Any, node: unseen.VirtualWorker
) -> None:
    x = node.send(torch.randn(3, 4))
    with pytest.raises(unseen.OperationNotAllowed, match="training=True"):
        F.dropout(x, 0.5, training=True)


def test_optimizers_take_parameter_pointers_only(hook: Any, node: unseen.VirtualWorker) -> None:
    model_ptr = torch.nn.Linear(4, 2).send(node)
    with pytest.raises(unseen.UsageError, match="not other pointers"):
        torch.optim.SGD([node.send(torch.ones(2))], lr=0.1)
    with pytest.raises(unseen.UsageError, match="Adagrad"):
        torch.optim.Adagrad(model_ptr.parameters(), lr=0.1)
    with pytest.raises(unseen.UsageError, match="maximize"):
        torch.optim.SGD(model_ptr.parameters(), lr=0.1, maximize=True)
    with pytest.raises(unseen.UsageError, match="buffer"):
        torch.optim.SGD(torch.nn.BatchNorm1d(2).send(node).buffers(), lr=0.1)
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.1)
    with pytest.raises(unseen.UsageError, match="closure"):
        opt.step(lambda: None)
    # local models keep torch's own optimizers, hooked or not
    local = torch.nn.Linear(4, 2)
    assert type(torch.optim.Adam(local.parameters())) is torch.optim.Adam
    assert type(torch.optim.SGD(list(local.parameters()), lr=0.1)) is torch.optim.SGD


def test_sending_a_model_without_the_hook(node: unseen.VirtualWorker) -> None:
    model = torch.nn.Linear(4, 2)
    with pytest.raises(unseen.UsageError, match=r"unseen\.TorchHook\(torch\)"):
        node.send(model)
    model_ptr = unseen.train.send_module(model, node)
    assert torch.equal(model_ptr.get().weight, model.weight)
    assert not hasattr(torch.nn.Module, "send")


def test_unhook_removes_what_the_hook_added() -> None:
    node = unseen.VirtualWorker(name="May Clinic")
    hook = unseen.TorchHook(torch)
    params = torch.nn.Linear(4, 2).send(node).parameters()
    assert isinstance(torch.optim.SGD(params, lr=0.1), unseen.train.SGD)
    hook.unhook()
    assert not hasattr(torch.nn.Module, "send") and not hasattr(torch.Tensor, "send")
    assert not hasattr(torch.autograd.Function.__dict__["apply"].__func__, "__unseen_original__")
    with pytest.raises(TypeError, match="ParameterPointer"):
        torch.optim.SGD(params, lr=0.1)  # torch's own again
    assert type(torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)) is torch.optim.SGD


def test_model_pointers_are_read_only_and_stay_on_their_node(
    hook: Any, node: unseen.VirtualWorker
) -> None:
    model_ptr = torch.nn.Linear(4, 2).send(node)
    with pytest.raises(unseen.UsageError, match="read-only"):
        model_ptr.weight = None
    with pytest.raises(unseen.UsageError, match="on a node already"):
        model_ptr.send(node)
    with pytest.raises(AttributeError, match="state_dict"):
        model_ptr.state_dict()
    other = unseen.VirtualWorker(name="Elsewhere")
    with pytest.raises(unseen.UsageError, match="not on"):
        model_ptr(other.send(torch.ones(1, 4)))
