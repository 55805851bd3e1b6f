"""Simulated federated learning: many virtual clients on one machine, any strategy.

``simulate(model, dataset=(X, y), num_clients=..., partition=..., strategy=..., rounds=...)``
splits the rows with a partitioner, then each round samples clients, trains a copy of the
global model on each client's rows (in this process, in a pool of spawned worker processes,
or on Ray) and aggregates the updates with the strategy. Nothing crossing a process boundary
is pickled beyond plain values: a task is a dict of str/int/float/bytes, weights and rows
travel as safetensors bytes and the model as its public architecture description
(:func:`unseen.train.describe`), rebuilt from ``torch.nn``'s classes in the worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from unseen.errors import OperationNotAllowed, UsageError
from unseen.fl._history import History
from unseen.fl._partition import Dirichlet, Partitioner
from unseen.fl._strategy import ClientUpdate, FedAvg, Params, Strategy, validate
from unseen.fl._tensors import params_from_safetensors, params_to_safetensors

LOSSES = ("cross_entropy", "mse", "nll", "bce_with_logits")
OPTIMIZERS = ("sgd", "adam", "adamw")
#: with max_workers=None, the number of clients from which worker processes pay off
PROCESSES_FROM = 32
_PLAIN = (str, int, float, bool, bytes, type(None))


@dataclass(frozen=True)
class SimulationResult:
    """The trained global model (a ``torch.nn.Module``) and the per-round :class:`History`."""

    model: Any
    history: History
    #: each client's rows (indices into ``dataset``)
    partition: list[np.ndarray]
    #: why each failed or refused client update was left out (no data values)
    errors: list[str]


def check_plain(value: Any, where: str = "task") -> None:
    """UsageError unless ``value`` is plain data (str/int/float/bool/bytes/None, in dicts and
    lists): what may cross to a worker process, where multiprocessing pickles it."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise UsageError(f"{where}: key {k!r} is not a str")
            check_plain(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise UsageError(f"{where} is a {type(value).__name__}: only plain values and bytes cross processes")  # fmt: skip


# ---- the worker side: module-level state set once per process by _init_worker ----------------

_WORKER: dict[str, Any] = {}


def _rebuild(description: dict[str, Any]) -> Any:
    import torch

    kind = description["type"]
    if kind == "Sequential":
        module = torch.nn.Sequential()
        for name, child in description["children"]:
            module.add_module(name, _rebuild(child))
        return module
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in description.get("args", {}).items()}  # fmt: skip
    return getattr(torch.nn, kind)(**args)


