"""model_ptr.fit on scikit-learn's breast cancer (569 x 30, binary, ``bce_with_logits``): the
same weights as torch's own loop with the same seed, and DP-SGD at epsilon 3 within a few
points of Opacus run locally with the same settings."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch
from train_support import assert_same_weights

import unseen

F = torch.nn.functional
EPS, DELTA, EPOCHS, BATCH, LR = 3.0, 1e-5, 10, 64, 0.5


@pytest.fixture(scope="module")
def cancer() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    X = torch.tensor(bunch.data, dtype=torch.float32)
    X = (X - X.mean(0)) / X.std(0)  # standardized: the features span five orders of magnitude
    return X, torch.tensor(bunch.target, dtype=torch.float32).reshape(-1, 1)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(30, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def accuracy(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return float(((model(X) > 0).float() == y).float().mean())


def test_fit_equals_the_local_loop(hook: Any, cancer: Any) -> None:
    X, y = cancer
    worker = unseen.VirtualWorker(hook, id="cancer")
    model = net()
    model_ptr = model.send(worker)
    history = model_ptr.fit(X.send(worker), y.send(worker), loss="bce_with_logits",
                            optimizer="sgd", lr=LR, epochs=5, batch_size=BATCH, seed=7)  # fmt: skip
    local = copy.deepcopy(model)  # the oracle: torch's loop, the documented batch order
    opt = torch.optim.SGD(local.parameters(), lr=LR)
    losses = []
    for epoch in range(5):
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(7 + epoch))
        total = []
        for index in torch.split(order, BATCH):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(local(X[index]), y[index])
            loss.backward()
            opt.step()
            total.append(loss.item())
        losses.append(sum(total) / len(total))
    trained = model_ptr.get()
    assert_same_weights(trained, local, atol=1e-6)
    assert history.losses == pytest.approx(losses, abs=1e-6)
    assert accuracy(trained, X, y) == accuracy(local, X, y) > 0.95


def opacus_locally(X: torch.Tensor, y: torch.Tensor) -> float:
    """The oracle: Opacus' own PrivacyEngine with the same settings, on the same model."""
    from opacus import PrivacyEngine

    model = net()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module, optimizer, loader = PrivacyEngine(accountant="rdp").make_private_with_epsilon(
            module=model, optimizer=torch.optim.SGD(model.parameters(), lr=LR),
            data_loader=loader, target_epsilon=EPS, target_delta=DELTA, epochs=EPOCHS,
            max_grad_norm=1.0,
        )  # fmt: skip
        for _ in range(EPOCHS):
            for xb, yb in loader:
                optimizer.zero_grad()
                F.binary_cross_entropy_with_logits(module(xb), yb).backward()
                optimizer.step()
    return accuracy(model, X, y)


def test_dpsgd_is_within_a_few_points_of_opacus_locally(hook: Any, cancer: Any) -> None:
    X, y = cancer
    worker = unseen.VirtualWorker(hook, id="cancer-dp")
    ds = unseen.Dataset(name="Breast cancer", description="569 tumours", tags=["#cancer"])
    ds.add_asset(name="features", data=X, mock=torch.randn(40, 30), public_rows=len(X))
    ds.add_asset(name="malignant", data=y, mock=torch.randint(0, 2, (40, 1)).float(),
                 public_rows=len(X))  # fmt: skip
    worker.upload_dataset(ds)
    worker.dp_settings(delta=DELTA)
    ana = worker.new_client("Ana")
    worker.users.update(ana.user_id, budget=5.0)
    features, malignant = ana.search("#cancer", verbose=False)
    model_ptr = net().send(ana)
    history = model_ptr.fit(features, malignant, loss="bce_with_logits", lr=LR, epochs=EPOCHS,
                            batch_size=BATCH, dp=unseen.DPSGD(epsilon=EPS, delta=DELTA))  # fmt: skip
    remote, local = accuracy(model_ptr.get(), X, y), opacus_locally(X, y)  # released: no request
    assert remote > 0.9 and abs(remote - local) < 0.05, (remote, local)
    assert history.dp is not None and history.dp.epsilon <= EPS
    assert 5.0 - ana.budget == pytest.approx(history.dp.charged)
