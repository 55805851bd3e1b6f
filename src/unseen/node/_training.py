"""``train.fit``: train a model of standard layers on the node, in torch (DP-SGD with Opacus).

Order of a fit: build the module from the public architecture description (``torch.nn``'s
own classes, never code); load the parameter objects into it; resolve the data and target;
for DP-SGD, price the fit from public parameters (the declared public row count, the epochs,
the batch size) and charge the caller's ledger in one transaction, before anything trains;
then train and store the new parameters. Without DP they derive from the data and from the
parameters (the release rule: the owner's approval); with DP-SGD from the parameters alone,
as a DP release does: released to the caller where the data allows DP releases.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unseen import dp
from unseen.errors import OperationNotAllowed, RemoteError, UsageError
from unseen.messages.training import (
    LAYERS,
    LOSSES,
    OPTIMIZERS,
    TRAIN_FIT,
    FitCharge,
    FitEpoch,
    FitReply,
    FitRequest,
)
from unseen.node._dp import _asset_of, service
from unseen.node._meta import public_meta
from unseen.node._objects import _usable, new_id
from unseen.node._policy import Lineage, check_release, may_read
from unseen.node._principal import MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.node._standing import spend
from unseen.node._training_progress import track
from unseen.store import AssetRecord, ObjectRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

log = logging.getLogger("unseen.node")

#: the most epochs of one fit, and the deepest nesting of an architecture
MAX_EPOCHS = 10_000
MAX_DEPTH = 16
_ARG_TYPES = (bool, int, float, str)


def build(description: Any, depth: int = 0, where: str = "the model") -> Any:
    """A ``torch.nn`` module from its public description; ``OperationNotAllowed`` naming a
    layer type that is not in :data:`LAYERS`, ``UsageError`` for a malformed description."""
    import torch

    if depth > MAX_DEPTH or not isinstance(description, dict):
        raise UsageError(f"{where}: a layer description is a map with 'type' (and 'args')")
    kind = description.get("type")
    if not isinstance(kind, str) or kind not in LAYERS:
        raise OperationNotAllowed(
            f"{where} is a {kind!r}, which a fit cannot build: model_ptr.fit takes models of "
            f"torch.nn's standard layers ({', '.join(sorted(LAYERS))})"
        )
    if kind == "Sequential":
        children = description.get("children")
        if not isinstance(children, (list, tuple)):
            raise UsageError(f"{where}: a Sequential needs its 'children'")
        module = torch.nn.Sequential()
        for item in children:
            if not (
                isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
            ):
                raise UsageError(f"{where}: each child is a [name, layer] pair")
            name, child = item
            if not name.isidentifier() and not name.isdigit():
                raise UsageError(f"{where}: {name!r} is not a layer name")
            module.add_module(name, build(child, depth + 1, f"{where}.{name}"))
        return module
    args = description.get("args") or {}
    if not isinstance(args, dict):
        raise UsageError(f"{where}: 'args' must be a map")
    allowed = LAYERS[kind]
    for key, value in args.items():
        if key not in allowed:
            raise UsageError(f"{where}: a {kind} takes no argument {key!r} in a fit")
        items = value if isinstance(value, (list, tuple)) else [value]
        if not all(v is None or isinstance(v, _ARG_TYPES) for v in items):
            raise UsageError(f"{where}: {kind} argument {key!r} must be a number, a bool or text")
    if kind == "Dropout":
        return torch.nn.Identity()
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    try:
        return getattr(torch.nn, kind)(**clean)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise UsageError(f"{where}: torch.nn.{kind}({clean}) failed: {exc}") from None


def _check(request: FitRequest, limits: Any) -> None:
    if request.loss not in LOSSES:
        raise UsageError(f"loss must be one of {', '.join(LOSSES)}, not {request.loss!r}")
    if request.optimizer not in OPTIMIZERS:
        raise UsageError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {request.optimizer!r}"
        )
    if not math.isfinite(request.lr) or request.lr <= 0:
        raise UsageError(f"lr must be a finite number > 0, got {request.lr!r}")
    if not 1 <= request.epochs <= MAX_EPOCHS:
        raise UsageError(f"epochs must be between 1 and {MAX_EPOCHS}, got {request.epochs}")
    if request.batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {request.batch_size}")
    if len(request.names) != len(request.parameters):
        raise UsageError("a fit needs one parameter object per state entry name")
    if request.seed is not None and request.dp is not None:
        raise UsageError(
            "a DP-SGD fit draws its batches and its noise on the node, from randomness no one "
            "else knows: leave seed out when dp= is given"
        )


def _public(principal: Principal, record: ObjectRecord) -> bool:
    """May a check on this object's value be answered? Yes for what the caller may read and
    for dataset assets (their shape is public metadata); a check on anything else is private:
    it fails the fit's results instead, as a failed graph does (docs/security.md)."""
    return may_read(principal, record) or record.dataset is not None


