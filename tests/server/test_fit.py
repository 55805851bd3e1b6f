# ruff: noqa: E501 (the block keeps API.md's layout)
"""API.md section 8's second block, as written, against a real domain server (SQLite and
PostgreSQL): a fit on private digits whose weights leave through the owner's approval, then a
DP-SGD fit released without it and charged to the same ledger as DP queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from server_support import ServerProcess

import unseen


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()


def test_api_section_8_fit_block(server: ServerProcess, hook: Any) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.tensor(bunch.data / 16, dtype=torch.float32)
    y = torch.tensor(bunch.target)
    owner = server.login()
    owner.dp_settings(delta=1e-5)
    owner.users.create(email="ana@uni.edu", password="ana-pw-1234", name="Ana",
                       role="data_scientist", budget=10.0)  # fmt: skip
    ds = unseen.Dataset(name="Digits", description="8x8 handwritten digits", tags=["#digits"])
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64), public_rows=len(X))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)), public_rows=len(X))
    owner.upload_dataset(ds)

    def decide() -> None:
        for _ in range(600):
            pending = [r for r in owner.requests if r.status == "pending"]
            if pending:
                pending[0].accept()
                return
            time.sleep(0.05)

    ana = unseen.login(url=server.url, email="ana@uni.edu", password="ana-pw-1234")
    data, target = ana.search("#digits", verbose=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    budget = ana.budget
    thread = threading.Thread(target=decide)

    # -- API.md section 8, second block, as written --
    model_ptr = model.send(ana)  # parameters on the domain, owned by Ana
    history = model_ptr.fit(
        data, target, loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=5, batch_size=64
    )  # progress bar; returns per-epoch info
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.get()  # raises CannotRequestPrivateData (hint: DP or request)
    thread.start()
    trained = model_ptr.get(
        request_block=True, name="mlp", reason="digits classifier", timeout_secs=60
    )
    thread.join()
    dp_history = model_ptr.fit(
        data,
        target,
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.5,
        epochs=5,
        batch_size=64,
        dp=unseen.DPSGD(epsilon=3.0, delta=1e-5, max_grad_norm=1.0),
    )
    trained = model_ptr.get()  # DP-SGD model: released where the owner's policy allows DP
    ana.budget  # noqa: B018              # 3.0 less than before: one ledger for queries and training
    # -- end of the block --

    assert len(history) == 5 and history.losses is None
    assert dp_history.dp is not None and dp_history.dp.epsilon <= 3.0
    assert budget - ana.budget == pytest.approx(dp_history.dp.charged) and ana.budget < budget - 2.9
    assert (trained(X).argmax(1) == y).float().mean().item() > 0.7
    assert [r.mechanism for r in ana.releases][-1] == "dp-sgd"
    rows = [r for r in owner.dp_spend if r.email == "ana@uni.edu"]  # the owner's spend view
    assert [r.dataset for r in rows] == ["Digits"] and rows[0].charged == pytest.approx(
        dp_history.dp.charged
    )
