"""Parameters to bytes and back in the safetensors format, without pickle or a dependency.

Layout (https://huggingface.co/docs/safetensors): a little-endian u64 header length, a JSON
header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``
and the raw little-endian data. Files written here open with the ``safetensors`` library and
back. Reading checks every offset, size and dtype before it touches the data.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from unseen.errors import DecodeError

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


def params_to_safetensors(
    params: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> bytes:
    """``params`` (name -> numpy array) as safetensors bytes, in their order."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks: list[bytes] = []
    offset = 0
    for name, value in params.items():
        array = np.ascontiguousarray(value)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        code = _CODES.get(np.dtype(dtype))
        if code is None:
            raise DecodeError(f"{name}: dtype {array.dtype} has no safetensors code")
        data = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}  # fmt: skip
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def params_from_safetensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays (writable copies, in file order) and the string metadata of ``data``."""
    view = memoryview(data)
    if len(view) < 8:
        raise DecodeError("safetensors data is shorter than its 8-byte header length")
    (hlen,) = struct.unpack("<Q", view[:8])
    if hlen > min(MAX_HEADER, len(view) - 8):
        raise DecodeError(f"safetensors header length {hlen} exceeds the data")
    try:
        header = json.loads(bytes(view[8 : 8 + hlen]))
    except ValueError as exc:
        raise DecodeError(f"safetensors header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise DecodeError("safetensors header is not a JSON object")
    body = view[8 + hlen :]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise DecodeError("safetensors __metadata__ must map strings to strings")
    entries = []
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise DecodeError(f"safetensors entry {name!r} is malformed") from None
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(body):
            raise DecodeError(f"safetensors entry {name!r} lies outside the data")
        if (end - begin) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise DecodeError(f"safetensors entry {name!r}: size does not match its shape")
        entries.append((begin, name, dtype, shape, end))
    out: dict[str, np.ndarray] = {}
    for begin, name, dtype, shape, end in sorted(entries, key=lambda e: e[0]):
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))  # fmt: skip
    return out, dict(metadata)
