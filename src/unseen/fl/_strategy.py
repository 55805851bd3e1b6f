"""Federated strategies: client sampling, then one aggregate of the round's updates.

A :class:`Strategy` picks the round's clients (:meth:`Strategy.sample`), tells them how to
train (:meth:`Strategy.client_config`) and turns their updates into the next global model
(:meth:`Strategy.aggregate`). Sum-based strategies (FedAvg and the server optimizers built on
it) also aggregate from the weighted sum alone (:meth:`Strategy.aggregate_sum`), which is all
that secure aggregation opens; robust ones (median, trimmed mean, Krum) need each update.
:func:`validate` refuses updates with wrong names or shapes, NaN or inf, a bad example count
or a stale round, with a reason for each, before anything is averaged.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unseen.errors import UsageError

Params = dict[str, np.ndarray]


@dataclass(frozen=True, kw_only=True)
class ClientUpdate:
    """One client's weights after local training, and the public count that weights them."""

    client: str
    parameters: Params
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    #: the round the client trained for; None when the orchestrator does not track it
    round: int | None = None


@dataclass(frozen=True)
class Refused:
    """An update that :func:`validate` kept out of the aggregate, and why (no values inside)."""

    client: str
    reason: str


def validate(
    current: Params, updates: list[ClientUpdate], round: int | None = None
) -> tuple[list[ClientUpdate], list[Refused]]:
    """Split ``updates`` into those fit to aggregate and those refused, with a reason each.

    Refused: names that differ from ``current``'s, a shape that differs, a NaN or inf, a
    non-positive or non-integer ``num_examples``, an update for another round than ``round``
    (when both are known), or a second update from the same client.
    """
    good: list[ClientUpdate] = []
    refused: list[Refused] = []
    seen: set[str] = set()
    for update in updates:
        reason = _problem(current, update, round)
        if reason is None and update.client in seen:
            reason = "sent a second update in the same round"
        if reason is None:
            good.append(update)
            seen.add(update.client)
        else:
            refused.append(Refused(update.client, reason))
    return good, refused


def _problem(current: Params, update: ClientUpdate, round: int | None) -> str | None:
    n = update.num_examples
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        return f"num_examples must be a positive integer, got {n!r}"
    if round is not None and update.round is not None and update.round != round:
        return f"stale update: trained for round {update.round}, this is round {round}"
    params = update.parameters
    if not isinstance(params, dict):
        return f"parameters must be a dict of arrays, got {type(params).__name__}"
    if list(params) != list(current):
        missing = [k for k in current if k not in params]
        extra = [k for k in params if k not in current]
        if missing or extra:
            return f"parameter names differ: missing {missing[:5]}, unexpected {extra[:5]}"
        return "parameter names are in another order than the model's"
    for name, ref in current.items():
        value = params[name]
        if not isinstance(value, np.ndarray):
            return f"{name}: expected a numpy array, got {type(value).__name__}"
        if value.shape != ref.shape:
            return f"{name}: shape {value.shape} where the model has {ref.shape}"
        if value.dtype.kind not in "fiub":
            return f"{name}: dtype {value.dtype} is not numeric"
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return f"{name}: contains NaN or inf"
    return None


def _require_valid(current: Params, updates: list[ClientUpdate], who: str) -> None:
    if not updates:
        raise UsageError(f"{who}.aggregate got no updates: a round needs at least one")
    _, refused = validate(current, updates)
    if refused:
        first = refused[0]
        raise UsageError(
            f"{who}.aggregate got {len(refused)} invalid update(s), first from {first.client!r}: "
            f"{first.reason}; filter with unseen.fl.validate() before aggregating"
        )


def _cast(values: dict[str, np.ndarray], like: Params) -> Params:
    out: Params = {}
    for name, ref in like.items():
        v = values[name]
        if ref.dtype.kind in "iub":
            v = np.rint(v)
        out[name] = np.asarray(v).astype(ref.dtype, copy=False).reshape(ref.shape)
    return out


def weighted_sum(updates: list[ClientUpdate]) -> tuple[Params, int]:
    """``sum(n_i * p_i)`` in float64 and ``sum(n_i)``: what secure aggregation opens."""
    total = sum(int(u.num_examples) for u in updates)
    names = list(updates[0].parameters)
    acc = {k: np.zeros(updates[0].parameters[k].shape, np.float64) for k in names}
    for u in updates:
        for k in names:
            acc[k] += float(u.num_examples) * u.parameters[k].astype(np.float64)
    return acc, total


def _positive(name: str, value: float, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (strict and value == 0):
        raise UsageError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value!r}")
    return float(value)


