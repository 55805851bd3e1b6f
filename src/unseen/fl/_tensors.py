"""Parameters to bytes and back in the safetensors format, through the ``safetensors``
library (no pickle).

The library writes tensors sorted by dtype and name; the order of the parameters (a model's
order) travels in the metadata under ``unseen.order`` and comes back as it was. Whatever the
library refuses (a short buffer, an offset outside the data, a bad header) is a
:class:`~unseen.errors.DecodeError`.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from unseen.errors import DecodeError

__all__ = ["params_to_safetensors", "params_from_safetensors"]

_ORDER = "unseen.order"


def params_to_safetensors(
    params: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> bytes:
    """``params`` (name -> numpy array) as safetensors bytes; their order is kept."""
    from safetensors.numpy import save

    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if _ORDER in meta:
        raise DecodeError(f"the metadata key {_ORDER!r} is unseen's own")
    meta[_ORDER] = json.dumps(list(params))
    arrays = {name: np.ascontiguousarray(value) for name, value in params.items()}
    try:
        return save(arrays, metadata=meta)
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"parameters cannot be written as safetensors: {exc}") from None


def _metadata(data: bytes) -> dict[str, str]:
    """The header's ``__metadata__`` (the library reads it only from files); the library has
    checked the header already."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8 : 8 + length]))
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise DecodeError("safetensors __metadata__ must map strings to strings")
    return dict(meta)


def params_from_safetensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays (writable, in the order they were written) and the string metadata."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        arrays = load(bytes(data))
        meta = _metadata(data)
    except (SafetensorError, ValueError, struct.error) as exc:
        raise DecodeError(f"not valid safetensors data: {exc}") from None
    order = json.loads(meta.pop(_ORDER, "[]"))
    if not isinstance(order, list) or sorted(order) != sorted(arrays):
        order = list(arrays)  # written elsewhere: the library's order
    return {name: np.array(arrays[name]) for name in order}, meta
