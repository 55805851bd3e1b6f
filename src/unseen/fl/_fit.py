"""``unseen.fl.fit``: federated training across domains (cross-silo, data-centric).

Each round the strategy samples domains; each sampled domain gets the global weights, trains
them on its own data with ``model_ptr.fit`` (one thread per domain, so they train in
parallel) and releases the new weights through the node's release rule (DP-SGD, the owner's
standing approval, or data of the caller's own). Updates are validated (failed, stale,
misshapen or non-finite ones are refused and counted, never averaged), aggregated by the
strategy, and the round recorded. ``checkpoint=`` saves after every round and resumes.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import math
import numbers
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from unseen.errors import UsageError
from unseen.fl._checkpoint import load_checkpoint, save_checkpoint
from unseen.fl._history import History
from unseen.fl._silo import LocalResult, Silo
from unseen.fl._strategy import ClientUpdate, FedAvg, Params, Strategy, validate
from unseen.messages.training import fit_config_hash
from unseen.train import DPSGD, describe

__all__ = ["FitResult", "RoundFailed", "RoundReport", "config_hash", "fit"]


class RoundFailed(UsageError):
    """A round ended with fewer sound updates than the quorum: the fit stops there (the
    checkpoint, if any, holds the last completed round)."""


@dataclass(frozen=True, kw_only=True)
class RoundReport:
    """Who took part in a round: the domains whose updates were averaged (``clients``), those
    refused or failed with the reason (``failed``), and each domain's seconds."""

    round: int
    clients: list[str]
    failed: dict[str, str]
    seconds: dict[str, float]


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained ``model`` (a ``torch.nn.Module``), its
    ``history`` (:class:`unseen.fl.History`: per round the clients and failures counted,
    loss, accuracy, bytes moved and seconds; each domain's seconds as ``seconds/<domain>``)
    and ``rounds``, the names behind the counts (:class:`RoundReport`)."""

    model: Any
    history: History
    rounds: list[RoundReport]


def _interactive() -> bool:
    if os.environ.get("UNSEEN_PROGRESS") in ("0", "1"):
        return os.environ["UNSEEN_PROGRESS"] == "1"
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def config_hash(
    model: Any, *, loss: str, optimizer: str, lr: float, epochs: int, batch_size: int,
    rounds: int,
) -> str:  # fmt: skip
    """sha256 of the fit's public configuration: what a standing approval names (the
    architecture, loss, optimizer, lr, epochs, batch size and rounds)."""
    return fit_config_hash(architecture=describe(model), loss=loss, optimizer=optimizer,
                           lr=lr, epochs=epochs, batch_size=batch_size, rounds=rounds)  # fmt: skip


def _state(model: Any) -> Params:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _load(model: Any, params: Params) -> Any:
    import torch

    out = copy.deepcopy(model)
    out.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in params.items()})
    return out


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"fl.fit's {name} must be an int >= {minimum}, got {value!r}")
    return value


def _names(silos_clients: list[Any]) -> list[str]:
    names: list[str] = []
    for i, client in enumerate(silos_clients):
        name = str(getattr(client, "node_name", "") or f"domain-{i}")
        names.append(name if name not in names else f"{name}#{i}")
    return names


def _evaluate(evaluate_fn: Callable[[Any], Any] | None, model: Any) -> dict[str, float]:
    if evaluate_fn is None:
        return {}
    value = evaluate_fn(model)
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    if isinstance(value, numbers.Real):
        return {"accuracy": float(value)}
    raise UsageError(
        f"evaluate_fn must return a number (accuracy) or a dict of numbers, not "
        f"{type(value).__name__}"
    )


def fit(
    model: Any,
    *,
    data: list[Any],
    target: list[Any],
    loss: str = "cross_entropy",
    optimizer: str = "sgd",
    lr: float = 0.01,
    local_epochs: int = 1,
    batch_size: int = 32,
    rounds: int = 1,
    strategy: Strategy | None = None,
    dp: DPSGD | None = None,
    secure_aggregation: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    quorum: int | None = None,
    evaluate_fn: Callable[[Any], Any] | None = None,
    seed: int = 0,
    approval_timeout: float = 3600.0,
) -> FitResult:
    """Train ``model`` (a ``torch.nn.Sequential`` of standard layers) across domains.

    ``data`` and ``target``: one pointer each per domain (the scientist logged in to each).
    Each round, ``strategy`` (default ``FedAvg()``) samples domains; each trains the global
    weights for ``local_epochs`` on its data (``loss``, ``optimizer``, ``lr``,
    ``batch_size``; DP-SGD charged to your budget there when ``dp=unseen.DPSGD(...)``) and
    releases them. A domain that fails, times out (``timeout`` seconds per round) or sends a
    bad update is counted, not fatal, while ``quorum`` (default 1) sound updates arrive.
    ``evaluate_fn(model)`` scores each round's model on your own public data.
    ``checkpoint=path`` saves after each round and resumes from it.

    Without ``dp`` each domain's weights are released by its owner's standing approval:
    the first round files one request per domain naming this configuration for ``rounds``
    rounds (in ``owner.requests``) and waits up to ``approval_timeout`` seconds for it.
    """
    import torch

    if secure_aggregation:
        raise UsageError(
            "fl.fit(secure_aggregation=True) is not available yet: release each domain's "
            "update with the owner's standing approval (the default: one request per domain "
            "for the run) or with DP-SGD (dp=unseen.DPSGD(epsilon=...)), and leave "
            "secure_aggregation=False"
        )
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"fl.fit trains a torch.nn.Module, not {type(model).__name__}")
    if not isinstance(data, list | tuple) or not isinstance(target, list | tuple):
        raise UsageError("fl.fit takes data=[ptr per domain] and target=[ptr per domain]")
    if len(data) != len(target) or not data:
        raise UsageError(
            f"fl.fit needs one data and one target pointer per domain: got {len(data)} data "
            f"and {len(target)} target pointers"
        )
    rounds = _positive_int("rounds", rounds)
    local_epochs = _positive_int("local_epochs", local_epochs)
    batch_size = _positive_int("batch_size", batch_size)
    seed = _positive_int("seed", seed, minimum=0)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not float(lr) > 0:
        raise UsageError(f"fl.fit's lr must be a number > 0, got {lr!r}")
    if dp is not None and not isinstance(dp, DPSGD):
        raise UsageError("dp= takes unseen.DPSGD(epsilon=..., delta=..., max_grad_norm=...)")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout <= 0
    ):
        raise UsageError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    strategy = FedAvg(min_clients=1) if strategy is None else strategy
    if not isinstance(strategy, Strategy):
        raise UsageError(f"strategy must be an unseen.fl strategy, e.g. FedAvg(), not {strategy!r}")
    silos = [Silo(f"domain {i}", d, t) for i, (d, t) in enumerate(zip(data, target, strict=True))]
    names = _names([s.client for s in silos])
    for silo, name in zip(silos, names, strict=True):
        silo.name = name
    if len({id(s.client) for s in silos}) != len(silos):
        raise UsageError(
            "fl.fit takes one data pointer per domain: two of them are on the same one"
        )
    n = len(silos)
    strategy.check(n)
    quorum = 1 if quorum is None else _positive_int("quorum", quorum)
    if quorum > n:
        raise UsageError(
            f"quorum={quorum} is more than the {n} domains given: a round could never complete; "
            f"lower quorum to at most {n}"
        )
    if quorum > strategy.num_sampled(n):
        raise UsageError(
            f"quorum={quorum} is more than the {strategy.num_sampled(n)} domains {strategy!r} "
            "samples each round: raise fraction/min_clients or lower quorum"
        )
    extra = strategy.client_config(1)
    if "proximal_mu" in extra:
        raise UsageError(
            f"{strategy!r} needs a proximal term in the local loss, which model_ptr.fit has "
            "not: use FedAvg or a server optimizer (FedAvgM, FedAdam, FedYogi, FedAdagrad)"
        )
    fit_hash = config_hash(model, loss=loss, optimizer=optimizer, lr=lr, epochs=local_epochs,
                           batch_size=batch_size, rounds=rounds)  # fmt: skip
    current = _state(model)
    history = History()
    reports: list[RoundReport] = []
    start_round = 1
    if checkpoint is not None:
        try:
            saved, strat_state, meta = load_checkpoint(checkpoint)
        except FileNotFoundError:
            pass
        else:
            if meta.get("config_hash") != fit_hash:
                raise UsageError(
                    f"the checkpoint {os.fspath(checkpoint)!r} is of another fit configuration "
                    "(model, loss, optimizer, lr, epochs, batch size or rounds differ): use "
                    "another path, or delete it to start over"
                )
            strategy.load_state_dict(*strat_state)
            current = {k: saved[k].astype(v.dtype).reshape(v.shape) for k, v in current.items()}
            history = History.from_dict(meta["history"])
            reports = [RoundReport(**r) for r in meta["reports"]]
            start_round = int(meta["round"]) + 1
    bar = None
    if _interactive() and start_round <= rounds:
        from tqdm.auto import tqdm

        bar = tqdm(total=rounds, initial=start_round - 1, desc="federated fit", unit="round")
    busy: dict[str, cf.Future[LocalResult]] = {}
    pool = cf.ThreadPoolExecutor(max_workers=n, thread_name_prefix="unseen-fl")
    try:
        for rnd in range(start_round, rounds + 1):
            row = _round(
                rnd, model, current, silos, strategy, pool, busy,
                loss=loss, optimizer=optimizer, lr=float(extra.get("lr", lr)),
                epochs=local_epochs, batch_size=batch_size, dp=dp, seed=seed, timeout=timeout,
                quorum=quorum, rounds=rounds, approval_wait=float(approval_timeout),
            )  # fmt: skip
            current = row.pop("parameters")
            report = RoundReport(round=rnd, clients=row.pop("clients"), failed=row.pop("failed"),
                                 seconds=row.pop("domain_seconds"))  # fmt: skip
            central = _evaluate(evaluate_fn, _load(model, current))
            if "loss" in central:
                central["central_loss"] = central.pop("loss")
            per_domain = {f"seconds/{k}": v for k, v in report.seconds.items()}
            record = history.add(round=rnd, clients=len(report.clients),
                                 failed=len(report.failed), **row, **central, **per_domain)  # fmt: skip
            reports.append(report)
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint, model=current, strategy=strategy.state_dict(),
                    meta={"round": rnd, "config_hash": fit_hash, "history": history.to_dict(),
                          "reports": [dataclasses.asdict(r) for r in reports]},
                )  # fmt: skip
            if bar is not None:
                shown = {k: f"{v:.4f}" for k, v in (("loss", record.loss),
                         ("accuracy", record.accuracy)) if not math.isnan(v)}  # fmt: skip
                bar.set_postfix(clients=record.clients, failed=record.failed, **shown)
                bar.update(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()
    return FitResult(model=_load(model, current), history=history, rounds=reports)


def _round(
    rnd: int,
    model: Any,
    current: Params,
    silos: list[Silo],
    strategy: Strategy,
    pool: cf.ThreadPoolExecutor,
    busy: dict[str, cf.Future[LocalResult]],
    *,
    loss: str,
    optimizer: str,
    lr: float,
    epochs: int,
    batch_size: int,
    dp: DPSGD | None,
    seed: int,
    timeout: float | None,
    quorum: int,
    rounds: int,
    approval_wait: float,
) -> dict[str, Any]:
    """One round: sample, train in parallel, validate, aggregate; the round's record."""
    started = time.perf_counter()
    by_name = {s.name: s for s in silos}
    rng = np.random.default_rng([seed, rnd])
    sampled = strategy.sample(rnd, [s.name for s in silos], rng)
    failed: dict[str, str] = {}
    futures: dict[cf.Future[LocalResult], str] = {}
    for index, name in enumerate(sampled):
        previous = busy.get(name)
        if previous is not None and not previous.done():
            failed[name] = "still busy with an earlier round that timed out"
            continue
        local_seed = (seed * 1_000_003 + rnd * 1_009 + index) % (2**62)
        future = pool.submit(
            by_name[name].train, rnd, model, current, loss=loss, optimizer=optimizer, lr=lr,
            epochs=epochs, batch_size=batch_size, dp=dp, seed=local_seed, rounds=rounds,
            approval_wait=approval_wait,
        )  # fmt: skip
        busy[name] = future
        futures[future] = name
    done, late = cf.wait(futures, timeout=timeout)
    order = {name: i for i, name in enumerate(sampled)}
    # in the sampled order, not of completion: the aggregate's float sums then repeat exactly
    results = sorted((f.result() for f in done), key=lambda r: order[r.client])
    for future in late:
        failed[futures[future]] = f"timed out after {timeout:g} s"
    updates = []
    for result in results:
        if result.error or result.parameters is None:
            failed[result.client] = result.error or "no update"
            continue
        metrics = {} if result.loss is None else {"loss": result.loss}
        updates.append(ClientUpdate(client=result.client, parameters=result.parameters,
                                    num_examples=result.num_examples, metrics=metrics,
                                    round=result.round))  # fmt: skip
    good, refused = validate(current, updates, rnd)
    for r in refused:
        failed[r.client] = r.reason
    if len(good) < quorum:
        detail = "; ".join(f"{k}: {v}" for k, v in failed.items())
        raise RoundFailed(
            f"round {rnd}: {len(good)} sound update(s), fewer than quorum={quorum} ({detail})"
        )
    new = strategy.aggregate(rnd, current, good)
    losses = [(u.num_examples, u.metrics["loss"]) for u in good if "loss" in u.metrics]
    total = sum(w for w, _ in losses)
    return {
        "clients": [u.client for u in good],
        "failed": failed,
        "loss": sum(w * v for w, v in losses) / total if losses and total else None,
        "bytes": sum(r.bytes for r in results),
        "seconds": time.perf_counter() - started,
        "domain_seconds": {r.client: r.seconds for r in results},
        "parameters": new,
    }
