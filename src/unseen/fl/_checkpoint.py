"""Checkpoints of a federated fit: the global model, the strategy's state and the round.

Two files beside ``path``: ``<path>.safetensors`` (the model's and the strategy's arrays,
safetensors bytes from :func:`unseen.fl.params_to_safetensors`) and ``<path>.json`` (the
strategy's JSON state, the round reached, the history so far, the run's configuration hash).
Never pickle. Each is written to a temporary name and renamed, the JSON last, so a run killed
while saving keeps a consistent earlier pair (the JSON names the round of its arrays).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from unseen.errors import UsageError
from unseen.fl._tensors import params_from_safetensors, params_to_safetensors

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = "unseen.fl.checkpoint/1"


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    base = Path(path)
    return base.with_name(base.name + ".safetensors"), base.with_name(base.name + ".json")


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: dict[str, np.ndarray],
    strategy: tuple[dict[str, np.ndarray], dict[str, Any]],
    meta: dict[str, Any],
) -> None:
    """Store the global model, the strategy's arrays and JSON state, and ``meta``."""
    tensors, json_path = _paths(path)
    round_ = int(meta["round"])
    arrays = {f"model/{k}": v for k, v in model.items()}
    arrays.update({f"strategy/{k}": v for k, v in strategy[0].items()})
    doc = {"format": FORMAT, "model": list(model), "strategy": strategy[1], **meta}
    tensors.parent.mkdir(parents=True, exist_ok=True)
    tmp = tensors.with_name(tensors.name + ".tmp")
    tmp.write_bytes(params_to_safetensors(arrays, {"round": str(round_)}))
    os.replace(tmp, tensors)
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, json_path)


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], tuple[dict[str, np.ndarray], dict[str, Any]], dict[str, Any]]:
    """``(model, (strategy arrays, strategy state), meta)``; None-like FileNotFoundError
    when there is no checkpoint yet."""
    tensors, json_path = _paths(path)
    if not (tensors.exists() and json_path.exists()):
        raise FileNotFoundError(str(path))
    doc = json.loads(json_path.read_text())
    if doc.get("format") != FORMAT:
        raise UsageError(f"{json_path} is not an unseen.fl checkpoint")
    arrays, meta = params_from_safetensors(tensors.read_bytes())
    if meta.get("round") != str(doc.get("round")):
        raise UsageError(
            f"{tensors} and {json_path} are of different rounds (a save was cut short): "
            "delete both to start over"
        )
    model = {k: arrays[f"model/{k}"] for k in doc.pop("model")}
    strat = {k[len("strategy/") :]: v for k, v in arrays.items() if k.startswith("strategy/")}
    state = doc.pop("strategy")
    return model, (strat, state), doc
