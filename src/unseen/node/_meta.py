"""Public metadata of a value the caller sent or the owner declared: kind, shape and dtype."""

from __future__ import annotations

from typing import Any

from unseen import ops


def public_meta(value: Any) -> dict[str, Any]:
    """What may be shown about an uploaded value without showing the value."""
    family = ops.family_of(value)
    meta: dict[str, Any] = {"family": family}
    if family in ("ndarray", "tensor"):
        meta["shape"] = tuple(int(n) for n in value.shape)
        meta["dtype"] = str(value.dtype)
    elif family == "dataframe":
        meta["shape"] = tuple(int(n) for n in value.shape)
        meta["columns"] = [str(c) for c in value.columns]
        meta["dtypes"] = [str(d) for d in value.dtypes]
    elif family in ("series", "index"):
        meta["shape"] = (len(value),)
        meta["dtype"] = str(value.dtype)
        meta["name"] = None if value.name is None else str(value.name)
    elif family == "value" and isinstance(value, (list, tuple)):
        meta["shape"] = (len(value),)
    return meta