class Strategy(ABC):
    """Client sampling and aggregation of one federated round (see the module docstring)."""

    #: True when aggregate() depends on the updates only through their weighted sum
    sum_based: bool = True

    def __init__(self, *, fraction: float = 1.0, min_clients: int = 2) -> None:
        if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
            raise UsageError(f"fraction must be in (0, 1], got {fraction!r}")
        if isinstance(min_clients, bool) or not isinstance(min_clients, int) or min_clients < 1:
            raise UsageError(f"min_clients must be an integer >= 1, got {min_clients!r}")
        self.fraction = float(fraction)
        self.min_clients = min_clients

    @property
    def name(self) -> str:
        return type(self).__name__

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (JSON-able), for reprs and checkpoints."""
        return {"fraction": self.fraction, "min_clients": self.min_clients}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{self.name}({args})"

    def check(self, num_clients: int) -> None:
        """Fail before round 1 when this strategy cannot run over ``num_clients`` clients."""
        if self.min_clients > num_clients:
            raise UsageError(
                f"{self.name} needs min_clients={self.min_clients} clients but only "
                f"{num_clients} are given: lower min_clients or add clients"
            )

    def num_sampled(self, num_available: int) -> int:
        return min(num_available, max(self.min_clients, math.ceil(self.fraction * num_available)))

    def sample(self, round: int, clients: list[str], rng: np.random.Generator) -> list[str]:
        """``ceil(fraction * n)`` clients, at least ``min_clients``, in the order given."""
        if len(clients) < self.min_clients:
            raise UsageError(
                f"round {round}: {len(clients)} client(s) available, {self.name} needs "
                f"min_clients={self.min_clients}"
            )
        k = self.num_sampled(len(clients))
        if k == len(clients):
            return list(clients)
        chosen = sorted(rng.choice(len(clients), size=k, replace=False).tolist())
        return [clients[i] for i in chosen]

    def client_config(self, round: int) -> dict[str, float]:
        """Settings for the clients' local training this round (empty: the caller's own)."""
        return {}

    @abstractmethod
    def aggregate(self, round: int, current: Params, updates: list[ClientUpdate]) -> Params:
        """The next global parameters from ``current`` and the round's (valid) updates."""

    def aggregate_sum(
        self, round: int, current: Params, weighted_sum: Params, total_examples: int
    ) -> Params:
        """The same as :meth:`aggregate` from ``sum(n_i * p_i)`` and ``sum(n_i)`` alone."""
        raise UsageError(
            f"{self.name} needs each update: use standing approval or DP, not secure aggregation"
        )

    def state_dict(self) -> tuple[Params, dict[str, Any]]:
        """Arrays (for safetensors) and JSON-able metadata that restore this strategy."""
        return {}, {"strategy": self.name, "config": self.config()}

    def load_state_dict(self, arrays: Params, meta: dict[str, Any]) -> None:
        if meta.get("strategy") != self.name:
            raise UsageError(
                f"this state belongs to {meta.get('strategy')!r}, not {self.name}: "
                "load it into the same strategy it came from"
            )


class FedAvg(Strategy):
    """McMahan et al. 2017: the average of the clients' parameters weighted by their examples."""

    def aggregate(self, round: int, current: Params, updates: list[ClientUpdate]) -> Params:
        _require_valid(current, updates, self.name)
        total_sum, total = weighted_sum(updates)
        return self.aggregate_sum(round, current, total_sum, total)

    def aggregate_sum(
        self, round: int, current: Params, weighted_sum: Params, total_examples: int
    ) -> Params:
        if total_examples <= 0:
            raise UsageError(f"total_examples must be > 0, got {total_examples}")
        if list(weighted_sum) != list(current):
            raise UsageError("weighted_sum's parameter names differ from the model's")
        average = {k: np.asarray(v, np.float64) / total_examples for k, v in weighted_sum.items()}
        return _cast(self._server_step(round, current, average), current)

    def _server_step(self, round: int, current: Params, average: Params) -> Params:
        return average


class FedProx(FedAvg):
    """Li et al. 2020: FedAvg's aggregate; clients add ``mu/2 * ||w - w_global||^2`` to the loss."""

    def __init__(self, *, proximal_mu: float = 0.01, fraction: float = 1.0, min_clients: int = 2) -> None:  # fmt: skip
        super().__init__(fraction=fraction, min_clients=min_clients)
        self.proximal_mu = _positive("proximal_mu", proximal_mu, strict=False)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "proximal_mu": self.proximal_mu}

    def client_config(self, round: int) -> dict[str, float]:
        return {"proximal_mu": self.proximal_mu}


