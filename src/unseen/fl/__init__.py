"""Federated learning: strategies, partitioners, round history and simulation.

:class:`Strategy` and its nine implementations (:mod:`unseen.fl._strategy`) sample clients and
aggregate their :class:`ClientUpdate`\\ s; :func:`validate` refuses bad updates with reasons.
:func:`fit` trains across domains (cross-silo, :mod:`unseen.fl._fit`).
Strategy state and model parameters travel as safetensors bytes
(:func:`params_to_safetensors`), never pickle. See docs/fl.md.
"""

from __future__ import annotations

from unseen.fl._fit import FitResult, RoundFailed, RoundReport, config_hash, fit
from unseen.fl._history import History, RoundRecord
from unseen.fl._partition import IID, Dirichlet, Partitioner, Shards
from unseen.fl._simulate import SimulationResult, check_plain, simulate
from unseen.fl._strategy import (
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
    Params,
    Refused,
    Strategy,
    validate,
    weighted_sum,
)
from unseen.fl._tensors import params_from_safetensors, params_to_safetensors

__all__ = [
    "IID",
    "Dirichlet",
    "History",
    "Partitioner",
    "RoundRecord",
    "Shards",
    "STRATEGIES",
    "SimulationResult",
    "ClientUpdate",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedMedian",
    "FedProx",
    "FedTrimmedAvg",
    "FedYogi",
    "FitResult",
    "Krum",
    "Params",
    "Refused",
    "RoundFailed",
    "RoundReport",
    "Strategy",
    "check_plain",
    "config_hash",
    "fit",
    "params_from_safetensors",
    "params_to_safetensors",
    "simulate",
    "validate",
    "weighted_sum",
]