def _init_worker(architecture: str, data: bytes, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    arrays, _ = params_from_safetensors(data)
    _WORKER["X"], _WORKER["y"] = torch.from_numpy(arrays["X"]), torch.from_numpy(arrays["y"])
    _WORKER["model"] = _rebuild(json.loads(architecture))


def _train_task(task: dict[str, Any]) -> dict[str, Any]:
    """One client's local training (runs in a worker, or in this process): plain in, plain out."""
    import torch

    model = _WORKER["model"]
    weights, _ = params_from_safetensors(task["weights"])
    rows, _ = params_from_safetensors(task["rows"])
    start = time.perf_counter()
    params, loss, count = _local_train(model, _WORKER["X"], _WORKER["y"], torch.from_numpy(rows["rows"]), weights, task)  # fmt: skip
    return {
        "client": task["client"],
        "weights": params_to_safetensors(params),
        "num_examples": count,
        "loss": loss,
        "seconds": time.perf_counter() - start,
    }


def _local_train(model: Any, X: Any, y: Any, rows: Any, weights: Params, task: dict[str, Any]) -> tuple[Params, float, int]:  # fmt: skip
    import torch
    import torch.nn.functional as F

    state = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
    model.load_state_dict(state, strict=True)
    model.train()
    global_params = [p.detach().clone() for p in model.parameters()]
    loss_fn = getattr(F, task["loss"])
    opt_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[task["optimizer"]]  # fmt: skip
    optimizer = opt_cls(model.parameters(), lr=task["lr"])
    mu = float(task.get("proximal_mu", 0.0))
    generator = torch.Generator().manual_seed(task["seed"])
    torch.manual_seed(task["seed"])
    total, steps = 0.0, 0
    for _ in range(task["epochs"]):
        order = rows[torch.randperm(len(rows), generator=generator)]
        for batch in torch.split(order, task["batch_size"]):
            optimizer.zero_grad()
            out = model(X[batch])
            target = y[batch] if task["loss"] in ("cross_entropy", "nll") else y[batch].to(out.dtype)  # fmt: skip
            loss = loss_fn(out, target)
            if mu > 0:
                prox = sum(((p - g) ** 2).sum() for p, g in zip(model.parameters(), global_params))
                loss = loss + mu / 2 * prox
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            steps += 1
    params = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return params, total / max(steps, 1), len(rows)


# ---- the driver side ---------------------------------------------------------------------------


def _architecture(model: Any) -> str | None:
    """The model's description as JSON, or None for a model that is not standard layers."""
    from unseen.train import describe

    try:
        description = describe(model)
    except OperationNotAllowed:
        return None

    def add_dropout(desc: dict[str, Any], module: Any) -> None:
        if desc["type"] == "Dropout":
            desc["args"] = {"p": float(module.p)}
        for name, child in desc.get("children", []):
            add_dropout(child, getattr(module, name))

    add_dropout(description, model)
    return json.dumps(description)


def _check_args(model: Any, dataset: Any, num_clients: Any, rounds: Any, loss: str, optimizer: str, lr: Any, local_epochs: Any, batch_size: Any, backend: str) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    import torch

    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"simulate trains a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(dataset, tuple | list) and len(dataset) == 2):
        raise UsageError("dataset= takes (X, y): features and labels with the same number of rows")  # fmt: skip
    X = np.asarray(dataset[0], dtype=np.float32)
    y = np.asarray(dataset[1])
    y = y.astype(np.int64) if loss in ("cross_entropy", "nll") else y.astype(np.float32)
    if len(X) != len(y) or len(X) == 0:
        raise UsageError(f"X has {len(X)} rows and y {len(y)}: they must match and be non-empty")  # fmt: skip
    for name, value in (("num_clients", num_clients), ("rounds", rounds), ("local_epochs", local_epochs), ("batch_size", batch_size)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be an integer >= 1, got {value!r}")
    if loss not in LOSSES:
        raise UsageError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise UsageError(f"lr must be a number > 0, got {lr!r}")
    if backend not in ("process", "ray"):
        raise UsageError(f'backend must be "process" or "ray", not {backend!r}')
    return X, y


def _params_of(model: Any) -> Params:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _evaluate(model: Any, X: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, float | None]:
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
        target = torch.from_numpy(y)
        value = float(getattr(F, loss)(out, target if loss in ("cross_entropy", "nll") else target.to(out.dtype)))  # fmt: skip
        accuracy = None
        if loss in ("cross_entropy", "nll") and out.ndim == 2:
            accuracy = float((out.argmax(1) == target).float().mean())
    return value, accuracy


def simulate(
    model: Any,
    dataset: tuple[Any, Any],
    *,
    num_clients: int = 10,
    partition: Partitioner | None = None,
    rounds: int = 3,
    strategy: Strategy | None = None,
    backend: str = "process",
    local_epochs: int = 1,
    batch_size: int = 32,
    lr: float = 0.5,
    loss: str = "cross_entropy",
    optimizer: str = "sgd",
    seed: int = 0,
    max_workers: int | None = None,
    test: tuple[Any, Any] | None = None,
    address: str | None = None,
) -> SimulationResult:
    """Federated training of ``model`` over ``num_clients`` simulated clients.

    ``partition`` splits ``dataset``'s rows (default ``Dirichlet(0.5, seed)``); each round the
    strategy samples clients, each trains ``local_epochs`` on its rows from the global weights,
    and the strategy aggregates. ``history`` has per round the global model's loss/accuracy on
    ``test`` (default: all of ``dataset``), the clients' mean training loss (``train_loss``),
    weights moved (``bytes``) and seconds. ``backend="process"``: ``max_workers`` spawned
    processes (default: one per CPU from ``PROCESSES_FROM`` clients on, else this process;
    1 runs in this process; a script that spawns them needs ``if __name__ == "__main__":``);
    ``backend="ray"``: Ray tasks (``address=`` of a cluster, else a local ``ray.init()``).
    The same ``seed`` gives the same final weights. ``model`` itself is not modified.
    """
    import torch

    strategy = strategy if strategy is not None else FedAvg()
    if not isinstance(strategy, Strategy):
        raise UsageError(f"strategy must be an unseen.fl strategy, got {type(strategy).__name__}")
    partition = partition if partition is not None else Dirichlet(0.5, seed=seed)
    if not isinstance(partition, Partitioner):
        raise UsageError("partition= takes unseen.fl.IID(), Dirichlet(alpha) or Shards(per_client)")  # fmt: skip
    X, y = _check_args(model, dataset, num_clients, rounds, loss, optimizer, lr, local_epochs, batch_size, backend)  # fmt: skip
    strategy.check(num_clients)
    parts = partition.partition(y if y.ndim == 1 else np.zeros(len(y)), num_clients)
    X_test, y_test = (X, y) if test is None else _check_args(model, test, 1, 1, loss, optimizer, lr, 1, 1, backend)  # fmt: skip
    clients = [f"client-{i}" for i in range(num_clients)]
    global_model = copy.deepcopy(model)
    current = _params_of(global_model)
    architecture = _architecture(global_model)
    workers = _workers(backend, max_workers, num_clients, architecture)
    data = params_to_safetensors({"X": X, "y": y})
    rows = {c: params_to_safetensors({"rows": p.astype(np.int64)}) for c, p in zip(clients, parts)}
    rng = np.random.default_rng(seed)
    history = History()
    run = _Runner(backend, workers, architecture, data, global_model, address)
    errors: list[str] = []
    try:
        for rnd in range(1, rounds + 1):
            start = time.perf_counter()
            chosen = strategy.sample(rnd, clients, rng)
            config = {"lr": float(lr), **strategy.client_config(rnd)}
            weights = params_to_safetensors(current)
            tasks = [
                {
                    "client": c,
                    "round": rnd,
                    "weights": weights,
                    "rows": rows[c],
                    "epochs": local_epochs,  # fmt: skip
                    "batch_size": batch_size,
                    "loss": loss,
                    "optimizer": optimizer,
                    "seed": int(seed * 1_000_003 + rnd * 10_007 + clients.index(c)),
                    **config,
                }  # fmt: skip
                for c in chosen
            ]
            outcomes = run.map(tasks)
            results = [r for r in outcomes if isinstance(r, dict)]
            errors += [r for r in outcomes if isinstance(r, str)]
            moved = len(weights) * len(tasks) + sum(len(r["weights"]) for r in results)
            updates = [
                ClientUpdate(
                    client=r["client"],
                    parameters=params_from_safetensors(r["weights"])[0],
                    num_examples=r["num_examples"],
                    metrics={"loss": r["loss"]},
                    round=rnd,
                )  # fmt: skip
                for r in results
            ]
            good, refused = validate(current, updates, round=rnd)
            errors += [f"{r.client}: {r.reason}" for r in refused]
            failed = len(tasks) - len(good)
            if not good:
                raise UsageError(f"round {rnd}: every client failed or was refused; first: {errors[-1]}")  # fmt: skip
            current = strategy.aggregate(rnd, current, good)
            global_model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in current.items()})  # fmt: skip
            test_loss, accuracy = _evaluate(global_model, X_test, y_test, loss)
            train_loss = float(np.average([u.metrics["loss"] for u in good], weights=[u.num_examples for u in good]))  # fmt: skip
            history.add(round=rnd, clients=len(good), failed=failed, loss=test_loss, accuracy=accuracy,
                        bytes=moved, seconds=time.perf_counter() - start, train_loss=train_loss)  # fmt: skip
    finally:
        run.close()
    return SimulationResult(model=global_model, history=history, partition=parts, errors=errors)


