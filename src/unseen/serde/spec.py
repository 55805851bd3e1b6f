"""The facts of the wire format as data, for its documentation and for other implementations.

``docs/protocol.md`` and ``docs/protocol.schema.json`` are generated from these names (see
:mod:`unseen.messages.schema`), so that what they say is what the codec does. Nothing here
is used by the codec itself: it re-exports the codec's own constants.
"""

from __future__ import annotations

from typing import Final

from ._frame import _PREFIX
from ._numpy import _DTYPE_RE, _MAX_NDIM
from ._registry import by_code
from ._torch import _BITS, _NATIVE
from ._wire import (
    ALIGN,
    BIGINT,
    COMPLEX,
    DATAFRAME,
    ELLIPSIS,
    FIRST_USER_CODE,
    FROZENSET,
    INDEX,
    INDEX_OBJECT,
    INLINE_MAX,
    LAST_USER_CODE,
    MAGIC,
    MAX_BIGINT_BYTES,
    NDARRAY,
    NPDTYPE,
    NPSCALAR,
    SERIES,
    SET,
    SLICE,
    TENSOR,
    TORCH_DTYPE,
    TORCH_SIZE,
    TUPLE,
    WIRE_VERSION,
)

__all__ = [
    "MAGIC",
    "WIRE_VERSION",
    "PREFIX_FORMAT",
    "ALIGN",
    "INLINE_MAX",
    "MAX_BIGINT_BYTES",
    "MAX_NDIM",
    "DTYPE_PATTERN",
    "BUILTIN_TYPES",
    "FIRST_USER_CODE",
    "LAST_USER_CODE",
    "TORCH_DTYPES",
    "registered",
]

#: the fixed prefix of every message, as a :mod:`struct` format (little-endian): magic,
#: wire version, number of out-of-band buffers, header length
PREFIX_FORMAT: Final = _PREFIX.format
#: the most dimensions an array or tensor shape may have
MAX_NDIM: Final = _MAX_NDIM
#: every numpy dtype string (``dtype.str``) the codec allows matches this (a full match)
DTYPE_PATTERN: Final = _DTYPE_RE.pattern

#: the codec's own type codes (msgpack ext codes below :data:`FIRST_USER_CODE`), by name
BUILTIN_TYPES: Final[dict[str, int]] = {
    "tuple": TUPLE,
    "set": SET,
    "frozenset": FROZENSET,
    "complex": COMPLEX,
    "bigint": BIGINT,
    "slice": SLICE,
    "ellipsis": ELLIPSIS,
    "ndarray": NDARRAY,
    "npscalar": NPSCALAR,
    "npdtype": NPDTYPE,
    "tensor": TENSOR,
    "torch_dtype": TORCH_DTYPE,
    "torch_size": TORCH_SIZE,
    "dataframe": DATAFRAME,
    "series": SERIES,
    "index": INDEX,
    "index_object": INDEX_OBJECT,
}

#: every torch dtype that may travel, by name: (the numpy dtype string its bytes are laid out
#: as, whether those are only its bits: a dtype numpy lacks, carried as unsigned ints)
TORCH_DTYPES: Final[dict[str, tuple[str, bool]]] = {
    **{name: (carrier, False) for name, carrier in _NATIVE.items()},
    **{name: (carrier, True) for name, carrier in _BITS.items()},
}


def registered() -> dict[int, type]:
    """The types registered with :func:`unseen.serde.register` so far, by code."""
    found = {}
    for code in range(FIRST_USER_CODE, LAST_USER_CODE + 1):
        entry = by_code(code)
        if entry is not None:
            found[code] = entry.cls
    return found
