"""simulate() on scikit-learn's digits against centralized training of the same budget; the
partitioners' sizes and skew; determinism; what may cross to a worker process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unseen
from unseen.errors import UsageError
from unseen.fl import IID, Dirichlet, FedAvg, FedProx, Shards, check_plain, simulate

sklearn = pytest.importorskip("sklearn.datasets")


@pytest.fixture(autouse=True)
def one_thread():
    # many tiny client trainings: torch's intra-op threads only contend on a shared 2-core box
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = sklearn.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    return X[train], y[train], X[test], y[test]


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def centralized(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch_size: int) -> torch.nn.Module:  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(epochs):
        for batch in torch.split(torch.randperm(len(X), generator=gen), batch_size):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[batch]), yt[batch]).backward()
            opt.step()
    return model


def accuracy(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def test_fedavg_iid_reaches_centralized_accuracy(digits) -> None:
    X, y, Xt, yt = digits
    rounds, epochs = 10, 5  # each row seen 50 times in both
    result = simulate(mlp(), dataset=(X, y), num_clients=10, partition=IID(0), rounds=rounds,
                      local_epochs=epochs, strategy=FedAvg(), lr=0.1, batch_size=16,
                      test=(Xt, yt), max_workers=1)  # fmt: skip
    fed = accuracy(result.model, Xt, yt)
    central = accuracy(centralized(mlp(), X, y, epochs=rounds * epochs, lr=0.1, batch_size=16), Xt, yt)  # fmt: skip
    assert central > 0.9
    assert fed >= central - 0.03, (fed, central)
    history = result.history
    assert len(history) == rounds and history[-1].accuracy == pytest.approx(fed)
    assert history[-1].loss < history[0].loss and history[-1].clients == 10
    assert history[0].bytes > 0 and history.pandas.index.tolist() == list(range(1, rounds + 1))
    assert "train_loss" in history.pandas.columns


def test_partitions_cover_rows_with_the_right_sizes_and_skew() -> None:
    labels = np.repeat(np.arange(10), 100)
    iid = IID(1).partition(labels, 7)
    assert sorted(len(p) for p in iid) == [142] + [143] * 6
    for parts in (iid, Dirichlet(0.5, seed=2).partition(labels, 10), Shards(2, seed=3).partition(labels, 10)):  # fmt: skip
        assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(labels)))
    assert [p.tolist() for p in Dirichlet(0.5, seed=2).partition(labels, 10)] == [
        p.tolist() for p in Dirichlet(0.5, seed=2).partition(labels, 10)
    ]

    def mean_classes_over_half(parts: list[np.ndarray]) -> float:
        # how many classes make up the largest half of a client's rows
        out = []
        for p in parts:
            counts = np.sort(np.bincount(labels[p], minlength=10))[::-1]
            out.append(int(np.searchsorted(np.cumsum(counts), len(p) / 2)) + 1)
        return float(np.mean(out))

    skewed = Dirichlet(0.1, seed=0).partition(labels, 10)
    assert mean_classes_over_half(skewed) < 2.5 < 4 <= mean_classes_over_half(iid)
    assert min(len(p) for p in skewed) >= 1 and max(len(p) for p in skewed) > 150
    shards = Shards(2, seed=0).partition(labels, 10)
    assert all(len(np.unique(labels[p])) <= 2 for p in shards)
    with pytest.raises(UsageError, match="alpha must be > 0"):
        Dirichlet(0)
    with pytest.raises(UsageError, match="each part needs a row"):
        IID().partition(np.arange(3), 4)


def test_same_seed_same_weights_and_processes_match_in_process(digits) -> None:
    X, y, _, _ = digits
    runs = [simulate(mlp(), dataset=(X[:400], y[:400]), num_clients=4, rounds=2, seed=5,
                     partition=Dirichlet(0.5, seed=5), max_workers=w) for w in (1, 1, 2)]  # fmt: skip
    states = [r.model.state_dict() for r in runs]
    for other in states[1:]:
        for k, v in states[0].items():
            assert torch.equal(v, other[k]), k
    other_seed = simulate(mlp(), dataset=(X[:400], y[:400]), num_clients=4, rounds=2, seed=6, max_workers=1)  # fmt: skip
    assert not torch.equal(other_seed.model.state_dict()["0.weight"], states[0]["0.weight"])


def test_fedprox_pulls_clients_towards_the_global_model(digits) -> None:
    X, y, _, _ = digits
    kw = dict(dataset=(X[:300], y[:300]), num_clients=3, rounds=1, lr=0.5, max_workers=1)
    start = mlp()
    w0 = start.state_dict()["0.weight"].clone()
    plain = simulate(start, strategy=FedAvg(), **kw).model.state_dict()["0.weight"]
    prox = simulate(start, strategy=FedProx(proximal_mu=1.0), **kw).model.state_dict()["0.weight"]
    assert (prox - w0).norm() < (plain - w0).norm()
    assert torch.equal(start.state_dict()["0.weight"], w0)  # the caller's model is not modified


def test_bad_input_fails_before_round_one(digits) -> None:
    X, y, _, _ = digits
    with pytest.raises(UsageError, match="min_clients=5 clients but only 4"):
        simulate(mlp(), dataset=(X, y), num_clients=4, strategy=FedAvg(min_clients=5))
    with pytest.raises(UsageError, match="X has 10 rows and y 9"):
        simulate(mlp(), dataset=(X[:10], y[:9]), num_clients=2)
    with pytest.raises(UsageError, match="backend must be"):
        simulate(mlp(), dataset=(X, y), backend="threads")

    class Custom(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    with pytest.raises(UsageError, match="pass max_workers=1"):
        simulate(Custom(), dataset=(X, y), num_clients=2, max_workers=2)
    result = simulate(Custom(), dataset=(X[:200], y[:200]), num_clients=2, rounds=1, max_workers=1)
    assert len(result.history) == 1


def test_diverging_clients_are_refused_and_counted(digits) -> None:
    X, y, _, _ = digits
    with pytest.raises(UsageError, match="every client failed or was refused.*NaN or inf"):
        simulate(mlp(), dataset=(X[:200], y[:200]), num_clients=2, rounds=1, lr=1e38, max_workers=1)  # fmt: skip


def test_a_failing_client_is_counted_not_fatal(digits) -> None:
    X, y, _, _ = digits
    X, y = X[:300].copy(), y[:300]
    X[IID(0).partition(y, 3)[0]] = np.nan  # client-0's rows only: its update comes back NaN
    result = simulate(mlp(), dataset=(X, y), num_clients=3, partition=IID(0), rounds=2, max_workers=1)  # fmt: skip
    assert [(r.clients, r.failed) for r in result.history] == [(2, 1), (2, 1)]
    assert result.errors == ["client-0: 0.weight: contains NaN or inf"] * 2
    assert all(torch.isfinite(v).all() for v in result.model.state_dict().values())


def test_only_plain_values_cross_processes() -> None:
    check_plain({"client": "c", "weights": b"x", "n": 3, "lr": 0.5, "rows": [1, 2], "mu": None})
    for bad in ({"t": torch.zeros(1)}, {"a": np.zeros(2)}, {"f": print}, {1: "x"}, {"l": [object()]}):  # fmt: skip
        with pytest.raises(UsageError, match="cross processes|is not a str"):
            check_plain(bad)


def test_unseen_fl_is_reachable_lazily() -> None:
    assert unseen.fl.simulate is simulate


@pytest.mark.slow
def test_ray_backend_matches_in_process(digits) -> None:
    pytest.importorskip("ray")
    import ray

    X, y, _, _ = digits
    kw = dict(dataset=(X[:400], y[:400]), num_clients=4, rounds=2, seed=3)
    local = simulate(mlp(), max_workers=1, **kw)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = simulate(mlp(), backend="ray", **kw)
    finally:
        ray.shutdown()
    for k, v in local.model.state_dict().items():
        assert torch.allclose(v, remote.model.state_dict()[k], atol=1e-6), k
