"""Constants of the wire format: magic, version, alignment and the built-in type codes."""

from __future__ import annotations

from typing import Final

import msgpack

MAGIC: Final = b"UNS"
WIRE_VERSION: Final = 1
ALIGN: Final = 64
#: arrays and Arrow streams of at least this many bytes travel out of band
INLINE_MAX: Final = 64 * 1024
#: a big int travels as at most this many bytes (two's complement)
MAX_BIGINT_BYTES: Final = 64 * 1024

# built-in type codes (msgpack ext codes, 0..63); 64..127 belong to register()
TUPLE: Final = 1
SET: Final = 2
FROZENSET: Final = 3
COMPLEX: Final = 4
BIGINT: Final = 5
SLICE: Final = 6
ELLIPSIS: Final = 7
NDARRAY: Final = 16
NPSCALAR: Final = 17
NPDTYPE: Final = 18
TENSOR: Final = 24
TORCH_DTYPE: Final = 25
TORCH_SIZE: Final = 26
DATAFRAME: Final = 32
SERIES: Final = 33
INDEX: Final = 34
INDEX_OBJECT: Final = 35

BUILTIN_CODES: Final = frozenset(
    {
        TUPLE,
        SET,
        FROZENSET,
        COMPLEX,
        BIGINT,
        SLICE,
        ELLIPSIS,
        NDARRAY,
        NPSCALAR,
        NPDTYPE,
        TENSOR,
        TORCH_DTYPE,
        TORCH_SIZE,
        DATAFRAME,
        SERIES,
        INDEX,
        INDEX_OBJECT,
    }
)
FIRST_USER_CODE: Final = 64
LAST_USER_CODE: Final = 127

#: the empty ext value that opens a typed array, ``[EXT[code], field, ...]``
EXT: Final = tuple(msgpack.ExtType(code, b"") for code in range(128))


class Marker:
    """What the decoder's ext hook returns for ``EXT[code]``; never leaks into a result."""

    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Marker({self.code})"


MARKERS: Final = tuple(Marker(code) for code in range(128))

SUPPORTED: Final = (
    "supported are None, bool, int, float, complex, str, bytes, list, tuple, dict, set, "
    "frozenset, slice, Ellipsis, numpy arrays, scalars and dtypes (not object or structured), "
    "torch tensors, dtypes and Size, pandas DataFrame, Series and Index, and types added "
    "with unseen.serde.register()"
)


def type_name(cls: type) -> str:
    """``module.QualName`` of a class, for error messages."""
    module = getattr(cls, "__module__", "")
    qual = getattr(cls, "__qualname__", getattr(cls, "__name__", "?"))
    return qual if module in ("builtins", "") else f"{module}.{qual}"


def short(value: object, limit: int = 60) -> str:
    """A bounded repr of a value taken from a message, for error messages."""
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > limit:
        value = value[:limit]
        suffix = "..."
    else:
        suffix = ""
    try:
        text = repr(value)
    except Exception:  # e.g. an int too long for repr
        text = f"<{type(value).__name__}>"
    return (text[:limit] + "...") if len(text) > limit else text + suffix
