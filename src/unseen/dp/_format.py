"""Between library values and plain arrays: the query's columns as a float matrix
(:func:`matrix`), and the noised answers in the form the same call returns without DP
(:func:`format_answer`): numpy scalars and arrays, torch tensors, pandas Series and frames."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from unseen.dp._query import Query

__all__ = ["matrix", "format_answer"]


def _numpy(value: Any) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bool:
            value = value.to(torch.float64)
        return np.asarray(value.numpy())
    return np.asarray(value)


def _floats(values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return values.astype(np.float64)
    return np.asarray(values, dtype=np.float64)


def matrix(query: Query, value: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """``(n x d float matrix of the query's columns, group keys or None)``."""
    pd = sys.modules.get("pandas")
    keys = None
    if pd is not None and isinstance(value, pd.DataFrame):
        if query.grouped:
            keys = value[query.by].to_numpy()
        if query.keys and not query.grouped:
            return value[query.cols[0].label].to_numpy().reshape(-1, 1), None
        labels = [c.label for c in query.cols]
        if query.all_cells:
            labels = list(value.columns)
        x = value[labels].to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd is not None and isinstance(value, pd.Series):
        if query.keys:
            return value.to_numpy().reshape(-1, 1), None
        x = value.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
    else:
        array = _numpy(value)
        if query.keys and not query.grouped:
            return array.reshape(-1, 1), None
        x = _floats(array)
        x = x.reshape(-1, 1) if x.ndim == 1 else x.reshape(x.shape[0], -1)
    if query.extra.get("nonzero"):
        x = (x != 0).astype(np.float64)
    if query.all_cells:
        bounds = query.extra["cell_bounds"]
        lows = np.array([b[0] for b in bounds])
        highs = np.array([b[1] for b in bounds])
        x = np.where(np.isnan(x), (lows + highs) / 2.0, x)
        x = np.clip(x, lows, highs).sum(axis=1, keepdims=True)
    return x, keys


def _torch_dtype(query: Query) -> Any:
    import torch

    return torch.float32 if "float32" in query.table.dtype else torch.float64


def _plain(query: Query, answers: list[Any]) -> Any:
    """numpy or torch results: a scalar, a vector per column, or quantiles."""
    if query.kind == "quantile":
        stacked = np.stack(answers, axis=-1)  # (len(qs), d)
        if not query.per_column:
            stacked = stacked[:, 0]
        out: Any = stacked[0] if query.q_scalar else stacked
    elif query.kind == "table":
        out = np.stack(answers, axis=-1)
        if query.table.one_d:
            out = out[:, 0]
    else:
        flat = [np.asarray(a).reshape(-1)[0] for a in answers]
        out = np.asarray(flat) if query.per_column else flat[0]
    integer = query.kind == "count" or bool(query.extra.get("integer"))
    if integer:
        out = np.asarray(out, dtype=np.int64)
    if query.out == "torch":
        import torch

        dtype = torch.int64 if integer else _torch_dtype(query)
        return torch.as_tensor(np.asarray(out), dtype=dtype)
    if np.ndim(out) == 0:
        return np.int64(out) if integer else np.float64(out)
    return out


def _pandas(query: Query, answers: list[Any]) -> Any:
    import pandas as pd

    labels = [c.label for c in query.cols]
    if query.kind == "table":
        if query.table.one_d:
            return pd.Series(answers[0], name=labels[0])
        return pd.DataFrame({label: a for label, a in zip(labels, answers)})
    if query.kind == "quantile":
        if query.per_column:
            frame = pd.DataFrame(
                {label: a for label, a in zip(labels, answers)}, index=list(query.qs)
            )
            return frame.iloc[0] if query.q_scalar else frame
        series = pd.Series(answers[0], index=list(query.qs), name=labels[0])
        return float(series.iloc[0]) if query.q_scalar else series
    flat = [np.asarray(a).reshape(-1)[0] for a in answers]
    if query.kind == "count" or query.extra.get("integer"):
        flat = [int(v) for v in flat]
    else:
        flat = [float(v) for v in flat]
    if query.per_column:
        return pd.Series(flat, index=labels)
    return flat[0]


def _groups(query: Query, answers: list[Any]) -> Any:
    import pandas as pd

    index = pd.Index(list(query.keys), name=query.by)
    if query.kind == "count":
        values = np.asarray(answers[0], dtype=np.int64)
        return pd.Series(values, index=index, name=None if query.extra.get("size") else query.by)
    if not query.per_column:
        return pd.Series(np.asarray(answers[0], dtype=float), index=index, name=query.cols[0].label)
    return pd.DataFrame(
        {c.label: np.asarray(a, dtype=float) for c, a in zip(query.cols, answers)}, index=index
    )


def format_answer(query: Query, answers: list[Any]) -> Any:
    """The noised answers in the form of the call they answer."""
    out = query.out
    if out == "pandas_groups":
        return _groups(query, answers)
    if out == "value_counts":
        import pandas as pd

        index = pd.Index(list(query.keys), name=query.cols[0].label)
        return pd.Series(np.asarray(answers[0], dtype=np.int64), index=index, name="count")
    if out in ("numpy_histogram", "torch_histogram", "histc"):
        counts = np.asarray(answers[0], dtype=np.int64)
        edges = np.asarray(query.edges, dtype=np.float64)
        if out == "numpy_histogram":
            return counts, edges
        import torch

        hist = torch.as_tensor(counts, dtype=_torch_dtype(query))
        return hist if out == "histc" else (hist, torch.as_tensor(edges, dtype=hist.dtype))
    if out == "pandas":
        return _pandas(query, answers)
    return _plain(query, answers)