def _hidden(principal: Principal, record: ObjectRecord, message: str, failures: list[str]) -> None:
    """Refuse now (a public check), or note a private failure of the fit."""
    if _public(principal, record):
        raise UsageError(message)
    failures.append(f"UsageError: {message}")


def _load(
    node: Node, principal: Principal, module: Any, request: FitRequest, failures: list[str]
) -> list[ObjectRecord]:
    """Load the parameter objects into ``module``; their records, in the request's order."""
    import torch

    state = module.state_dict()
    if sorted(state) != sorted(request.names):
        raise UsageError(
            "the parameter names do not match the architecture: expected "
            f"{sorted(state)}, got {sorted(request.names)}"
        )
    records = []
    loaded = {}
    for name, object_id in zip(request.names, request.parameters, strict=True):
        record = _usable(node, principal, object_id)
        records.append(record)
        value = node.stores.objects.value(object_id)
        want = tuple(state[name].shape)
        if record.error is not None:
            if may_read(principal, Lineage(record.sources)):
                check_release(principal, record)  # one's own failure, with its detail
            failures.append(record.error)
        elif not isinstance(value, torch.Tensor) or tuple(value.shape) != want:
            _hidden(principal, record, f"parameter {name} is not a tensor of shape {want}",
                    failures)  # fmt: skip
        else:
            loaded[name] = value.to(state[name].dtype)
            continue
        loaded[name] = torch.zeros_like(state[name])
    with torch.no_grad():
        module.load_state_dict(loaded, strict=True)
    return records


def _inputs(
    node: Node, principal: Principal, request: FitRequest, failures: list[str]
) -> tuple[list[ObjectRecord], Any, Any]:
    """The data and target records and values (None for a value a private check failed)."""
    import torch

    records, values = [], []
    for what, object_id in (("data", request.data), ("target", request.target)):
        record = _usable(node, principal, object_id)
        records.append(record)
        value = node.stores.objects.value(object_id)
        if record.error is not None:
            if may_read(principal, Lineage(record.sources)):
                check_release(principal, record)
            failures.append(record.error)
            value = None
        elif not isinstance(value, torch.Tensor):
            message = (
                f"the {what} of a fit must be a torch tensor: convert it on the node first, "
                "e.g. unseen.torch.as_tensor(ptr, dtype=torch.float32)"
            )
            _hidden(principal, record, message, failures)
            value = None
        values.append(value)
    data, target = values
    if (
        data is not None
        and target is not None
        and (data.ndim == 0 or target.ndim == 0 or data.shape[0] != target.shape[0])
    ):
        message = "data and target must have rows, and the same number of them"
        if all(_public(principal, r) for r in records):
            raise UsageError(message)
        failures.append(f"UsageError: {message}")
    return records, data, target


def _loss_fn(name: str) -> Any:
    import torch.nn.functional as F

    return {
        "cross_entropy": F.cross_entropy,
        "mse": F.mse_loss,
        "nll": F.nll_loss,
        "bce_with_logits": F.binary_cross_entropy_with_logits,
    }[name]


def _optimizer(name: str, params: Any, lr: float) -> Any:
    import torch

    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    return cls(params, lr=lr)


def _target_for(loss: str, target: Any, output_dtype: Any) -> Any:
    return target.to(output_dtype) if loss in ("mse", "bce_with_logits") else target


def batch_order(rows: int, batch_size: int, epoch: int, seed: int) -> list[Any]:
    """The batches (index tensors) of epoch ``epoch`` (from 0) of a fit with ``seed``: a
    permutation of the rows by ``torch.randperm`` with a generator seeded ``seed + epoch``,
    cut into consecutive batches of ``batch_size`` (the last one shorter)."""
    import torch

    generator = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(rows, generator=generator)
    return list(torch.split(order, batch_size))


