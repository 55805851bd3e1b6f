"""Splitting a labelled dataset's rows among simulated clients: IID, Dirichlet label skew and
label shards. Each partitioner returns one array of row indices per client, disjoint, covering
every row, and the same for the same seed."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from unseen.errors import UsageError


def _check(labels: np.ndarray, num_clients: int, parts: int | None = None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise UsageError(f"labels must be one-dimensional, got shape {labels.shape}")
    if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
        raise UsageError(f"num_clients must be an integer >= 1, got {num_clients!r}")
    if (parts or num_clients) > len(labels):
        raise UsageError(f"{parts or num_clients} parts for {len(labels)} rows: each part needs a row, use fewer clients")  # fmt: skip
    return labels


class Partitioner(ABC):
    """``partition(labels, num_clients)`` -> one sorted array of row indices per client."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @abstractmethod
    def partition(self, labels: np.ndarray, num_clients: int) -> list[np.ndarray]: ...


class IID(Partitioner):
    """A random permutation cut into ``num_clients`` nearly equal parts."""

    def __repr__(self) -> str:
        return f"IID(seed={self.seed})"

    def partition(self, labels: np.ndarray, num_clients: int) -> list[np.ndarray]:
        labels = _check(labels, num_clients)
        order = np.random.default_rng(self.seed).permutation(len(labels))
        return [np.sort(part) for part in np.array_split(order, num_clients)]


class Dirichlet(Partitioner):
    """Hsu et al. 2019: for each class, client shares drawn from ``Dir(alpha)``; small alpha,
    strong label skew. Draws again (up to 100 times) until every client has ``min_size`` rows."""

    def __init__(self, alpha: float, seed: int = 0, min_size: int = 1) -> None:
        super().__init__(seed)
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha > 0:
            raise UsageError(f"Dirichlet alpha must be > 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.min_size = min_size

    def __repr__(self) -> str:
        return f"Dirichlet(alpha={self.alpha}, seed={self.seed})"

    def partition(self, labels: np.ndarray, num_clients: int) -> list[np.ndarray]:
        labels = _check(labels, num_clients)
        if self.min_size * num_clients > len(labels):
            raise UsageError(f"{len(labels)} rows cannot give {num_clients} clients {self.min_size} each")  # fmt: skip
        rng = np.random.default_rng(self.seed)
        for _ in range(100):
            parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
            for cls in np.unique(labels):
                rows = rng.permutation(np.flatnonzero(labels == cls))
                shares = rng.dirichlet(np.full(num_clients, self.alpha))
                cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
                for client, chunk in enumerate(np.split(rows, cuts)):
                    parts[client].append(chunk)
            out = [np.sort(np.concatenate(p)) for p in parts]
            if min(len(p) for p in out) >= self.min_size:
                return out
        raise UsageError(
            f"Dirichlet(alpha={self.alpha}) left a client with fewer than {self.min_size} rows "
            "in 100 draws: raise alpha or use fewer clients"
        )


class Shards(Partitioner):
    """McMahan et al. 2017: rows sorted by label, cut into ``per_client * num_clients`` shards,
    each client given ``per_client`` random shards (so a few classes each)."""

    def __init__(self, per_client: int = 2, seed: int = 0) -> None:
        super().__init__(seed)
        if isinstance(per_client, bool) or not isinstance(per_client, int) or per_client < 1:
            raise UsageError(f"per_client must be an integer >= 1, got {per_client!r}")
        self.per_client = per_client

    def __repr__(self) -> str:
        return f"Shards(per_client={self.per_client}, seed={self.seed})"

    def partition(self, labels: np.ndarray, num_clients: int) -> list[np.ndarray]:
        labels = _check(labels, num_clients, num_clients * self.per_client)
        rng = np.random.default_rng(self.seed)
        order = np.argsort(labels, kind="stable")
        shards = np.array_split(order, num_clients * self.per_client)
        pick = rng.permutation(len(shards)).reshape(num_clients, self.per_client)
        return [np.sort(np.concatenate([shards[i] for i in row])) for row in pick]