class _Stateful(FedAvg):
    """A server optimizer on the pseudo-gradient ``average - current``: state is arrays."""

    _slots: tuple[str, ...] = ()

    def __init__(self, *, fraction: float, min_clients: int) -> None:
        super().__init__(fraction=fraction, min_clients=min_clients)
        self._state: dict[str, Params] = {}

    def state_dict(self) -> tuple[Params, dict[str, Any]]:
        arrays = {f"{slot}/{k}": v.copy() for slot, p in self._state.items() for k, v in p.items()}
        _, meta = super().state_dict()
        return arrays, {**meta, "slots": sorted(self._state)}

    def load_state_dict(self, arrays: Params, meta: dict[str, Any]) -> None:
        super().load_state_dict(arrays, meta)
        state: dict[str, Params] = {}
        for slot in meta.get("slots", []):
            if slot not in self._slots:
                raise UsageError(f"{self.name} has no state {slot!r}")
            prefix = slot + "/"
            state[slot] = {
                k[len(prefix) :]: np.array(v, np.float64)
                for k, v in arrays.items()
                if k.startswith(prefix)
            }
        self._state = state


class FedAvgM(_Stateful):
    """Hsu et al. 2019: server momentum on ``delta = current - average``.

    ``m = server_momentum * m + delta`` (``m = delta`` the first round), then
    ``new = current - server_lr * m``.
    """

    _slots = ("momentum",)

    def __init__(self, *, server_lr: float = 1.0, server_momentum: float = 0.9, fraction: float = 1.0, min_clients: int = 2) -> None:  # fmt: skip
        super().__init__(fraction=fraction, min_clients=min_clients)
        self.server_lr = _positive("server_lr", server_lr)
        self.server_momentum = _positive("server_momentum", server_momentum, strict=False)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "server_lr": self.server_lr, "server_momentum": self.server_momentum}  # fmt: skip

    def _server_step(self, round: int, current: Params, average: Params) -> Params:
        delta = {k: current[k].astype(np.float64) - average[k] for k in current}
        if self.server_momentum > 0:
            previous = self._state.get("momentum")
            if previous is None:
                momentum = delta
            else:
                momentum = {k: self.server_momentum * previous[k] + delta[k] for k in delta}
            self._state["momentum"] = momentum
            delta = momentum
        return {k: current[k].astype(np.float64) - self.server_lr * delta[k] for k in current}