def _workers(backend: str, max_workers: int | None, num_clients: int, architecture: str | None) -> int:  # fmt: skip
    if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1):  # fmt: skip
        raise UsageError(f"max_workers must be an integer >= 1, got {max_workers!r}")
    if backend == "ray":
        if architecture is None:
            raise UsageError("backend='ray' needs a model of torch.nn's standard layers (see unseen.train.describe)")  # fmt: skip
        return max_workers or (os.cpu_count() or 1)
    if max_workers is None:  # a worker's start (torch import) outweighs a few small clients
        cpus = os.cpu_count() or 1
        wanted = min(cpus, num_clients) if num_clients >= PROCESSES_FROM else 1
    else:
        wanted = max_workers
    if architecture is None and wanted > 1:
        raise UsageError(
            "this model is not made of torch.nn's standard layers, so worker processes cannot "
            "rebuild it without pickle: pass max_workers=1 to simulate in this process"
        )
    return wanted


class _Runner:
    """Runs tasks in this process, a spawned process pool or Ray. ``map`` gives, in task order,
    each task's result or the text of its failure (a failed client is counted, not fatal)."""

    def __init__(self, backend: str, workers: int, architecture: str | None, data: bytes, model: Any, address: str | None) -> None:  # fmt: skip
        self.pool: cf.ProcessPoolExecutor | None = None
        self.ray: Any = None
        self.saved: dict[str, Any] = {}
        if backend == "ray":
            self._start_ray(architecture or "", data, address)
        elif workers > 1:
            assert architecture is not None
            threads = max(1, (os.cpu_count() or 1) // workers)
            self.pool = cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(architecture, data, threads),
            )
        else:
            import torch

            arrays, _ = params_from_safetensors(data)
            self.saved = dict(_WORKER)
            _WORKER.update(X=torch.from_numpy(arrays["X"]), y=torch.from_numpy(arrays["y"]), model=copy.deepcopy(model))  # fmt: skip

    def _start_ray(self, architecture: str, data: bytes, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("backend='ray' needs Ray: pip install ray") from None
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.ray = ray
        self.architecture = architecture
        self.ray_data = ray.put(data)
        self.ray_task = ray.remote(_ray_task)

    def map(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any] | str]:
        for task in tasks:
            check_plain(task)
        if self.ray is not None:
            refs = [self.ray_task.remote(self.architecture, self.ray_data, t) for t in tasks]
            return [self._outcome(lambda r=r: self.ray.get(r)) for r in refs]
        if self.pool is None:
            return [self._outcome(lambda t=t: _train_task(t)) for t in tasks]
        futures = [self.pool.submit(_train_task, t) for t in tasks]
        return [self._outcome(f.result) for f in futures]

    @staticmethod
    def _outcome(get: Any) -> dict[str, Any] | str:
        try:
            result = get()
        except cf.process.BrokenProcessPool:
            raise
        except Exception as exc:  # a client's failure is counted; the text says why
            return f"{type(exc).__name__}: {exc}"
        check_plain(result, "result")
        return dict(result)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
        elif self.ray is None:
            _WORKER.clear()
            _WORKER.update(self.saved)


def _ray_task(architecture: str, data: bytes, task: dict[str, Any]) -> dict[str, Any]:
    if _WORKER.get("architecture") != architecture:
        _init_worker(architecture, data, 1)
        _WORKER["architecture"] = architecture
    return _train_task(task)
