"""DP-SGD fits: as accurate as Opacus run locally, charged what the accountant says for the
public parameters, in the same ledger as DP queries, refused before training when the budget
or the data's declarations do not allow it, and released without the owner's approval."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from train_support import mlp

import unseen
from unseen import dp

EPS, DELTA, EPOCHS, BATCH, LR = 3.0, 1e-5, 5, 64, 0.5


def hospital(hook: Any, X: Any, y: Any, *, budget: float = 10.0, **declared: Any) -> Any:
    worker = unseen.VirtualWorker(hook, id="May Clinic")
    ds = unseen.Dataset(name="Digits", description="8x8 digits", tags=["#digits"])
    rows = declared.pop("public_rows", len(X))
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64), public_rows=rows,
                 bounds=(0.0, 1.0), **declared)  # fmt: skip
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)), public_rows=rows,
                 bounds=(0, 9))  # fmt: skip
    worker.upload_dataset(ds)
    worker.dp_settings(delta=DELTA)
    ana = worker.new_client("Ana")
    worker.users.update(ana.user_id, budget=budget)
    return worker, ana


def accuracy(model: torch.nn.Module, X: Any, y: Any) -> float:
    return float((model(X).argmax(1) == y).float().mean())


def opacus_locally(X: Any, y: Any) -> float:
    """The oracle: Opacus' own PrivacyEngine with the same settings, on the same model."""
    import warnings

    from opacus import PrivacyEngine

    model = mlp()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant="rdp")
        module, optimizer, loader = engine.make_private_with_epsilon(
            module=model, optimizer=torch.optim.SGD(model.parameters(), lr=LR),
            data_loader=loader, target_epsilon=EPS, target_delta=DELTA, epochs=EPOCHS,
            max_grad_norm=1.0,
        )  # fmt: skip
        for _ in range(EPOCHS):
            for xb, yb in loader:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(module(xb), yb).backward()
                optimizer.step()
    return accuracy(model, X, y)


def test_dpsgd_is_as_accurate_as_opacus_locally_and_released(hook: Any, digits: Any) -> None:
    X, y = digits
    _, ana = hospital(hook, X, y)
    images, labels = ana.search("#digits", verbose=False)
    model_ptr = mlp().send(ana)
    history = model_ptr.fit(images, labels, loss="cross_entropy", optimizer="sgd", lr=LR,
                            epochs=EPOCHS, batch_size=BATCH,
                            dp=unseen.DPSGD(epsilon=EPS, delta=DELTA, max_grad_norm=1.0))  # fmt: skip
    trained = model_ptr.get()  # released: no request, no owner
    remote, local = accuracy(trained, X, y), opacus_locally(X, y)
    assert remote > 0.7 and abs(remote - local) < 0.08, (remote, local)
    # the history holds public information only: epochs and steps, no training loss
    assert history.losses is None and all(e.loss is None for e in history)
    assert [e.steps for e in history] == [int(len(X) / BATCH)] * EPOCHS


def test_the_charge_is_the_accountants_epsilon_in_the_query_ledger(hook: Any, digits: Any) -> None:
    from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent, SelfComposedDpEvent
    from dp_accounting.rdp import RdpAccountant
    from opacus.accountants.utils import get_noise_multiplier

    X, y = digits
    _, ana = hospital(hook, X, y)
    images, labels = ana.search("#digits", verbose=False)
    (labels > 4).sum().get(epsilon=0.5)  # a DP query first: one ledger for both
    before = ana.budget
    model_ptr = mlp().send(ana)
    history = model_ptr.fit(images, labels, lr=LR, epochs=EPOCHS, batch_size=BATCH,
                            dp=unseen.DPSGD(epsilon=EPS, delta=DELTA))  # fmt: skip
    q, steps = BATCH / len(X), EPOCHS * int(len(X) / BATCH)  # public row count: 1797
    sigma = get_noise_multiplier(target_epsilon=EPS, target_delta=DELTA, sample_rate=q,
                                 steps=steps, accountant="rdp")  # fmt: skip
    accountant = RdpAccountant()
    accountant.compose(SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps))
    want = accountant.get_epsilon(DELTA)
    assert history.dp is not None
    assert history.dp.noise_multiplier == pytest.approx(sigma, rel=1e-12)
    assert history.dp.sample_rate == pytest.approx(q) and history.dp.steps == steps
    assert history.dp.epsilon == pytest.approx(want, rel=1e-9) and want <= EPS
    # alone, the charge is the accountant's epsilon; after the query it composes with it
    assert 0 < before - ana.budget <= want + 1e-9
    releases = ana.releases
    mechanisms = [r.mechanism for r in releases] if hasattr(releases, "__iter__") else []
    assert mechanisms[-1] == "dp-sgd" and len(mechanisms) == 2


