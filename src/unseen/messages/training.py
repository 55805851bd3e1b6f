"""The typed ``train.*`` kinds: ``train.fit`` trains a model of standard layers on the node;
``train.progress`` tells the caller how far a fit of theirs in progress is;
``train.approval`` asks the owner for a standing approval of federated fits (one request that,
once accepted, releases the weights of the next N fits of exactly one configuration).

The model travels as a public architecture description (:data:`LAYERS` names every layer
type and the constructor arguments it may carry; ``Sequential`` nests), never as code: the
node builds it from ``torch.nn``'s own classes and loads the parameter objects into it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from unseen.messages._typed import Kind
from unseen.messages.requests import RequestView

__all__ = [
    "DPSGDSpec",
    "FitCharge",
    "FitEpoch",
    "FitProgress",
    "FitProgressRequest",
    "FitReply",
    "FitRequest",
    "ApprovalRequest",
    "TRAIN_APPROVAL",
    "fit_config_hash",
    "LAYERS",
    "LOSSES",
    "OPTIMIZERS",
    "TRAIN_FIT",
    "TRAIN_PROGRESS",
    "TYPED_KINDS",
]

_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
         "groups", "bias")  # fmt: skip
_POOL = ("kernel_size", "stride", "padding", "ceil_mode")

#: Layer types a fit builds (``torch.nn.<type>``), with the constructor arguments each takes
#: (``bias`` and ``elementwise_affine`` are booleans: whether the module has the tensor).
#: ``Sequential`` holds ``children``. ``Dropout`` is built as an identity, as in a traced
#: forward (docs/training.md): a node draws no randomness for a scientist.
LAYERS: dict[str, tuple[str, ...]] = {
    "Sequential": (),
    "Linear": ("in_features", "out_features", "bias"),
    "Conv1d": _CONV,
    "Conv2d": _CONV,
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine", "bias"),
    "Embedding": ("num_embeddings", "embedding_dim", "padding_idx"),
    "Flatten": ("start_dim", "end_dim"),
    "Identity": (),
    "Dropout": (),
    "ReLU": (),
    "ReLU6": (),
    "SiLU": (),
    "Tanh": (),
    "Sigmoid": (),
    "GELU": ("approximate",),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "Softplus": ("beta", "threshold"),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "MaxPool1d": (*_POOL, "dilation"),
    "MaxPool2d": (*_POOL, "dilation"),
    "AvgPool1d": (*_POOL, "count_include_pad"),
    "AvgPool2d": (*_POOL, "count_include_pad"),
    "AdaptiveAvgPool1d": ("output_size",),
    "AdaptiveAvgPool2d": ("output_size",),
}

#: The losses of a fit (``torch.nn.functional.<name>``, mean over the batch).
LOSSES = ("cross_entropy", "mse", "nll", "bce_with_logits")
#: The optimizers of a fit (``torch.optim``'s, with their defaults but ``lr``).
OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True, kw_only=True)
class DPSGDSpec:
    """DP-SGD's privacy parameters: ``delta`` None is the node's delta."""

    epsilon: float
    delta: float | None = None
    max_grad_norm: float


@dataclass(frozen=True, kw_only=True)
class FitRequest:
    """Train the model described by ``architecture`` (a map: ``type``, ``args``, and for a
    ``Sequential`` its ``children`` as ``[name, map]`` pairs) whose state entries ``names``
    are the objects ``parameters``, on ``data`` and ``target`` (object ids), for ``epochs``
    epochs of ``batch_size`` rows. Without ``dp`` the batch order is a function of ``seed``
    (see docs/training.md); with it, sampling and noise are the node's own. ``progress``, a
    name the caller picks (up to 64 characters), lets them follow the epochs with
    ``train.progress`` while the fit runs."""

    architecture: dict[str, Any]
    names: list[str]
    parameters: list[str]
    data: str
    target: str
    loss: str
    optimizer: str
    lr: float
    epochs: int
    batch_size: int
    seed: int | None = None
    dp: DPSGDSpec | None = None
    drop: list[str] = field(default_factory=list)
    progress: str | None = None
    #: the id of the owner's standing approval (``train.approval``) this fit spends, if any
    approval: str | None = None


def fit_config_hash(
    *, architecture: dict[str, Any], loss: str, optimizer: str, lr: float, epochs: int,
    batch_size: int, rounds: int,
) -> str:  # fmt: skip
    """sha256 of a fit's public configuration, to which a standing approval is pinned: the
    architecture, loss, optimizer, lr, epochs, batch size and the number of rounds."""
    doc = {"architecture": architecture, "loss": loss, "optimizer": optimizer, "lr": float(lr),
           "epochs": int(epochs), "batch_size": int(batch_size), "rounds": int(rounds)}  # fmt: skip
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """Ask the owner to release the weights of the next ``rounds`` fits of this configuration
    on ``data`` and ``target`` (object ids), each starting from weights of the caller's own:
    one request in the owner's queue (``name``, ``reason``), reviewed once. A pending or
    accepted, unspent one of the same configuration is returned instead of a new one."""

    architecture: dict[str, Any]
    loss: str
    optimizer: str
    lr: float
    epochs: int
    batch_size: int
    rounds: int
    data: str
    target: str
    name: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class FitEpoch:
    """One epoch: its number (from 1), its optimizer steps (for DP-SGD the public number of
    Poisson-sampled batches; None when it would tell the private row count), and its mean
    training loss when the caller may read it (else None: the loss derives from the data)."""

    epoch: int
    steps: int | None = None
    loss: float | None = None


@dataclass(frozen=True, kw_only=True)
class FitCharge:
    """What a DP-SGD fit cost, from public parameters only: the sample rate (batch size over
    the declared public row count), the steps, the noise multiplier the accountant chose,
    and the ledger's charge and the spend after it."""

    epsilon: float
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    charged: float
    spent: float


@dataclass(frozen=True, kw_only=True)
class FitReply:
    """The new parameter objects (in the order of the request's ``names``), the epochs,
    whether the losses are released (``loss_released``) and whether the new weights are the
    caller's to read (``weights_released``); ``dp`` for a DP-SGD fit."""

    parameters: list[str]
    history: list[FitEpoch]
    loss_released: bool
    weights_released: bool
    dp: FitCharge | None = None


@dataclass(frozen=True, kw_only=True)
class FitProgressRequest:
    """How far is the caller's fit that was started with ``progress=fit``?"""

    fit: str


@dataclass(frozen=True, kw_only=True)
class FitProgress:
    """The epochs of the fit done so far (as in its reply: the loss only where the caller may
    read it), out of ``epochs``; ``running`` False when no such fit of the caller's runs now
    (not started yet, or ended: its reply holds the history)."""

    epochs: int
    done: list[FitEpoch]
    running: bool


TRAIN_FIT: Kind[FitRequest, FitReply] = Kind("train.fit", FitRequest, FitReply)
TRAIN_PROGRESS: Kind[FitProgressRequest, FitProgress] = Kind(
    "train.progress", FitProgressRequest, FitProgress
)

TRAIN_APPROVAL: Kind[ApprovalRequest, RequestView] = Kind(
    "train.approval", ApprovalRequest, RequestView
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (TRAIN_FIT, TRAIN_PROGRESS, TRAIN_APPROVAL)
