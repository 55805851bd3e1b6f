"""Stand-in values for mock runs: zeros of an object's public shape and dtype, and samples."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from unseen.errors import UsageError

MAX_SYNTHETIC_ELEMENTS = 1 << 25


def synthesize(meta: dict[str, Any]) -> Any:
    """Zeros shaped like a value whose public metadata is ``meta`` (no mock was given)."""
    family = meta.get("family")
    shape = tuple(int(n) for n in meta.get("shape", ()))
    if math.prod(shape) > MAX_SYNTHETIC_ELEMENTS:
        raise UsageError(
            f"no mock was given for this value and its shape {shape} is too large to stand in "
            "with zeros: ask the owner to add a mock"
        )
    if family == "ndarray":
        return np.zeros(shape, dtype=np.dtype(meta.get("dtype", "float64")))
    if family == "tensor":
        import torch

        dtype = getattr(torch, str(meta.get("dtype", "torch.float32")).removeprefix("torch."))
        return torch.zeros(shape, dtype=dtype)
    if family in ("dataframe", "series"):
        import pandas as pd

        if family == "series":
            return pd.Series(np.zeros(shape[0]), name=meta.get("name")).astype(
                meta.get("dtype", "float64")
            )
        columns = meta.get("columns", [])
        dtypes = meta.get("dtypes", ["float64"] * len(columns))
        return pd.DataFrame(
            {c: pd.Series(np.zeros(shape[0])).astype(d) for c, d in zip(columns, dtypes)}
        )
    raise UsageError(f"no mock is available for a {family}: ask the owner to add one")


def sample_rows(mock: Any, n: int) -> Any:
    """``n`` random rows of a mock, in their original order."""
    if not isinstance(n, int) or n < 0:
        raise UsageError("sample(n) needs a non-negative whole number of rows")
    length = len(mock) if hasattr(mock, "__len__") else 0
    if length == 0:
        return mock
    rows = np.sort(np.random.default_rng().choice(length, size=min(n, length), replace=False))
    if hasattr(mock, "iloc"):
        return mock.iloc[rows]
    return mock[rows]