def test_out_of_budget_is_refused_before_training(hook: Any, digits: Any) -> None:
    X, y = digits
    _, ana = hospital(hook, X, y, budget=1.0)
    images, labels = ana.search("#digits", verbose=False)
    model = mlp()
    model_ptr = model.send(ana)
    ids = [p.id for p in model_ptr.parameters()]
    with pytest.raises(unseen.BudgetExhausted, match="nothing was charged"):
        model_ptr.fit(images, labels, lr=LR, epochs=EPOCHS, batch_size=BATCH,
                      dp=unseen.DPSGD(epsilon=EPS))  # fmt: skip
    assert [p.id for p in model_ptr.parameters()] == ids
    untouched = model_ptr.get()  # still Ana's own upload: the values she sent
    for name, value in model.state_dict().items():
        assert torch.equal(untouched.state_dict()[name], value)
    assert ana.budget == 1.0 and len(list(ana.releases)) == 0


@pytest.mark.parametrize(
    "declared, message",
    [
        ({"public_rows": None}, "does not declare public_rows"),
        ({"public_rows": None, "privacy_id": "0", "max_rows_per_id": 3}, "not one person"),
    ],
)
def test_undeclared_data_is_refused_before_any_charge(hook: Any, digits: Any,
                                                      declared: dict[str, Any],
                                                      message: str) -> None:  # fmt: skip
    X, y = digits
    _, ana = hospital(hook, X, y, **declared)
    images, labels = ana.search("#digits", verbose=False)
    model_ptr = mlp().send(ana)
    with pytest.raises(unseen.UsageError, match=message):
        model_ptr.fit(images, labels, epochs=1, dp=unseen.DPSGD(epsilon=EPS))
    assert ana.budget == 10.0


def test_layers_opacus_cannot_train_are_refused_before_the_charge(hook: Any, digits: Any) -> None:
    X, y = digits
    _, ana = hospital(hook, X, y)
    images, labels = ana.search("#digits", verbose=False)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.Linear(16, 10))  # fmt: skip
    model_ptr = model.send(ana)
    with pytest.raises(unseen.UsageError, match="DP-SGD cannot train this model: .*BatchNorm"):
        model_ptr.fit(images, labels, epochs=1, dp=unseen.DPSGD(epsilon=EPS))
    assert ana.budget == 10.0 and len(list(ana.releases)) == 0


def test_the_ledger_replays_dpsgd_charges(hook: Any, digits: Any) -> None:
    X, y = digits
    worker, ana = hospital(hook, X, y)
    images, labels = ana.search("#digits", verbose=False)
    model_ptr = mlp().send(ana)
    (labels > 4).sum().get(epsilon=0.3)
    model_ptr.fit(images, labels, epochs=1, batch_size=BATCH, dp=unseen.DPSGD(epsilon=1.0))
    model_ptr.fit(images, labels, epochs=1, batch_size=BATCH, dp=unseen.DPSGD(epsilon=1.0))
    entries = worker.node.stores.ledger.entries(ana.user_id)
    replayed = dp.replay(entries, DELTA)
    assert [round(s, 12) for _, s in replayed] == [round(e.spent, 12) for e in entries]
    assert ana.budget == pytest.approx(10.0 - entries[-1].spent)


def test_a_dpsgd_entry_survives_the_sql_ledger(tmp_path: Any) -> None:
    """The four-part component of a DP-SGD entry comes back from SQLite as it went in, and
    the odometer replayed from it gives the same spend."""
    from unseen.store import LedgerRecord, open_stores

    plan = dp.plan_sgd(epsilon=2.0, delta=DELTA, batch_size=BATCH, public_rows=1797,
                              epochs=2, datasets=("Digits",), query="fit")  # fmt: skip
    record = LedgerRecord(id="e0", user_id="ana", seq=0, epsilon=plan.epsilon, delta=DELTA,
                          mechanism="dp-sgd", components=list(plan.cost.components),
                          charge=plan.epsilon, spent=plan.epsilon)  # fmt: skip
    with open_stores(None, tmp_path, fsync=False) as stores:
        stores.ledger.append(record)
    with open_stores(None, tmp_path, fsync=False) as stores:  # another start of the node
        (back,) = stores.ledger.entries("ana")
    assert back.components == list(plan.cost.components)
    assert isinstance(back.components[0], tuple) and back.components[0][3] == 2 * 28
    assert dp.replay([back], DELTA)[0][1] == pytest.approx(plan.epsilon, rel=1e-12)


def test_a_delta_above_the_nodes_is_refused_naming_how_to_set_it(hook: Any, digits: Any) -> None:
    X, y = digits
    worker, ana = hospital(hook, X, y)
    worker.dp_settings(delta=1e-6)  # the owner lowers the node's delta below the one asked
    images, labels = ana.search("#digits", verbose=False)
    model_ptr = mlp().send(ana)
    with pytest.raises(unseen.UsageError, match=r"above this node's delta of 1e-06.*dp_settings"):
        model_ptr.fit(images, labels, epochs=1, batch_size=BATCH,
                      dp=unseen.DPSGD(epsilon=EPS, delta=DELTA))  # fmt: skip
    assert ana.budget == 10.0 and len(list(ana.releases)) == 0
    worker.dp_settings(delta=DELTA)  # the owner's setting is what a DP-SGD fit may ask
    model_ptr.fit(
        images, labels, epochs=1, batch_size=BATCH, dp=unseen.DPSGD(epsilon=EPS, delta=DELTA)
    )
    assert ana.budget < 10.0