#: told each epoch as it ends: its index (from 0), its steps and its mean loss
Report = Callable[[int, int, float], None]


def _train_plain(module: Any, data: Any, target: Any, request: FitRequest, seed: int,
                 deadline: float, report: Report) -> list[tuple[int, float]]:  # fmt: skip
    """The plain loop; (steps, mean loss) per epoch."""

    loss_fn = _loss_fn(request.loss)
    optimizer = _optimizer(request.optimizer, module.parameters(), request.lr)
    module.train()
    out = []
    for epoch in range(request.epochs):
        total, steps = 0.0, 0
        for index in batch_order(len(data), request.batch_size, epoch, seed):
            optimizer.zero_grad()
            output = module(data[index])
            loss = loss_fn(output, _target_for(request.loss, target[index], output.dtype))
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            steps += 1
            _deadline(deadline)
        out.append((steps, total / max(steps, 1)))
        report(epoch, *out[-1])
    return out


def _deadline(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise OperationNotAllowed("the fit ran past this node's time limit for one graph")


def _train_dp(module: Any, data: Any, target: Any, request: FitRequest, plan: dp.SGDPlan,
              deadline: float, report: Report) -> list[tuple[int, float]]:  # fmt: skip
    """DP-SGD with Opacus: Poisson sampling at the public sample rate, per-example clipping
    to ``max_grad_norm``, Gaussian noise of the planned multiplier, from the node's own
    randomness. The expected batch size is the requested one (public), never the data's."""
    import torch
    from opacus import GradSampleModule
    from opacus.data_loader import DPDataLoader
    from opacus.optimizers import DPOptimizer

    assert request.dp is not None
    loss_fn = _loss_fn(request.loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = GradSampleModule(module, loss_reduction="mean")
        optimizer = DPOptimizer(
            _optimizer(request.optimizer, module.parameters(), request.lr),
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=request.dp.max_grad_norm,
            expected_batch_size=request.batch_size,
            loss_reduction="mean",
            generator=torch.Generator().manual_seed(secrets.randbits(63)),
        )
        loader = DPDataLoader(
            torch.utils.data.TensorDataset(data, target),
            sample_rate=plan.sample_rate,
            generator=torch.Generator().manual_seed(secrets.randbits(63)),
        )
    wrapped.train()
    with warnings.catch_warnings():  # torch's note on full backward hooks (Opacus' own)
        warnings.simplefilter("ignore", UserWarning)
        return _dp_epochs(wrapped, optimizer, loader, loss_fn, request, deadline, report)


def _dp_epochs(wrapped: Any, optimizer: Any, loader: Any, loss_fn: Any, request: FitRequest,
               deadline: float, report: Report) -> list[tuple[int, float]]:  # fmt: skip
    out = []
    for epoch in range(request.epochs):
        total, steps = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            output = wrapped(x)
            loss = loss_fn(output, _target_for(request.loss, y, output.dtype))
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) if len(x) else 0.0
            steps += 1
            _deadline(deadline)
        out.append((steps, total / max(steps, 1)))
        report(epoch, *out[-1])
    return out


def _public_rows(node: Node, records: list[ObjectRecord], principal: Principal,
                 values: list[Any]) -> tuple[int, tuple[str, ...]]:  # fmt: skip
    """The declared public row count the sample rate comes from, and the datasets read.
    Every input the caller may not read must be a dataset asset declaring ``public_rows``
    (one row per privacy unit), and every input must have that many rows."""
    rows: set[int] = set()
    datasets: list[str] = []
    for record in records:
        if may_read(principal, record):
            continue
        found = _asset_of(node, record)
        if found is None:
            raise UsageError(
                "DP-SGD trains on dataset assets directly (the sample rate comes from their "
                "declared public row count): this input is computed from private data; ask "
                "the owner to upload it as an asset, or fit without dp= and request the model"
            )
        asset, dataset = found
        _check_unit(asset)
        if asset.public_rows is None:
            raise UsageError(
                f"asset {asset.name!r} of {dataset!r} does not declare public_rows: DP-SGD's "
                "sample rate is the batch size over the public row count; ask the owner to "
                "declare it (Dataset.add_asset(..., public_rows=...))"
            )
        rows.add(int(asset.public_rows))
        datasets.append(dataset)
    if len(rows) != 1 or any(len(v) != next(iter(rows)) for v in values):
        raise UsageError(
            "DP-SGD's data and target must be assets with the same declared public row count "
            "(the rows of one table), and inputs of yours must have as many rows"
        )
    return next(iter(rows)), tuple(dict.fromkeys(datasets))


def _check_unit(asset: AssetRecord) -> None:
    """DP-SGD clips one example's gradient: its privacy unit is one row."""
    if asset.privacy_id is not None:
        raise UsageError(
            f"asset {asset.name!r} declares a privacy id ({asset.privacy_id!r}, up to "
            f"{asset.max_rows_per_id} rows per person): DP-SGD here protects one row, not "
            "one person's rows, so it refuses this data rather than under-protect it"
        )


class _Skipped(Exception):
    """A fit not run: a private check failed before it."""


def _check_opacus(module: Any) -> None:
    """Before any charge: Opacus must compute per-example gradients of every layer."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(module, strict=False)
    if errors:
        raise UsageError(
            "DP-SGD cannot train this model: "
            + "; ".join(str(e) for e in errors[:3])
            + " (Opacus needs per-example gradients; e.g. use GroupNorm or LayerNorm)"
        )


def _describe(request: FitRequest, dp_plan: dp.SGDPlan | None) -> str:
    text = (
        f"train.fit(loss={request.loss}, optimizer={request.optimizer}, lr={request.lr:g}, "
        f"epochs={request.epochs}, batch_size={request.batch_size}"
    )
    if dp_plan is not None:
        assert request.dp is not None
        text += (
            f", DP-SGD epsilon={dp_plan.epsilon:.4g} delta={dp_plan.delta:g} "
            f"noise={dp_plan.noise_multiplier:.4g} clip={request.dp.max_grad_norm:g} "
            f"sample_rate={dp_plan.sample_rate:.4g} steps={dp_plan.steps}"
        )
    return text + ")"


@typed_route(TRAIN_FIT, MEMBERS)
def fit(node: Node, principal: Principal, request: FitRequest) -> FitReply:
    """Train, store the new parameters, and answer with their ids and the epochs."""
    import torch

    node.drop_objects(principal, request.drop)
    _check(request, node.limits)
    progress = track(node, principal, request.progress, request.epochs)
    module = build(request.architecture)
    failures: list[str] = []  # private checks that failed: the fit's results fail
    records = _load(node, principal, module, request, failures)
    count = sum(p.numel() for p in module.parameters())
    if request.batch_size * max(count, 1) > node.limits.max_elements:
        raise OperationNotAllowed(
            f"a batch of {request.batch_size} on a model of {count} parameters is over this "
            f"node's limit of {node.limits.max_elements} elements (per-example gradients): "
            "use a smaller batch_size"
        )
    inputs, data, target = _inputs(node, principal, request, failures)
    param_sources = frozenset().union(*(r.sources for r in records))
    sources = param_sources.union(*(r.sources for r in inputs))
    plan: dp.SGDPlan | None = None
    charge: FitCharge | None = None
    if request.dp is not None:
        spec = request.dp
        svc = service(node)
        if spec.delta is not None and spec.delta > svc.delta * (1 + 1e-9):
            raise UsageError(
                f"DPSGD(delta={spec.delta:g}) is above this node's delta of {svc.delta:g}: ask "
                f"for delta <= {svc.delta:g}, or leave delta out to train at the node's (its "
                "owner sets it: client.dp_settings(delta=...))"
            )
        epsilon, delta = dp.check_parameters(spec.epsilon, spec.delta, svc.delta)
        delta = svc.delta if delta is None else delta
        if not (math.isfinite(spec.max_grad_norm) and spec.max_grad_norm > 0):
            raise UsageError(f"max_grad_norm must be a number > 0, got {spec.max_grad_norm!r}")
        if all(may_read(principal, r) for r in inputs):
            raise UsageError(
                "DP-SGD protects data you may not read; on your own data fit without dp="
            )
        rows, datasets = _public_rows(node, inputs, principal, [data, target])
        _check_opacus(module)
        plan = dp.plan_sgd(
            epsilon=epsilon, delta=delta, batch_size=request.batch_size, public_rows=rows,
            epochs=request.epochs, datasets=datasets, query="",
        )  # fmt: skip
        cost = dataclasses.replace(plan.cost, query=_describe(request, plan))
        uid = principal.user_id
        entry = svc.accountant.charge(uid, lambda: float(node.stores.users.get(uid).budget), cost)
        try:  # the users table mirrors the ledger's spend, as for DP queries
            node.stores.users.charge_budget(uid, entry.charge, limit_check=False)
        except Exception:
            log.exception("could not mirror a DP-SGD charge into the users table")
        node.audit(principal, "dp.release", ",".join(datasets) or "-")
        charge = FitCharge(
            epsilon=plan.epsilon, delta=plan.delta, noise_multiplier=plan.noise_multiplier,
            sample_rate=plan.sample_rate, steps=plan.steps, max_grad_norm=spec.max_grad_norm,
            charged=entry.charge, spent=entry.spent,
        )  # fmt: skip
        sources = param_sources  # a DP release: the data leaves no lineage to the weights
    readable = may_read(principal, Lineage(sources))
    # the owner's standing approval (train.approval) grants this fit's weights, spent now
    granted = plan is None and not readable and spend(node, principal, request, param_sources)
    # the approval releases the fit's training losses with its weights, through the one rule
    grant = frozenset({principal.user_id}) if granted else frozenset()
    losses_readable = plan is None and may_read(principal, Lineage(sources, grant))
    seed = request.seed if request.seed is not None else secrets.randbits(62)
    deadline = time.monotonic() + node.limits.max_seconds
    failure: str | None = failures[0] if failures else None
    epochs: list[tuple[int, float]] = []

    def report(index: int, steps: int, loss: float) -> None:  # what the reply will show
        if plan is not None:
            progress.done(FitEpoch(epoch=index + 1, steps=plan.steps_per_epoch))
        elif readable:
            progress.done(FitEpoch(epoch=index + 1, steps=steps, loss=loss))
        else:
            progress.done(FitEpoch(epoch=index + 1))

    try:
        if failure is not None:  # a private check failed: nothing to train on
            raise _Skipped(failure)
        with torch.enable_grad(), progress:
            if plan is not None:
                epochs = _train_dp(module, data, target, request, plan, deadline, report)
            else:
                epochs = _train_plain(module, data, target, request, seed, deadline, report)
    except _Skipped:
        pass
    except Exception as exc:
        if readable and plan is None:
            raise RemoteError(
                f"train.fit failed on the node: {type(exc).__name__}: {exc}"
            ) from None
        log.warning("fit of %s failed: %s: %s", principal.user_id, type(exc).__name__, exc)
        failure = f"{type(exc).__name__}: {exc}"
        if plan is not None:  # DP weights are the caller's: the detail stays in the log
            failure = (
                "DP-SGD failed on the data (details withheld: the data are private; the "
                "charge stands, since whether it failed is private too)"
            )
    state = {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}
    if failure is not None:  # a failed result holds a stand-in, never a partial training
        state = {k: torch.zeros_like(v) for k, v in state.items()}
    recipe = (_describe(request, plan),)
    new_ids = []
    for name, old in zip(request.names, records, strict=True):
        value = state[name]
        record = ObjectRecord(
            id=new_id(),
            family="failed" if failure else "tensor",
            creator=principal.user_id,
            sources=sources,
            parents=(old.id, request.data, request.target),
            recipe=() if readable else recipe,
            public_meta=public_meta(value) if readable and not failure else {},
            error=failure,
            failed_op="train.fit" if failure else None,
            readers=frozenset({principal.user_id}) if granted else frozenset(),
        )
        node.stores.objects.put(record, value, durable=plan is not None)
        new_ids.append(record.id)
    node.audit(principal, "train.fit", f"{request.data},{request.target}", durable=False)
    if losses_readable:
        history = [
            FitEpoch(epoch=i + 1, steps=steps, loss=loss) for i, (steps, loss) in enumerate(epochs)
        ]
    else:  # the same reply whether it failed or not: that, and the row count, are private
        history = [FitEpoch(epoch=i + 1) for i in range(request.epochs)]
    if plan is not None:
        history = [FitEpoch(epoch=i + 1, steps=plan.steps_per_epoch) for i in range(request.epochs)]
    return FitReply(
        parameters=new_ids,
        history=history,
        loss_released=losses_readable,
        weights_released=readable,
        dp=charge,
    )
