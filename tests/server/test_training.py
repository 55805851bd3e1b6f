"""API.md section 8 on a domain, against a real server process: a data scientist trains a
model on a private dataset; the weights leave only through a request the owner accepts, and
equal torch's own loop on the same data from the same initial weights."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from server_support import ServerProcess

import unseen

F = torch.nn.functional
STEPS = 100


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()


def test_scientist_trains_on_private_digits(server: ServerProcess, hook: Any) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.tensor(bunch.data / 16, dtype=torch.float32)
    y = torch.tensor(bunch.target)
    owner = server.login()
    owner.users.create(email="tess@uni.edu", password="tess-pw-123", name="Tess",
                       role="data_scientist", budget=1.0)  # fmt: skip
    ds = unseen.Dataset(name="Digits", description="8x8 handwritten digits", tags=["#digits"])
    generator = torch.Generator().manual_seed(1)
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64, generator=generator))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,), generator=generator))
    owner.upload_dataset(ds)

    tess = unseen.login(url=server.url, email="tess@uni.edu", password="tess-pw-123")
    data, target = tess.search("#digits", verbose=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    model_ptr = model.send(tess)  # parameters on the domain, owned by Tess
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model_ptr(data), target)
        loss.backward()
        opt.step()
    with pytest.raises(unseen.CannotRequestPrivateData, match="request_block=True"):
        model_ptr.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        loss.get()

    def decide() -> None:
        for _ in range(600):
            pending = [r for r in owner.requests if r.status == "pending"]
            if pending:
                assert pending[0].name == "mlp" and pending[0].reason == "digits classifier"
                pending[0].accept()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=decide)
    thread.start()
    trained = model_ptr.get(request_block=True, name="mlp", reason="digits classifier",
                            timeout_secs=60)  # fmt: skip
    thread.join()

    local = copy.deepcopy(model)
    lopt = torch.optim.SGD(local.parameters(), lr=0.5)
    for _ in range(STEPS):
        lopt.zero_grad()
        F.cross_entropy(local(X), y).backward()
        lopt.step()
    for name, want in local.state_dict().items():
        torch.testing.assert_close(trained.state_dict()[name], want, atol=1e-5, rtol=0)
    accuracy = (trained(X).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9