class _FedOpt(_Stateful):
    """Reddi et al. 2021, Algorithm 2: ``delta = average - current``,
    ``m = beta_1 * m + (1 - beta_1) * delta``, ``v`` per optimizer (``v_{-1} = tau**2``),
    ``new = current + eta * m / (sqrt(v) + tau)``. ``eta_l``, when given, is the clients'
    learning rate (sent in :meth:`client_config` as ``lr``)."""

    _slots = ("m", "v")

    def __init__(self, *, eta: float = 1e-2, eta_l: float | None = None, beta_1: float = 0.9, beta_2: float = 0.99, tau: float = 1e-9, fraction: float = 1.0, min_clients: int = 2) -> None:  # fmt: skip
        super().__init__(fraction=fraction, min_clients=min_clients)
        self.eta = _positive("eta", eta)
        self.eta_l = None if eta_l is None else _positive("eta_l", eta_l)
        self.tau = _positive("tau", tau)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if _positive(name, beta, strict=False) >= 1:
                raise UsageError(f"{name} must be in [0, 1), got {beta!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "eta": self.eta, "eta_l": self.eta_l, "beta_1": self.beta_1, "beta_2": self.beta_2, "tau": self.tau}  # fmt: skip

    def client_config(self, round: int) -> dict[str, float]:
        return {} if self.eta_l is None else {"lr": self.eta_l}

    @abstractmethod
    def _second_moment(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray: ...

    def _server_step(self, round: int, current: Params, average: Params) -> Params:
        m_old = self._state.get("m") or {k: np.zeros(v.shape) for k, v in current.items()}
        v_old = self._state.get("v") or {k: np.full(v.shape, self.tau**2) for k, v in current.items()}  # fmt: skip
        m: Params = {}
        v: Params = {}
        new: Params = {}
        for k in current:
            x = current[k].astype(np.float64)
            delta = average[k] - x
            m[k] = self.beta_1 * m_old[k] + (1 - self.beta_1) * delta
            v[k] = self._second_moment(v_old[k], delta)
            new[k] = x + self.eta * m[k] / (np.sqrt(v[k]) + self.tau)
        self._state = {"m": m, "v": v}
        return new


class FedAdagrad(_FedOpt):
    """Reddi et al. 2021: ``v = v + delta**2``."""

    def _second_moment(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray:
        return v + delta**2


class FedAdam(_FedOpt):
    """Reddi et al. 2021: ``v = beta_2 * v + (1 - beta_2) * delta**2``."""

    def _second_moment(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray:
        return self.beta_2 * v + (1 - self.beta_2) * delta**2


class FedYogi(_FedOpt):
    """Reddi et al. 2021: ``v = v - (1 - beta_2) * delta**2 * sign(v - delta**2)``."""

    def _second_moment(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray:
        d2 = delta**2
        return v - (1 - self.beta_2) * d2 * np.sign(v - d2)


class _Robust(Strategy):
    sum_based = False

    def _stack(self, name: str, updates: list[ClientUpdate]) -> np.ndarray:
        return np.stack([u.parameters[name].astype(np.float64) for u in updates])


class FedMedian(_Robust):
    """Yin et al. 2018: the coordinate-wise median of the updates (unweighted)."""

    def aggregate(self, round: int, current: Params, updates: list[ClientUpdate]) -> Params:
        _require_valid(current, updates, self.name)
        return _cast({k: np.median(self._stack(k, updates), axis=0) for k in current}, current)


class FedTrimmedAvg(_Robust):
    """Yin et al. 2018: per coordinate, drop the ``int(beta * n)`` largest and smallest values
    and average the rest (unweighted)."""

    def __init__(self, *, beta: float = 0.2, fraction: float = 1.0, min_clients: int = 2) -> None:
        super().__init__(fraction=fraction, min_clients=min_clients)
        if _positive("beta", beta, strict=False) >= 0.5:
            raise UsageError(f"beta must be in [0, 0.5), got {beta!r}")
        self.beta = float(beta)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "beta": self.beta}

    def aggregate(self, round: int, current: Params, updates: list[ClientUpdate]) -> Params:
        _require_valid(current, updates, self.name)
        cut = int(self.beta * len(updates))
        out = {}
        for k in current:
            s = np.sort(self._stack(k, updates), axis=0)
            out[k] = s[cut : len(updates) - cut].mean(axis=0)
        return _cast(out, current)


class Krum(_Robust):
    """Blanchard et al. 2017. Each update's score is the sum of squared distances to its
    ``n - num_malicious - 2`` nearest others (at least 1); Krum keeps the lowest-scored update,
    Multi-Krum (``num_to_keep > 1``) the weighted average of the ``num_to_keep`` lowest."""

    def __init__(self, *, num_malicious: int = 0, num_to_keep: int = 1, fraction: float = 1.0, min_clients: int = 2) -> None:  # fmt: skip
        super().__init__(fraction=fraction, min_clients=min_clients)
        for name, value, low in (("num_malicious", num_malicious, 0), ("num_to_keep", num_to_keep, 1)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
        self.num_malicious = num_malicious
        self.num_to_keep = num_to_keep

    def config(self) -> dict[str, Any]:
        return {**super().config(), "num_malicious": self.num_malicious, "num_to_keep": self.num_to_keep}  # fmt: skip

    def check(self, num_clients: int) -> None:
        super().check(num_clients)
        needed = max(2 * self.num_malicious + 3, self.num_to_keep + self.num_malicious)
        if num_clients < needed:
            raise UsageError(
                f"Krum(num_malicious={self.num_malicious}, num_to_keep={self.num_to_keep}) needs "
                f"at least {needed} clients (n >= 2f + 3 and n >= num_to_keep + f), got {num_clients}"
            )

    def scores(self, updates: list[ClientUpdate]) -> np.ndarray:
        """Each update's Krum score (lower is more central)."""
        flat = np.stack(
            [
                np.concatenate([p.astype(np.float64).ravel() for p in u.parameters.values()])
                for u in updates
            ]  # fmt: skip
        )
        n = len(updates)
        dist = np.stack([((flat - flat[i]) ** 2).sum(axis=1) for i in range(n)])
        closest = max(1, n - self.num_malicious - 2)
        out = np.empty(n)
        for i in range(n):
            others = np.delete(dist[i], i)
            out[i] = np.sort(others)[:closest].sum()
        return out

    def aggregate(self, round: int, current: Params, updates: list[ClientUpdate]) -> Params:
        _require_valid(current, updates, self.name)
        if len(updates) < 2:
            return _cast({k: v.astype(np.float64) for k, v in updates[0].parameters.items()}, current)  # fmt: skip
        keep = np.argsort(self.scores(updates), kind="stable")[: self.num_to_keep]
        chosen = [updates[i] for i in keep]
        total_sum, total = weighted_sum(chosen)
        return _cast({k: v / total for k, v in total_sum.items()}, current)


#: every strategy by name, for checkpoints
STRATEGIES: dict[str, type[Strategy]] = {
    cls.__name__: cls
    for cls in (
        FedAvg,
        FedAvgM,
        FedProx,
        FedAdam,
        FedYogi,
        FedAdagrad,
        FedMedian,
        FedTrimmedAvg,
        Krum,
    )
}
