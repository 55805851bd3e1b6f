"""DP metadata an owner declares per asset at upload (:func:`asset_dp_fields`), and the
abstract table the analysis starts from (:func:`source_table`).

Everything here comes from the owner's declarations and the asset's public metadata (family,
shape, column names); nothing is computed from the private values. The upload only checks
that the declarations fit the public shape (one bound per column, a declared row count that
matches).
"""

from __future__ import annotations

import math
from typing import Any

from unseen.dp._values import Col, Table
from unseen.errors import UsageError
from unseen.store import AssetRecord

__all__ = ["asset_dp_fields", "column_labels", "source_table", "MAX_ROWS"]

#: The most rows an asset may have for DP answers: sums are computed exactly in integers
#: that must stay below 2**53 (see :mod:`unseen.dp._evaluate`).
MAX_ROWS = 2**29

_TABLE_FAMILIES = ("ndarray", "tensor", "dataframe", "series")


def column_labels(meta: dict[str, Any]) -> tuple[tuple[Any, ...], bool]:
    """The column labels of an asset from its public metadata, and whether it is 1-D."""
    family = meta.get("family")
    shape = tuple(meta.get("shape") or ())
    if family == "dataframe":
        return tuple(meta.get("columns") or ()), False
    if family == "series":
        return (meta.get("name"),), True
    if family in ("ndarray", "tensor"):
        if len(shape) == 1:
            return (None,), True
        if len(shape) == 2:
            return tuple(range(shape[1])), False
    return (), False


def _flags(value: Any, n: int, what: str, asset: str) -> list[bool] | None:
    if value is None:
        return None
    flags = [value] if isinstance(value, bool) else list(value)
    if not all(isinstance(f, bool) for f in flags) or len(flags) not in (1, n):
        raise UsageError(
            f"{what} of asset {asset!r} must be one bool or a list of {n} bools (one per column)"
        )
    return flags


def _label_of(key: str, labels: tuple[Any, ...]) -> Any:
    for label in labels:
        if str(label) == key:
            return label
    raise UsageError(f"no column {key!r}; the columns are {', '.join(map(str, labels))}")


def asset_dp_fields(asset: dict[str, Any], meta: dict[str, Any], name: str) -> dict[str, Any]:
    """The DP fields of an uploaded asset's record, checked against its public shape."""
    labels, _ = column_labels(meta)
    nullable = _flags(asset.get("nullable"), len(labels), "nullable", name)
    bounds = asset.get("bounds")
    if bounds is not None and labels:
        pairs = bounds if isinstance(bounds[0], (list, tuple)) else [bounds]
        if len(pairs) not in (1, len(labels)):
            raise UsageError(
                f"asset {name!r} has {len(labels)} columns but {len(pairs)} bounds: give one "
                "(L, U) for every column or one per column"
            )
    privacy_id = asset.get("privacy_id")
    if privacy_id is not None:
        privacy_id = str(privacy_id)
        if not labels or meta.get("family") == "series" or len(labels) < 2:
            raise UsageError(
                f"privacy_id of asset {name!r} names a column, so the asset must be a table"
            )
        _label_of(privacy_id, labels)
    per_id = asset.get("max_rows_per_id", 1)
    if isinstance(per_id, bool) or not isinstance(per_id, int) or per_id < 1:
        raise UsageError(f"max_rows_per_id of asset {name!r} must be an integer >= 1")
    if per_id > 1 and privacy_id is None:
        raise UsageError(
            f"asset {name!r}: max_rows_per_id > 1 needs privacy_id, the column naming the person"
        )
    rows = asset.get("public_rows")
    shape = tuple(meta.get("shape") or ())
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise UsageError(f"public_rows of asset {name!r} must be a non-negative integer")
        if shape and shape[0] != rows:
            raise UsageError(
                f"asset {name!r} has {shape[0]} rows, not the declared public_rows={rows}"
            )
        if privacy_id is not None:
            raise UsageError(
                f"asset {name!r}: public_rows cannot be combined with privacy_id (the rows kept "
                "per person are not a public number)"
            )
    categories = asset.get("categories")
    if categories is not None:
        if not isinstance(categories, dict):
            raise UsageError(f"categories of asset {name!r} must map a column to its keys")
        for key, keys in categories.items():
            _label_of(str(key), labels)
            if not isinstance(keys, (list, tuple)) or not keys or len(keys) > 10_000:
                raise UsageError(
                    f"categories of column {key!r} in asset {name!r} must be 1 to 10000 keys"
                )
        categories = {str(k): list(v) for k, v in categories.items()}
    return {
        "nullable": nullable,
        "privacy_id": privacy_id,
        "max_rows_per_id": per_id,
        "public_rows": rows,
        "categories": categories,
    }


def source_table(
    asset: AssetRecord, meta: dict[str, Any], object_id: str, dataset: str
) -> Table | None:
    """The abstract table of a dataset asset, or None if it is not a table of rows."""
    family = meta.get("family")
    labels, one_d = column_labels(meta)
    if family not in _TABLE_FAMILIES or not labels:
        return None
    n = len(labels)
    pairs: list[tuple[float | None, float | None]] = [(None, None)] * n
    if asset.bounds:
        given = [(float(b[0]), float(b[1])) for b in asset.bounds]
        pairs = [given[0]] * n if len(given) == 1 else list(given)  # type: ignore[misc]
    flags = list(asset.nullable or [False])
    flags = flags * n if len(flags) == 1 else flags
    categories = asset.categories or {}
    cols = []
    for label, (low, high), null in zip(labels, pairs, flags):
        keys = categories.get(str(label))
        cols.append(
            Col(
                label,
                None if low is None else float(low),
                None if high is None else float(high),
                bool(null),
                tuple(keys) if keys is not None else None,
            )
        )
    shape = tuple(meta.get("shape") or (0,))
    public = asset.public_rows
    dtype = str(meta.get("dtype") or "float64")
    return Table(
        family=str(family),
        cols=tuple(cols),
        one_d=one_d,
        space=object_id,
        rows=public,
        k=int(asset.max_rows_per_id or 1),
        replace=public is not None,
        filtered=False,
        datasets=frozenset({dataset}),
        max_rows=int(shape[0]) if shape else MAX_ROWS,
        dtype=dtype,
        source=object_id,
    )


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
