"""Cross-silo federated learning across three real domain servers (SQLite; API.md section 9
also on PostgreSQL): digits split non-IID (Dirichlet 0.5), FedAvg against centralized
training, the owner's standing approval for N rounds, DP-SGD charged per round on each
domain, bad updates refused and counted, quorum, checkpoint and resume, a domain killed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import unseen

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from silo_support import (  # noqa: E402
    ANA,
    Digits,
    ServerProcess,
    accuracy,
    centralized,
    digits,
    mlp,
    owners_accept,
    populate,
    start_domain,
)

# three domain servers per module and rounds of training on each: `pytest -m slow` (CI runs it);
# API.md section 9's test (test_api_section_9.py) runs cross-silo FL in the quick set
pytestmark = pytest.mark.slow

NAMES = ("May Clinic", "Mercy", "General")


@pytest.fixture(scope="module")
def split() -> Digits:
    return digits(len(NAMES))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, split: Digits) -> Iterator[list[Any]]:
    procs = [start_domain(tmp_path_factory.mktemp("domain") / "data", n) for n in NAMES]
    try:
        for proc, part in zip(procs, split.parts, strict=True):
            populate(proc, split.X[part], split.y[part])
        yield procs
    finally:
        for proc in procs:
            proc.kill()


@pytest.fixture(scope="module")
def ana(servers: list[ServerProcess]) -> Iterator[list[unseen.Client]]:
    clients = [unseen.login(url=s.url, email=ANA[0], password=ANA[1]) for s in servers]
    yield clients
    for client in clients:
        client.close()


def pointers(domains: list[unseen.Client]) -> tuple[list[Any], list[Any]]:
    data = [d.search("#digits", verbose=False)[0] for d in domains]
    target = [d.search("#digits-target", verbose=False)[0] for d in domains]
    return data, target


def standing(server: ServerProcess) -> list[Any]:
    owner = server.login()
    try:
        return [r for r in owner.requests if r.standing is not None]
    finally:
        owner.close()


def test_fedavg_over_three_domains_is_within_three_points_of_centralized(
    servers: list[ServerProcess], ana: list[unseen.Client], split: Digits
) -> None:
    data, target = pointers(ana)
    model = mlp()
    with owners_accept(servers):
        result = unseen.fl.fit(model, data=data, target=target, loss="cross_entropy",
                               optimizer="sgd", lr=0.5, local_epochs=1, batch_size=32,
                               rounds=15, strategy=unseen.fl.FedAvg(fraction=1.0, min_clients=2),
                               evaluate_fn=lambda m: accuracy(m, split.X_test, split.y_test))  # fmt: skip
    federated = accuracy(result.model, split.X_test, split.y_test)
    local = accuracy(centralized(model, split.X, split.y, 15, 0.5, 32), split.X_test, split.y_test)
    assert federated >= local - 0.03, (federated, local)
    history = result.history
    assert len(history) == 15 and history.accuracy[-1] == pytest.approx(federated)
    assert [r.clients for r in history] == [3] * 15 and [r.failed for r in history] == [0] * 15
    # federated loss: the domains' training losses, released with the weights by the approval
    assert all(np.isfinite(history.loss)) and history.loss[-1] < history.loss[0] / 2
    # per round: both ways of every parameter of the model to each domain
    size = sum(p.numel() * 4 for p in model.parameters())
    assert all(r.bytes == 2 * 3 * size for r in history)
    assert all(r.metrics[f"seconds/{n}"] > 0 for r in history for n in NAMES)
    # one request per domain, reviewed once, covering exactly the 15 rounds
    for server in servers:
        (request,) = standing(server)
        assert request.status == "accepted" and request.requester == "Ana"
        assert (request.standing.rounds, request.standing.used) == (15, 15)
        assert request.standing.config_hash == unseen.fl.config_hash(
            model, loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=1, batch_size=32,
            rounds=15,
        )  # fmt: skip


def test_an_approval_covers_n_rounds_then_a_new_request_is_needed(
    servers: list[ServerProcess], ana: list[unseen.Client]
) -> None:
    data, target = pointers(ana)
    before = [len(standing(s)) for s in servers]
    with owners_accept(servers):
        unseen.fl.fit(mlp(), data=data, target=target, lr=0.1, rounds=2, batch_size=64)
    # spent after 2 rounds: the same configuration again waits for a new approval
    with pytest.raises(unseen.fl.RoundFailed, match="not yet approved") as caught:
        unseen.fl.fit(mlp(), data=data, target=target, lr=0.1, rounds=2, batch_size=64,
                      approval_timeout=0.2)  # fmt: skip
    assert "May Clinic" in str(caught.value)
    after = [standing(s) for s in servers]
    assert [len(a) for a in after] == [b + 2 for b in before]
    assert [a[-1].status for a in after] == ["pending"] * 3
    assert [a[-2].standing.used for a in after] == [2] * 3
    # another configuration (here the learning rate) is another request
    with pytest.raises(unseen.fl.RoundFailed):
        unseen.fl.fit(mlp(), data=data, target=target, lr=0.2, rounds=2, batch_size=64,
                      approval_timeout=0.2)  # fmt: skip
    assert [len(standing(s)) for s in servers] == [b + 3 for b in before]


def test_an_approved_fit_runs_only_as_often_as_approved(
    servers: list[ServerProcess], ana: list[unseen.Client]
) -> None:
    """Below fl.fit: the approval releases exactly N fits of its configuration."""
    data, target = pointers(ana)
    domain = ana[0]
    model_ptr = unseen.train.send_module(mlp(), domain)
    with owners_accept(servers[:1]):
        unseen.fl.fit(mlp(), data=data[:1], target=target[:1], lr=0.3, rounds=1,
                      batch_size=64, strategy=unseen.fl.FedAvg(min_clients=1))  # fmt: skip
    (approval,) = [r for r in standing(servers[0]) if r.standing.config["lr"] == 0.3]
    assert approval.standing.used == 1  # spent by that fit: the next one is not covered
    model_ptr.fit(data[0], target[0], lr=0.3, epochs=1, batch_size=64, approval=approval.id)
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.parameters()[0].get()


def test_dp_sgd_rounds_charge_each_domains_ledger_and_file_no_request(
    servers: list[ServerProcess], ana: list[unseen.Client], split: Digits
) -> None:
    data, target = pointers(ana)
    budgets = [d.budget for d in ana]
    requests = [len(standing(s)) for s in servers]
    result = unseen.fl.fit(mlp(), data=data, target=target, lr=0.5, rounds=2, batch_size=64,
                           dp=unseen.DPSGD(epsilon=1.0, delta=1e-5, max_grad_norm=1.0))  # fmt: skip
    spent = [b - d.budget for b, d in zip(budgets, ana, strict=True)]
    # each round a DP-SGD fit of epsilon 1.0 on each domain, charged to Ana there
    assert all(0 < s <= 2.0 + 1e-9 for s in spent), spent
    assert [r.clients for r in result.history] == [3, 3]
    assert [len(standing(s)) for s in servers] == requests
    assert all(np.isnan(r.loss) for r in result.history)  # DP releases weights, not losses


def test_a_bad_update_is_refused_and_counted_never_averaged(
    servers: list[ServerProcess], ana: list[unseen.Client], split: Digits
) -> None:
    """One domain trains on data holding a NaN: its update is refused, the round completes."""
    owner = servers[0].login()
    bad = split.X[split.parts[0]].clone()
    bad[0, 0] = float("nan")
    ds = unseen.Dataset(name="Digits with a NaN", description="", tags=["#digits-bad"])
    ds.add_asset(name="images", data=bad, mock=torch.rand(50, 64), public_rows=len(bad))
    owner.upload_dataset(ds)
    owner.close()
    data, target = pointers(ana)
    data[0] = ana[0].search("#digits-bad", verbose=False)[0]
    with owners_accept(servers):
        result = unseen.fl.fit(mlp(), data=data, target=target, lr=0.5, rounds=2,
                               batch_size=2048, quorum=2)  # fmt: skip
    assert [(r.clients, r.failed) for r in result.history] == [(2, 1), (2, 1)]
    assert all("NaN" in r.failed["May Clinic"] for r in result.rounds)
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    # with the quorum at 3, the round cannot complete: the fit stops, naming why
    with owners_accept(servers), pytest.raises(unseen.fl.RoundFailed, match="NaN"):
        unseen.fl.fit(mlp(), data=data, target=target, lr=0.5, rounds=1, batch_size=2048,
                      quorum=3)  # fmt: skip


def test_misconfiguration_fails_before_round_one(
    servers: list[ServerProcess], ana: list[unseen.Client]
) -> None:
    data, target = pointers(ana)
    requests = [len(standing(s)) for s in servers]
    with pytest.raises(unseen.UsageError, match="quorum=4 is more than the 3 domains"):
        unseen.fl.fit(mlp(), data=data, target=target, quorum=4)
    with pytest.raises(unseen.UsageError, match="min_clients=4"):
        unseen.fl.fit(mlp(), data=data, target=target, strategy=unseen.fl.FedAvg(min_clients=4))
    with pytest.raises(unseen.UsageError, match="one data and one target pointer per domain"):
        unseen.fl.fit(mlp(), data=data, target=target[:2])
    with pytest.raises(unseen.UsageError, match="two of them are on the same one"):
        unseen.fl.fit(mlp(), data=[data[0], data[0]], target=[target[0], target[0]])
    with pytest.raises(unseen.UsageError, match="proximal term"):
        unseen.fl.fit(mlp(), data=data, target=target, strategy=unseen.fl.FedProx(proximal_mu=0.1))
    with pytest.raises(unseen.UsageError, match=r"secure_aggregation=True\) is not available"):
        unseen.fl.fit(mlp(), data=data, target=target, secure_aggregation=True)
    assert [len(standing(s)) for s in servers] == requests  # nothing was filed


class Interrupted(Exception):
    pass


def test_a_killed_orchestrator_resumes_to_the_same_model(
    servers: list[ServerProcess], ana: list[unseen.Client], tmp_path: Path
) -> None:
    data, target = pointers(ana)
    kwargs: dict[str, Any] = dict(data=data, target=target, lr=0.4, rounds=4, batch_size=64,
                                  seed=7)  # fmt: skip

    def momentum() -> Any:  # a fresh one per run: its state is what the checkpoint restores
        return unseen.fl.FedAvgM(server_momentum=0.5)

    def stop_after_two(model: Any) -> float:
        stop_after_two.calls += 1  # type: ignore[attr-defined]
        if stop_after_two.calls == 2:  # type: ignore[attr-defined]
            raise Interrupted
        return 0.0

    stop_after_two.calls = 0  # type: ignore[attr-defined]
    path = tmp_path / "digits-fl.ckpt"
    with owners_accept(servers):
        with pytest.raises(Interrupted):
            unseen.fl.fit(mlp(), checkpoint=path, evaluate_fn=stop_after_two,
                          strategy=momentum(), **kwargs)  # fmt: skip
        assert (tmp_path / "digits-fl.ckpt.safetensors").exists()
        resumed = unseen.fl.fit(mlp(), checkpoint=path, strategy=momentum(), **kwargs)
        whole = unseen.fl.fit(mlp(), strategy=momentum(), **kwargs)
    assert [r.round for r in resumed.history] == [1, 2, 3, 4]  # round 1 from the checkpoint
    assert [r.failed for r in resumed.rounds] == [{}] * 4, resumed.rounds
    assert [r.failed for r in whole.rounds] == [{}] * 4, whole.rounds
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values(),
                    strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a checkpoint of another configuration is refused, not mixed in
    with pytest.raises(unseen.UsageError, match="another fit configuration"):
        unseen.fl.fit(mlp(), checkpoint=path, strategy=momentum(), **{**kwargs, "lr": 0.3})


def test_a_domain_past_the_round_timeout_is_counted_and_stays_out_while_busy(
    servers: list[ServerProcess], ana: list[unseen.Client]
) -> None:
    """General's owner never decides: its thread waits for the approval past the round's
    timeout (counted), and is still busy when the next round starts (counted again)."""
    data, target = pointers(ana)
    with owners_accept(servers[:2]):
        result = unseen.fl.fit(mlp(), data=data, target=target, lr=0.45, rounds=2,
                               batch_size=64, quorum=2, timeout=8.0, approval_timeout=20.0)  # fmt: skip
    assert [(r.clients, r.failed) for r in result.history] == [(2, 1), (2, 1)]
    first, second = result.rounds
    assert first.failed == {"General": "timed out after 8 s"}
    assert second.failed == {"General": "still busy with an earlier round that timed out"}
    assert first.clients == second.clients == ["May Clinic", "Mercy"]


def test_a_domain_killed_mid_run_is_counted_and_the_quorum_completes_the_round(
    servers: list[ServerProcess], ana: list[unseen.Client]
) -> None:
    """Last in this module: it kills a domain."""
    data, target = pointers(ana)

    def kill_after_first(model: Any) -> float:
        if servers[2].proc is not None:
            servers[2].kill()
        return 0.0

    with owners_accept(servers):
        result = unseen.fl.fit(mlp(), data=data, target=target, lr=0.5, rounds=3,
                               batch_size=64, quorum=2, timeout=60,
                               evaluate_fn=kill_after_first)  # fmt: skip
    assert [(r.clients, r.failed) for r in result.history] == [(3, 0), (2, 1), (2, 1)]
    assert result.rounds[1].clients == ["May Clinic", "Mercy"]
    assert "General" in result.rounds[1].failed
