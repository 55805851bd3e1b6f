"""``model_ptr.fit(...)``: a whole training run on the node in one message (``train.fit``).

The model travels as its public architecture description (:func:`describe`: standard layers
of ``torch.nn`` and their hyperparameters, never code); the node builds it, loads the
parameter objects, trains in torch (DP-SGD with Opacus when ``dp=unseen.DPSGD(...)``) and
keeps the new parameters, to which the model pointer is rebound. The history holds what the
caller may see: the losses only when the weights are the caller's to read. While the fit
runs, a thread polls ``train.progress`` and moves the progress bar (and the listeners of
:func:`on_fit_progress`) epoch by epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unseen.client import Pointer, Vertex, waiting
from unseen.errors import OperationNotAllowed, UnseenError, UsageError
from unseen.messages.training import (
    LAYERS,
    LOSSES,
    OPTIMIZERS,
    TRAIN_FIT,
    TRAIN_PROGRESS,
    DPSGDSpec,
    FitCharge,
    FitEpoch,
    FitProgressRequest,
    FitRequest,
)

if TYPE_CHECKING:
    from unseen.train._module import ModulePointer

__all__ = ["DPSGD", "FitHistory", "describe", "fit", "on_fit_progress"]

#: seconds between two polls of a running fit's progress
POLL_S = 0.2
#: told each epoch of a fit as it ends (from the node while it runs): the epoch, of how many
FitListener = Callable[[FitEpoch, int], None]
_LISTENERS: list[FitListener] = []

_BOOL_TENSORS = {"bias": "bias", "elementwise_affine": "weight"}


@dataclass(frozen=True)
class DPSGD:
    """Train with DP-SGD (Opacus on the node): ``epsilon`` and ``delta`` (None: the node's)
    of the whole fit, charged to your privacy budget before it trains; each example's
    gradient is clipped to ``max_grad_norm``."""

    epsilon: float
    delta: float | None = None
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("epsilon", "max_grad_norm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise UsageError(f"DPSGD({name}=...) must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise UsageError(f"DPSGD({name}=...) must be a finite number > 0, got {value!r}")
        if self.delta is not None and (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, numbers.Real)
            or not 0 < self.delta < 1
        ):
            raise UsageError(f"DPSGD(delta=...) must be a number in (0, 1), got {self.delta!r}")


@dataclass
class FitHistory:
    """What a fit returns: one entry per epoch (``epoch``, ``steps``, ``loss``). ``loss`` is
    None where it is not yours to see (a fit on private data without DP derives it from the
    data; DP-SGD releases the model, not its training losses); ``dp`` holds a DP-SGD fit's
    public parameters and charge."""

    epochs: list[FitEpoch]
    loss_released: bool
    dp: FitCharge | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def losses(self) -> list[float] | None:
        """The mean training loss per epoch, or None when not released."""
        if not self.loss_released:
            return None
        return [float(e.loss) for e in self.epochs if e.loss is not None]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[FitEpoch]:
        return iter(self.epochs)

    def __getitem__(self, index: int) -> FitEpoch:
        return self.epochs[index]

    def __repr__(self) -> str:
        if self.dp is not None:
            extra = (
                f", DP-SGD epsilon={self.dp.epsilon:.4g} delta={self.dp.delta:g} "
                f"noise_multiplier={self.dp.noise_multiplier:.4g} charged={self.dp.charged:.4g}"
            )
        elif self.loss_released:
            extra = f", losses={[round(x, 4) for x in self.losses or []]}"
        else:
            extra = ", losses not released (trained on private data without DP)"
        return f"<FitHistory {len(self.epochs)} epochs{extra}>"


def _layer_args(module: Any, kind: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name in LAYERS[kind]:
        if name in _BOOL_TENSORS and not isinstance(getattr(module, name, None), bool):
            args[name] = getattr(module, _BOOL_TENSORS[name], None) is not None
            continue
        value = getattr(module, name)
        args[name] = list(value) if isinstance(value, tuple) else value
    return args


def describe(module: Any, where: str = "") -> dict[str, Any]:
    """The public architecture description of ``module`` (what ``train.fit`` sends): its
    layer types and hyperparameters. ``OperationNotAllowed`` naming a layer that is not a
    standard one (your own ``nn.Module`` subclasses run Python, which a node never does)."""
    cls = type(module)
    kind = cls.__name__
    name = where or kind
    if kind not in LAYERS or not cls.__module__.startswith("torch.nn"):
        raise OperationNotAllowed(
            f"{name} is a {cls.__module__}.{kind}: model_ptr.fit builds the model on the node "
            f"from torch.nn's standard layers only ({', '.join(sorted(LAYERS))}); train your "
            "own modules with a loop on pointers (docs/training.md)"
        )
    if kind == "Sequential":
        children = [
            [child, describe(sub, f"{where}.{child}" if where else child)]
            for child, sub in module.named_children()
        ]
        return {"type": kind, "children": children}
    return {"type": kind, "args": _layer_args(module, kind)}


@contextlib.contextmanager
def on_fit_progress(listener: FitListener) -> Iterator[None]:
    """Call ``listener(epoch, epochs)`` for each epoch of the fits run in the ``with`` block,
    as the node reports it (what the progress bar shows: the loss only where yours)."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


class _Progress:
    """A fit's epochs as they end: a thread polls ``train.progress`` until the reply comes;
    :meth:`finish` then shows the epochs the polls did not (a node that does not know the
    kind: all of them, at the reply)."""

    def __init__(self, client: Any, epochs: int, bar: Any) -> None:
        self.name = secrets.token_hex(16)
        self._client, self._epochs, self._bar = client, epochs, bar
        self._shown = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="unseen-fit-progress", daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._bar is not None:
            self._bar.close()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                state = self._client.ask(TRAIN_PROGRESS, FitProgressRequest(fit=self.name))
            except UnseenError:  # an older node, or a broken poll: the reply shows the epochs
                return
            self._show(state.done)

    def _show(self, epochs: list[FitEpoch]) -> None:
        with self._lock:
            for epoch in epochs[self._shown :]:
                if self._bar is not None:
                    if epoch.loss is not None:
                        self._bar.set_postfix(loss=f"{epoch.loss:.4f}")
                    self._bar.update(1)
                for listener in list(_LISTENERS):
                    listener(epoch, self._epochs)
            self._shown = max(self._shown, len(epochs))

    def finish(self, history: list[FitEpoch]) -> None:
        self._stop.set()
        self._thread.join()
        self._show(history)


def _interactive() -> bool:
    if os.environ.get("UNSEEN_PROGRESS") in ("0", "1"):
        return os.environ["UNSEEN_PROGRESS"] == "1"
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def _id_of(value: Any, what: str) -> str:
    if not isinstance(value, Pointer):
        raise UsageError(
            f"fit takes pointers to the {what} on the node, not {type(value).__name__}"
        )
    if value.family not in ("tensor", "value"):
        raise UsageError(
            f"fit's {what} must be a torch tensor, and this pointer is a {value.family}: "
            "convert it on the node first, e.g. unseen.torch.as_tensor(ptr, dtype=torch.float32)"
        )
    if not value._vertex.materialized:
        value.compute()
    return value.id


def _check_options(loss: str, optimizer: str, lr: Any, epochs: Any, batch_size: Any) -> None:
    if loss not in LOSSES:
        raise UsageError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not float(lr) > 0:
        raise UsageError(f"lr must be a number > 0, got {lr!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be an int >= 1, got {value!r}")


def fit(
    model_ptr: ModulePointer,
    data: Any,
    target: Any,
    *,
    loss: str = "cross_entropy",
    optimizer: str = "sgd",
    lr: float = 0.01,
    epochs: int = 1,
    batch_size: int = 32,
    dp: DPSGD | None = None,
    seed: int | None = None,
    approval: str | None = None,
) -> FitHistory:
    """Train ``model_ptr`` on the node; see :meth:`ModulePointer.fit`."""
    _check_options(loss, optimizer, lr, epochs, batch_size)
    if dp is not None and not isinstance(dp, DPSGD):
        raise UsageError("dp= takes unseen.DPSGD(epsilon=..., delta=..., max_grad_norm=...)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise UsageError(f"seed must be an int, got {seed!r}")
    if seed is not None and dp is not None:
        raise UsageError(
            "a DP-SGD fit draws its batches and noise on the node from randomness no one else "
            "knows: leave seed out when dp= is given"
        )
    architecture = describe(model_ptr._module)
    client = model_ptr.client
    model_ptr.compute()
    entries = model_ptr._entries()
    request = FitRequest(
        architecture=architecture,
        names=[name for name, _ in entries],
        parameters=[pointer.id for _, pointer in entries],
        data=_id_of(data, "data"),
        target=_id_of(target, "target"),
        loss=loss,
        optimizer=optimizer,
        lr=float(lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        dp=None
        if dp is None
        else DPSGDSpec(
            epsilon=float(dp.epsilon), delta=dp.delta, max_grad_norm=float(dp.max_grad_norm)
        ),
        drop=client._drain_dropped(),
        approval=approval,
    )
    bar = None
    if _interactive():
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=f"fit on {client.node_name}", unit="epoch", leave=True)
    if bar is None and not _LISTENERS:
        reply = client.ask(TRAIN_FIT, request)
    else:
        with _Progress(client, epochs, bar) as progress:
            request = dataclasses.replace(request, progress=progress.name)
            with waiting(f"{client.node_name} is training"):
                reply = client.ask(TRAIN_FIT, request)
            progress.finish(list(reply.history))
    for (_, param), new in zip(entries, reply.parameters, strict=True):
        vertex = Vertex(new, "tensor")
        param._rebind(client._wrap(vertex))
        param.grad = None
    object.__setattr__(model_ptr, "_joined", None)
    object.__setattr__(model_ptr, "_withheld", not reply.weights_released)
    return FitHistory(epochs=list(reply.history), loss_released=reply.loss_released, dp=reply.dp)
