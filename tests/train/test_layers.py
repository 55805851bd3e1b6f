"""Every supported layer, traced into vocabulary operations: its output and one SGD step on a
node equal torch's own (training and eval modes)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch

import unseen
import unseen.train

nn = torch.nn
F = torch.nn.functional

# (layer factory, input factory); inputs are float unless the layer takes indices
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.Tensor]]] = {
    "Linear": (lambda: nn.Linear(6, 4), lambda: torch.randn(5, 6)),
    "Linear-nobias": (lambda: nn.Linear(6, 4, bias=False), lambda: torch.randn(5, 6)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), lambda: torch.randn(4, 2, 9)),
    "Conv2d": (
        lambda: nn.Conv2d(2, 3, 3, padding="same", groups=1),
        lambda: torch.randn(2, 2, 6, 6),
    ),
    "BatchNorm1d-2d": (lambda: nn.BatchNorm1d(6), lambda: torch.randn(5, 6)),
    "BatchNorm1d-3d": (lambda: nn.BatchNorm1d(3, momentum=0.3), lambda: torch.randn(4, 3, 7)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, affine=False), lambda: torch.randn(2, 3, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(6), lambda: torch.randn(5, 6)),
    "Embedding": (
        lambda: nn.Embedding(10, 4, padding_idx=0),
        lambda: torch.tensor([[1, 0, 3], [9, 2, 2]]),
    ),  # noqa: E501
    "ReLU": (lambda: nn.ReLU(inplace=True), lambda: torch.randn(5, 6)),
    "ReLU6": (nn.ReLU6, lambda: torch.randn(5, 6) * 5),
    "GELU-tanh": (lambda: nn.GELU("tanh"), lambda: torch.randn(5, 6)),
    "SiLU": (nn.SiLU, lambda: torch.randn(5, 6)),
    "Tanh": (nn.Tanh, lambda: torch.randn(5, 6)),
    "Sigmoid": (nn.Sigmoid, lambda: torch.randn(5, 6)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: torch.randn(5, 6)),
    "ELU": (lambda: nn.ELU(0.5), lambda: torch.randn(5, 6)),
    "Softplus": (lambda: nn.Softplus(2.0, 10.0), lambda: torch.randn(5, 6)),
    "Softmax": (lambda: nn.Softmax(dim=1), lambda: torch.randn(5, 6)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=0), lambda: torch.randn(5, 6)),
    "Flatten": (lambda: nn.Flatten(1, 2), lambda: torch.randn(2, 3, 4, 5)),
    "Identity": (nn.Identity, lambda: torch.randn(5, 6)),
    "Dropout-eval-equal": (lambda: nn.Dropout(0.0), lambda: torch.randn(5, 6)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), lambda: torch.randn(2, 3, 8)),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: torch.randn(2, 3, 7, 7)),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=1), lambda: torch.randn(2, 3, 8)),
    "AvgPool2d": (
        lambda: nn.AvgPool2d(2, count_include_pad=False, padding=1),
        lambda: torch.randn(2, 3, 6, 6),
    ),  # noqa: E501
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(3), lambda: torch.randn(2, 3, 8)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: torch.randn(2, 3, 7, 7)),
}


@pytest.fixture(scope="module")
def node() -> unseen.VirtualWorker:
    return unseen.VirtualWorker(name="May Clinic")


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("training", [True, False])
def test_layer_forward_and_one_step_equal_torch(
    name: str, training: bool, node: unseen.VirtualWorker
) -> None:
    make_layer, make_input = LAYERS[name]
    torch.manual_seed(0)
    layer, x = make_layer(), make_input()
    layer.train(training)
    model_ptr = unseen.train.send_module(layer, node)
    model_ptr.train(training)
    x_ptr = node.send(x)
    local = copy.deepcopy(layer)
    expected = local(x).detach()  # each forward in training mode moves running statistics
    torch.testing.assert_close(model_ptr(x_ptr).get(), expected, atol=1e-5, rtol=1e-5)
    params = model_ptr.parameters()
    if not params:
        return
    weight = torch.linspace(-1, 1, expected.numel()).reshape(expected.shape)
    opt = unseen.train.SGD(params, lr=0.1)
    (model_ptr(x_ptr) * weight).sum().backward()
    opt.step()
    lopt = torch.optim.SGD(local.parameters(), lr=0.1)
    (local(x) * weight).sum().backward()
    lopt.step()
    got = model_ptr.get().state_dict()
    for key, value in local.state_dict().items():
        torch.testing.assert_close(got[key], value, atol=1e-5, rtol=1e-5, msg=key)


def test_every_supported_layer_is_tested() -> None:
    from unseen.train._layers import _BY_NAME

    tested = {name.split("-")[0] for name in LAYERS}
    assert set(_BY_NAME) - tested == {"Sequential", "Dropout"} - tested
