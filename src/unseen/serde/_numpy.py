"""numpy arrays, scalars and dtypes to and from the wire, behind a strict dtype allowlist."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from unseen.errors import DecodeError, UsageError

from ._wire import EXT, NDARRAY, NPDTYPE, NPSCALAR, short, type_name

if TYPE_CHECKING:
    from ._decode import Decoder
    from ._encode import Encoder

__all__ = ["encode_array", "encode_numpy", "array_from_bytes", "BUILDERS"]

# what dtype.str may look like on the wire: byte order, kind, size (and a datetime unit)
_DTYPE_RE = re.compile(
    r"[<>|](?:b1|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)"
    r"|[Mm]8(?:\[[0-9]{0,6}(?:Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?"
    r"|[US][1-9][0-9]{0,8})"
)
_MAX_NDIM = 64


def _dtype_ok(dt: np.dtype) -> bool:
    return (
        dt.kind in "biufcmMUS"
        and dt.fields is None
        and dt.subdtype is None
        and not dt.hasobject
        and dt.itemsize > 0
        and _DTYPE_RE.fullmatch(dt.str) is not None
    )


def wire_dtype(dt: np.dtype, what: str = "numpy array") -> str:
    """``dt.str`` after checking it against the allowlist (encode side)."""
    if not _dtype_ok(dt):
        raise UsageError(
            f"cannot serialize a {what} of dtype {dt!r}: allowed are bool, (u)int, float, "
            "complex, datetime64, timedelta64, fixed-width str (U) and bytes (S); object, "
            "structured and void dtypes never travel"
        )
    return str(dt.str)


@lru_cache(maxsize=512)
def _parse_dtype_cached(text: str) -> np.dtype:
    if _DTYPE_RE.fullmatch(text) is None:
        raise DecodeError(f"dtype {text!r} is not allowed")
    try:
        dt = np.dtype(text)
    except (TypeError, ValueError):
        raise DecodeError(f"dtype {text!r} is not known to this numpy") from None
    if not _dtype_ok(dt):
        raise DecodeError(f"dtype {text!r} is not allowed")
    return dt


def parse_dtype(text: Any) -> np.dtype:
    """The allowed numpy dtype named by ``text`` (decode side)."""
    if type(text) is not str or len(text) > 24:
        raise DecodeError(f"a dtype must be a short str, got {type(text).__name__}")
    return _parse_dtype_cached(text)


def parse_shape(shape: Any, limits_max: int) -> tuple[tuple[int, ...], int]:
    """A validated shape and its element count (bounded by ``limits_max``)."""
    if type(shape) is not list or len(shape) > _MAX_NDIM:
        raise DecodeError(f"a shape must be a list of at most {_MAX_NDIM} ints")
    for d in shape:
        if type(d) is not int or d < 0:
            raise DecodeError(f"shape {short(shape)} has a dimension that is not an int >= 0")
    count = math.prod(shape)
    if math.prod(max(d, 1) for d in shape) > limits_max:  # numpy refuses such shapes even empty
        raise DecodeError(f"shape {short(shape)} has too many elements (limit {limits_max})")
    return tuple(shape), count


def encode_array(enc: Encoder, arr: np.ndarray) -> list[Any]:
    """``[EXT[NDARRAY], dtype, shape, order, data]``; data is bytes or a buffer index."""
    dtype = wire_dtype(arr.dtype)
    if arr.flags.c_contiguous or not arr.flags.f_contiguous:
        order, src = "C", arr
    else:
        order, src = "F", arr.T
    return [EXT[NDARRAY], dtype, list(arr.shape), order, enc.data(src)]


def array_from_bytes(
    dec: Decoder, dtype: np.dtype, shape: tuple[int, ...], count: int, data: Any, order: str
) -> np.ndarray:
    """The array of ``shape`` over the bytes ``data`` refers to: a view when the input is
    writable, else a copy, so that the result is always writable."""
    nbytes = count * dtype.itemsize
    if nbytes > dec.limits.max_array_bytes:
        raise DecodeError(
            f"array of {nbytes} bytes exceeds Limits.max_array_bytes={dec.limits.max_array_bytes}"
        )
    view, readonly = dec.frame.take(data, nbytes)
    if nbytes == 0:
        arr = np.empty(shape if order == "C" else shape[::-1], dtype)
    else:
        arr = np.frombuffer(view, dtype)
        if readonly:
            arr = arr.copy()
        arr = arr.reshape(shape if order == "C" else shape[::-1])
    return arr if order == "C" else arr.T


def _build_array(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 4:
        raise DecodeError("an ndarray needs 4 fields: dtype, shape, order, data")
    dtype_s, shape_l, order, data = items
    dtype = parse_dtype(dtype_s)
    shape, count = parse_shape(shape_l, dec.limits.max_array_bytes)
    if order not in ("C", "F"):
        raise DecodeError(f"array order must be 'C' or 'F', got {short(order)}")
    return array_from_bytes(dec, dtype, shape, count, data, order), 0


def _build_scalar(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 2 or type(items[1]) is not bytes:
        raise DecodeError("a numpy scalar needs 2 fields: dtype and bytes")
    dtype = parse_dtype(items[0])
    if len(items[1]) != dtype.itemsize:
        raise DecodeError(f"a {dtype} scalar needs {dtype.itemsize} bytes, got {len(items[1])}")
    return np.frombuffer(items[1], dtype)[0], 0


def _build_dtype(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 1:
        raise DecodeError("a numpy dtype needs 1 field")
    return parse_dtype(items[0]), 0


def encode_numpy(enc: Encoder, obj: Any) -> list[Any] | None:
    """The wire form of a numpy array, scalar or dtype, or None if ``obj`` is none of them."""
    if isinstance(obj, np.ndarray):
        if type(obj) is not np.ndarray:
            raise UsageError(
                f"cannot serialize {type_name(type(obj))}: send a plain numpy.ndarray "
                "(np.asarray(x)) instead of a subclass"
            )
        return encode_array(enc, obj)
    if isinstance(obj, np.generic):
        arr = np.asarray(obj)
        return [EXT[NPSCALAR], wire_dtype(arr.dtype, "numpy scalar"), arr.tobytes()]
    if isinstance(obj, np.dtype):
        return [EXT[NPDTYPE], wire_dtype(obj, "numpy dtype")]
    return None


BUILDERS = {NDARRAY: _build_array, NPSCALAR: _build_scalar, NPDTYPE: _build_dtype}
