"""Plans against a real domain server: API.md's plan block as the owner, and a data scientist
running a plan on private digits: one message for the calls, the weights through a request
that shows the plan's hash, equal to torch's own loop."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from server_support import ServerProcess

import unseen
from unseen import ops

F = torch.nn.functional


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return torch.tensor(bunch.data / 16, dtype=torch.float32), torch.tensor(bunch.target)


def _local(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int) -> Any:
    local = copy.deepcopy(model)
    opt = torch.optim.SGD(local.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(local(X), y).backward()
        opt.step()
    return local


def test_api_md_plan_block_as_the_owner(
    server: ServerProcess, hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    owner = server.login()
    x_ptr, y_ptr = X.send(owner), y.send(owner)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    model_ptr = model.send(owner)

    @unseen.plan  # traced once on mocks, shipped once, re-run by id
    def train_step(model, x, y):  # type: ignore[no-untyped-def]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    train_step.graph  # noqa: B018  (as written in API.md)
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        train_step(model_ptr, x_ptr, y_ptr)
        opt.step()
    assert str(train_step.graph).startswith(f"plan train_step sha256:{train_step.hash}")
    trained = model_ptr.get()
    for name, want in _local(model, X, y, 20).state_dict().items():
        torch.testing.assert_close(trained.state_dict()[name], want, atol=1e-5, rtol=0)
    owner.close()


def test_scientist_runs_a_plan_on_private_digits(
    server: ServerProcess, hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    owner = server.login()
    owner.users.create(email="pia@uni.edu", password="pia-pw-1234", name="Pia",
                       role="data_scientist", budget=1.0)  # fmt: skip
    ds = unseen.Dataset(name="Digits for plans", description="8x8 digits", tags=["#plan-digits"])
    generator = torch.Generator().manual_seed(1)
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64, generator=generator))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,), generator=generator))
    owner.upload_dataset(ds)

    pia = unseen.login(url=server.url, email="pia@uni.edu", password="pia-pw-1234")
    data, target = pia.search("#plan-digits", verbose=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    model_ptr = model.send(pia)

    @unseen.plan
    def train_step(model: Any, x: Any, y: Any) -> Any:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    sent: list[Any] = []
    original = pia._conn.call

    def counting(kind: str, body: Any = None) -> Any:
        sent.append((kind, body))
        return original(kind, body)

    pia._conn.call = counting  # type: ignore[method-assign]
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for _ in range(30):
        opt.zero_grad()
        loss = train_step(model_ptr, data, target)
        opt.step()
    with pytest.raises(unseen.CannotRequestPrivateData):
        loss.get()
    with pytest.raises(unseen.CannotRequestPrivateData, match="request_block=True"):
        model_ptr.get()
    request = model_ptr.request(name="plan-mlp", reason="digits classifier")
    runs = [body for kind, body in sent if kind == "graph.run"]
    assert [a.name for a in runs[0]["actions"]].count(ops.PLAN_CALL) == 30
    assert request.status == "pending" and request.plan_hashes == [train_step.hash]
    review = next(r for r in owner.requests if r.id == request.id)
    assert f"plan train_step sha256:{train_step.hash}" in review.graph
    assert any("torch.autograd.grad(" in line for line in review.graph)
    review.accept()
    trained = model_ptr.get()
    for name, want in _local(model, X, y, 30).state_dict().items():
        torch.testing.assert_close(trained.state_dict()[name], want, atol=1e-5, rtol=0)
    pia.close()
    owner.close()
