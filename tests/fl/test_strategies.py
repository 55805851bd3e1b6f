"""Each strategy against a hand-computed or closed-form reference on small arrays; the sum path,
state round trips through safetensors + JSON, misconfiguration and bad updates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from unseen.errors import DecodeError, UsageError
from unseen.fl import (
    STRATEGIES,
    ClientUpdate,
    FedAdagrad,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    FedYogi,
    Krum,
    Strategy,
    params_from_safetensors,
    params_to_safetensors,
    validate,
    weighted_sum,
)


def upd(client: str, n: int, **params: list[float]) -> ClientUpdate:
    return ClientUpdate(
        client=client,
        num_examples=n,
        parameters={k: np.asarray(v, np.float64) for k, v in params.items()},
    )


def scalar_round(values: list[float], ns: list[int] | None = None) -> list[ClientUpdate]:
    ns = ns or [1] * len(values)
    return [upd(f"c{i}", n, w=[v]) for i, (v, n) in enumerate(zip(values, ns))]


def test_fedavg_is_the_weighted_mean() -> None:
    current = {"w": np.zeros(2), "b": np.zeros(1, np.float32)}
    updates = [upd("a", 1, w=[1, 2], b=[4]), upd("b", 3, w=[3, 6], b=[0])]
    out = FedAvg().aggregate(1, current, updates)
    np.testing.assert_allclose(out["w"], [2.5, 5.0])
    np.testing.assert_allclose(out["b"], [1.0])
    assert out["b"].dtype == np.float32 and list(out) == ["w", "b"]


def test_fedprox_aggregates_as_fedavg_and_sends_mu() -> None:
    current = {"w": np.zeros(2)}
    updates = [upd("a", 2, w=[1, 1]), upd("b", 2, w=[3, 5])]
    np.testing.assert_allclose(FedProx(proximal_mu=0.1).aggregate(1, current, updates)["w"], [2, 3])
    assert FedProx(proximal_mu=0.1).client_config(3) == {"proximal_mu": 0.1}
    assert FedAvg().client_config(1) == {}


def test_fedavgm_momentum_recursion_by_hand() -> None:
    s = FedAvgM(server_lr=1.0, server_momentum=0.9)
    x1 = s.aggregate(1, {"w": np.array([0.0])}, scalar_round([0.5, 1.5]))  # average 1
    # delta = 0 - 1 = -1, m = -1, x = 0 - (-1) = 1
    np.testing.assert_allclose(x1["w"], [1.0])
    x2 = s.aggregate(2, x1, scalar_round([3.0, 3.0]))
    # delta = 1 - 3 = -2, m = 0.9 * -1 - 2 = -2.9, x = 1 + 2.9
    np.testing.assert_allclose(x2["w"], [3.9])
    s2 = FedAvgM(server_lr=0.5, server_momentum=0.0)
    np.testing.assert_allclose(s2.aggregate(1, {"w": np.array([0.0])}, scalar_round([2.0]))["w"], [1.0])  # fmt: skip


def _fedopt_reference(kind: str, averages: list[float], eta: float, b1: float, b2: float, tau: float) -> list[float]:  # fmt: skip
    """Reddi et al. 2021, Algorithm 2, written out for one scalar."""
    x, m, v = 0.0, 0.0, tau**2
    out = []
    for avg in averages:
        d = avg - x
        m = b1 * m + (1 - b1) * d
        if kind == "adagrad":
            v = v + d * d
        elif kind == "adam":
            v = b2 * v + (1 - b2) * d * d
        else:
            v = v - (1 - b2) * d * d * math.copysign(1.0, v - d * d) if v != d * d else v
        x = x + eta * m / (math.sqrt(v) + tau)
        out.append(x)
    return out


@pytest.mark.parametrize("cls,kind", [(FedAdam, "adam"), (FedYogi, "yogi"), (FedAdagrad, "adagrad")])  # fmt: skip
def test_fedopt_two_rounds_by_the_papers_formulas(cls: type, kind: str) -> None:
    eta, b1, b2, tau = 0.5, 0.9, 0.99, 0.1
    s = cls(eta=eta, beta_1=b1, beta_2=b2, tau=tau)
    x = {"w": np.array([0.0])}
    rounds = [[0.5, 1.5], [-2.0, 0.0]]  # averages 1.0, then -1.0
    expected = _fedopt_reference(kind, [1.0, -1.0], eta, b1, b2, tau)
    for r, values in enumerate(rounds, start=1):
        x = s.aggregate(r, x, scalar_round(values))
        np.testing.assert_allclose(x["w"], [expected[r - 1]], rtol=1e-12)


def test_fedadam_first_round_closed_form() -> None:
    # m = 0.1 d, v = 0.99 tau^2 + 0.01 d^2 with d = 1: x = eta * 0.1 / (sqrt(v) + tau)
    x = FedAdam(eta=0.5, tau=0.1).aggregate(1, {"w": np.array([0.0])}, scalar_round([1.0]))
    v = 0.99 * 0.01 + 0.01
    np.testing.assert_allclose(x["w"], [0.5 * 0.1 / (math.sqrt(v) + 0.1)])
    assert FedAdam(eta_l=0.03).client_config(1) == {"lr": 0.03}


def test_fedmedian_and_trimmed_mean_are_coordinate_wise() -> None:
    current = {"w": np.zeros(2)}
    updates = [upd(f"c{i}", 10 * i + 1, w=v) for i, v in enumerate([[1, 5], [2, -50], [3, 7], [100, 6], [-50, 8]])]  # fmt: skip
    np.testing.assert_allclose(FedMedian().aggregate(1, current, updates)["w"], [2, 6])
    # beta 0.2 of 5 cuts one from each end per coordinate; weights are ignored
    np.testing.assert_allclose(FedTrimmedAvg(beta=0.2).aggregate(1, current, updates)["w"], [2, 6])  # fmt: skip
    np.testing.assert_allclose(FedTrimmedAvg(beta=0.0).aggregate(1, current, updates)["w"], [11.2, -4.8])  # fmt: skip


def test_krum_scores_by_hand_pick_out_the_outlier() -> None:
    values = [0.0, 1.0, 2.5, 3.0, 100.0]
    updates = [upd(f"c{i}", 1, w=[v], b=[0.0]) for i, v in enumerate(values)]
    krum = Krum(num_malicious=1)
    # n - f - 2 = 2 nearest: c0 1 + 6.25, c1 1 + 2.25, c2 2.25 + 0.25, c3 0.25 + 4, c4 97^2 + 97.5^2
    np.testing.assert_allclose(krum.scores(updates), [7.25, 3.25, 2.5, 4.25, 97**2 + 97.5**2])
    current = {"w": np.zeros(1), "b": np.zeros(1)}
    np.testing.assert_allclose(krum.aggregate(1, current, updates)["w"], [2.5])
    multi = Krum(num_malicious=1, num_to_keep=3)
    np.testing.assert_allclose(multi.aggregate(1, current, updates)["w"], [(2.5 + 1 + 3) / 3])


SUM_BASED = [FedAvg, FedAvgM, FedProx, FedAdam, FedYogi, FedAdagrad]
ROBUST = [FedMedian, FedTrimmedAvg, Krum]


def _random_round(rng: np.random.Generator, n: int = 4) -> tuple[dict[str, np.ndarray], list[ClientUpdate]]:  # fmt: skip
    current = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    updates = [
        ClientUpdate(
            client=f"c{i}",
            num_examples=int(rng.integers(1, 50)),
            parameters={k: v + rng.normal(scale=0.1, size=v.shape) for k, v in current.items()},
        )  # fmt: skip
        for i in range(n)
    ]
    return current, updates


@pytest.mark.parametrize("cls", SUM_BASED)
def test_aggregate_sum_equals_aggregate(cls: type[Strategy]) -> None:
    rng = np.random.default_rng(3)
    a, b = cls(), cls()
    assert a.sum_based
    current = None
    for r in (1, 2):
        cur, updates = _random_round(rng)
        current = current or cur
        out_a = a.aggregate(r, current, updates)
        total_sum, total = weighted_sum(updates)
        out_b = b.aggregate_sum(r, current, total_sum, total)
        for k in current:
            np.testing.assert_allclose(out_a[k], out_b[k], rtol=1e-12, atol=1e-12)
        current = out_a


@pytest.mark.parametrize("cls", ROBUST)
def test_robust_strategies_refuse_the_sum(cls: type[Strategy]) -> None:
    rng = np.random.default_rng(4)
    current, updates = _random_round(rng)
    total_sum, total = weighted_sum(updates)
    strategy = cls()
    assert not strategy.sum_based
    with pytest.raises(UsageError, match="needs each update: use standing approval or DP"):
        strategy.aggregate_sum(1, current, total_sum, total)


@pytest.mark.parametrize("cls", SUM_BASED + ROBUST)
def test_state_round_trip_gives_the_same_next_round(cls: type[Strategy]) -> None:
    rng = np.random.default_rng(5)
    current, first = _random_round(rng, n=5)
    _, second = _random_round(rng, n=5)
    original = cls()
    x1 = original.aggregate(1, current, first)
    arrays, meta = original.state_dict()
    blob, text = params_to_safetensors(arrays), json.dumps(meta)
    restored = STRATEGIES[json.loads(text)["strategy"]]()
    loaded, _ = params_from_safetensors(blob)
    restored.load_state_dict(loaded, json.loads(text))
    expected, got = original.aggregate(2, x1, second), restored.aggregate(2, x1, second)
    for k, v in expected.items():
        np.testing.assert_array_equal(got[k], v)
    assert bool(arrays) == (cls in (FedAvgM, FedAdam, FedYogi, FedAdagrad))


def test_stateful_state_matters_after_round_trip() -> None:
    rng = np.random.default_rng(6)
    current, first = _random_round(rng)
    _, second = _random_round(rng)
    s = FedAdam(eta=0.1)
    x1 = s.aggregate(1, current, first)
    arrays, meta = s.state_dict()
    restored = FedAdam(eta=0.1)
    restored.load_state_dict(params_from_safetensors(params_to_safetensors(arrays))[0], meta)
    fresh = FedAdam(eta=0.1).aggregate(2, x1, second)
    again = restored.aggregate(2, x1, second)
    assert not np.allclose(fresh["w"], again["w"])
    with pytest.raises(UsageError, match="belongs to 'FedAdam'"):
        FedYogi().load_state_dict(arrays, meta)


def test_safetensors_bytes_are_checked() -> None:
    params = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    blob = params_to_safetensors(params, {"round": "3"})
    back, meta = params_from_safetensors(blob)
    assert meta == {"round": "3"} and list(back) == ["a", "b"]
    for k in params:
        np.testing.assert_array_equal(back[k], params[k])
        assert back[k].dtype == params[k].dtype
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + header_len])
    assert (header["a"]["dtype"], header["a"]["shape"]) == ("F32", [2, 3])
    from safetensors.numpy import load  # the format's own reader is the oracle

    np.testing.assert_array_equal(load(blob)["b"], params["b"])
    for bad in (blob[:5], blob[:-4], b"\xff" * 8 + blob[8:], blob[:8] + b"[" + blob[9:]):
        with pytest.raises(DecodeError):
            params_from_safetensors(bad)


def test_check_refuses_more_min_clients_than_clients() -> None:
    FedAvg(min_clients=3).check(3)
    with pytest.raises(UsageError, match="min_clients=4 clients but only 3"):
        FedAvg(min_clients=4).check(3)
    with pytest.raises(UsageError, match="at least 5 clients"):
        Krum(num_malicious=1).check(4)
    Krum(num_malicious=1).check(5)
    for bad in (dict(fraction=0.0), dict(fraction=1.5), dict(min_clients=0)):
        with pytest.raises(UsageError):
            FedAvg(**bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="beta must be in"):
        FedTrimmedAvg(beta=0.5)
    with pytest.raises(UsageError, match="beta_2 must be in"):
        FedAdam(beta_2=1.0)


def test_sample_takes_the_fraction_at_least_min_clients() -> None:
    clients = [f"d{i}" for i in range(10)]
    s = FedAvg(fraction=0.3, min_clients=2)
    picked = s.sample(1, clients, np.random.default_rng(0))
    assert len(picked) == 3 and set(picked) <= set(clients) and picked == sorted(picked, key=clients.index)  # fmt: skip
    assert picked == s.sample(1, clients, np.random.default_rng(0))
    assert len(FedAvg(fraction=0.1, min_clients=4).sample(1, clients, np.random.default_rng(0))) == 4  # fmt: skip
    assert FedAvg().sample(1, clients, np.random.default_rng(0)) == clients
    with pytest.raises(UsageError, match="needs min_clients=2"):
        FedAvg().sample(1, ["only"], np.random.default_rng(0))


def test_validate_refuses_and_counts_bad_updates() -> None:
    current = {"w": np.zeros((2, 2)), "b": np.zeros(2)}
    good = ClientUpdate(client="ok", num_examples=3, parameters={"w": np.ones((2, 2)), "b": np.ones(2)}, round=2)  # fmt: skip
    nan_w = np.ones((2, 2))
    nan_w[0, 1] = np.nan
    bad = [
        ClientUpdate(
            client="shape", num_examples=3, parameters={"w": np.ones((2, 3)), "b": np.ones(2)}
        ),  # fmt: skip
        ClientUpdate(client="nan", num_examples=3, parameters={"w": nan_w, "b": np.ones(2)}),
        ClientUpdate(
            client="inf",
            num_examples=3,
            parameters={"w": np.ones((2, 2)), "b": np.array([1, np.inf])},
        ),  # fmt: skip
        ClientUpdate(client="missing", num_examples=3, parameters={"w": np.ones((2, 2))}),
        ClientUpdate(
            client="zero", num_examples=0, parameters={"w": np.ones((2, 2)), "b": np.ones(2)}
        ),  # fmt: skip
        ClientUpdate(
            client="stale",
            num_examples=3,
            parameters={"w": np.ones((2, 2)), "b": np.ones(2)},
            round=1,
        ),  # fmt: skip
        ClientUpdate(
            client="ok", num_examples=3, parameters={"w": np.ones((2, 2)), "b": np.ones(2)}
        ),  # fmt: skip
    ]
    kept, refused = validate(current, [good, *bad], round=2)
    assert kept == [good]
    reasons = {r.client: r.reason for r in refused}
    assert len(refused) == 7
    assert "shape (2, 3)" in reasons["shape"]
    assert "NaN or inf" in reasons["nan"] and "NaN or inf" in reasons["inf"]
    assert "missing ['b']" in reasons["missing"]
    assert "positive integer" in reasons["zero"]
    assert "stale update: trained for round 1" in reasons["stale"]
    assert "second update" in reasons["ok"]
    for cls in SUM_BASED + ROBUST:
        with pytest.raises(UsageError, match="invalid update"):
            cls().aggregate(2, current, [good, bad[1], good])
        with pytest.raises(UsageError, match="no updates"):
            cls().aggregate(2, current, [])
