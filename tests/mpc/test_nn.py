"""Encrypted models: inference of a CNN trained on scikit-learn's digits matches plaintext;
encrypted training (backward through every layer, SGD on shared parameters) lowers the loss
and its gradients match torch's."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unseen.errors import UsageError
from unseen.mpc import LocalCluster
from unseen.mpc import functional as MF
from unseen.mpc.nn import share_module
from unseen.mpc.optim import SGD


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    return x, y


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained_cnn(digits: tuple[torch.Tensor, torch.Tensor]) -> nn.Module:
    x, y = digits
    torch.manual_seed(0)
    model = _cnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    train_x, train_y = x[500:], y[500:]
    for _epoch in range(8):
        perm = torch.randperm(len(train_x))
        for i in range(0, len(train_x), 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            F.cross_entropy(model(train_x[idx]), train_y[idx]).backward()
            opt.step()
    return model.eval()


def test_encrypted_cnn_inference_matches_plaintext(
    cluster2: LocalCluster, digits: tuple, trained_cnn: nn.Module
) -> None:
    x, y = digits
    test_x, test_y = x[:500], y[:500]
    with torch.no_grad():
        plain = trained_cnn(test_x)
    assert (plain.argmax(1) == test_y).float().mean() > 0.85  # the plaintext model is decent
    enc_model = share_module(trained_cnn, cluster2)
    enc_model.eval()
    logits = enc_model(cluster2.share(test_x)).get()
    agree = (logits.argmax(1) == plain.argmax(1)).float().mean().item()
    assert agree >= 0.99
    assert (logits - plain).abs().max().item() < 0.05


def test_three_parties_custom_forward(cluster3: LocalCluster) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 3 * 3, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            x = x.view(x.size(0), -1)
            return torch.sigmoid(self.fc(x)) + x.sum(1, keepdim=True) * 0.5

    torch.manual_seed(1)
    net = Net()
    data = torch.randn(4, 1, 8, 8)
    got = share_module(net, cluster3)(cluster3.share(data)).get()
    assert (got - net(data).detach()).abs().max().item() < 2e-3


def test_gradients_match_torch(cluster2: LocalCluster) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2, padding=1),
        nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3),
    )  # fmt: skip
    x = torch.randn(5, 1, 8, 8)
    labels = torch.tensor([0, 2, 1, 1, 0])
    enc = share_module(model, cluster2)
    loss = MF.cross_entropy(enc(cluster2.share(x)), labels)
    loss.backward()
    ref = F.cross_entropy(model(x), labels)
    ref.backward()
    assert abs(loss.get().item() - ref.item()) < 5e-3
    for (name, p), (_, q) in zip(enc.named_parameters(), model.named_parameters()):
        assert p.grad is not None, name
        assert (p.grad.get() - q.grad).abs().max().item() < 2e-3, name


def test_mse_regression_gradients(cluster3: LocalCluster) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    x, t = torch.randn(16, 4), torch.randn(16, 1)
    enc = share_module(model, cluster3)
    loss = MF.mse_loss(enc(cluster3.share(x)), cluster3.share(t))
    loss.backward()
    ref = F.mse_loss(model(x), t)
    ref.backward()
    assert abs(loss.get().item() - ref.item()) < 1e-3
    for (name, p), (_, q) in zip(enc.named_parameters(), model.named_parameters()):
        assert (p.grad.get() - q.grad).abs().max().item() < 1e-3, name


def test_encrypted_training_lowers_the_loss(cluster2: LocalCluster, digits: tuple) -> None:
    x, y = digits
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    twin = copy.deepcopy(model)
    enc = share_module(model, cluster2)
    opt = SGD(enc.parameters(), lr=0.5, momentum=0.5)
    plain_opt = torch.optim.SGD(twin.parameters(), lr=0.5, momentum=0.5)
    batch_x, batch_y = x[:128], y[:128]
    ex = cluster2.share(batch_x)
    for _step in range(6):
        opt.zero_grad()
        MF.cross_entropy(enc(ex), batch_y).backward()
        opt.step()
        plain_opt.zero_grad()
        F.cross_entropy(twin(batch_x), batch_y).backward()
        plain_opt.step()
    trained = enc.decrypt()
    with torch.no_grad():
        before = F.cross_entropy(model(batch_x), batch_y).item()
        after = F.cross_entropy(trained(batch_x), batch_y).item()
        plain_after = F.cross_entropy(twin(batch_x), batch_y).item()
    assert after < before - 0.3
    assert abs(after - plain_after) < 0.02
    assert abs(MF.cross_entropy(enc(ex), batch_y).get().item() - after) < 5e-3


def test_unsupported_layers_are_clear_errors(cluster2: LocalCluster) -> None:
    with pytest.raises(UsageError, match="LSTM"):
        share_module(nn.Sequential(nn.LSTM(3, 3)), cluster2)
    with pytest.raises(UsageError, match="Module"):
        share_module(lambda t: t, cluster2)  # type: ignore[arg-type]
