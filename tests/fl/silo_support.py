"""Helpers of the cross-silo tests: three real domain servers, each holding a Dirichlet(0.5)
share of scikit-learn's digits for the scientist Ana, and the centralized oracle."""

from __future__ import annotations

import contextlib
import copy
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import unseen

_SERVER = str(Path(__file__).resolve().parents[1] / "server")
if _SERVER not in sys.path:
    sys.path.insert(0, _SERVER)

from server_support import ServerProcess, fresh_pg_database  # noqa: E402

__all__ = ["ANA", "Digits", "ServerProcess", "accuracy", "centralized", "digits",
           "fresh_pg_database", "mlp", "owners_accept", "populate", "start_domain"]  # fmt: skip

ANA = ("ana@uni.edu", "ana-pw-123")
BUDGET = 50.0


@dataclass
class Digits:
    X: torch.Tensor  # the training rows, split among the domains
    y: torch.Tensor
    X_test: torch.Tensor  # the scientist's own public evaluation rows
    y_test: torch.Tensor
    parts: list[np.ndarray]


def digits(num_domains: int = 3) -> Digits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    X = torch.tensor(bunch.data[order] / 16, dtype=torch.float32)
    y = torch.tensor(bunch.target[order])
    cut = int(0.8 * len(y))
    parts = unseen.fl.Dirichlet(0.5, seed=0).partition(y[:cut].numpy(), num_domains)
    return Digits(X[:cut], y[:cut], X[cut:], y[cut:], parts)


def start_domain(data_dir: Path, name: str, database: str | None = None) -> ServerProcess:
    server = ServerProcess(data_dir, database, name)
    server.start()
    return server


def populate(server: ServerProcess, X: torch.Tensor, y: torch.Tensor) -> None:
    """The owner's side: Ana's account, her share of the digits (images tagged ``#digits``,
    labels ``#digits-target``) and the node's DP delta."""
    owner = server.login()
    owner.dp_settings(delta=1e-5)
    owner.users.create(email=ANA[0], password=ANA[1], name="Ana", role="data_scientist",
                       budget=BUDGET)  # fmt: skip
    images = unseen.Dataset(name="Digits", description="8x8 digits", tags=["#digits"])
    images.add_asset(name="images", data=X, mock=torch.rand(50, 64), public_rows=len(X),
                     bounds=(0.0, 1.0))  # fmt: skip
    owner.upload_dataset(images)
    labels = unseen.Dataset(name="Digit labels", description="0-9", tags=["#digits-target"])
    labels.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)),
                     public_rows=len(y), bounds=(0, 9))  # fmt: skip
    owner.upload_dataset(labels)
    owner.close()


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def accuracy(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def centralized(model: torch.nn.Module, X: Any, y: Any, epochs: int, lr: float, batch: int) -> Any:
    """The oracle: the same model trained by torch on all the rows in one place."""
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=gen).split(batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    return model


@contextlib.contextmanager
def owners_accept(servers: list[ServerProcess]) -> Iterator[list[Any]]:
    """While the block runs, each domain's owner reviews the queue and accepts the pending
    standing approvals of federated fits (and nothing else); yields those accepted."""
    owners = [s.login() for s in servers]
    accepted: list[Any] = []
    stop = threading.Event()

    def review() -> None:
        while not stop.is_set():
            for owner in owners:
                with contextlib.suppress(unseen.UnseenError):  # a domain killed by the test
                    for request in owner.requests:
                        if request.status == "pending" and request.standing is not None:
                            accepted.append(request.accept())
            time.sleep(0.05)

    thread = threading.Thread(target=review, daemon=True)
    thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        thread.join(10)
        for owner in owners:
            owner.close()
