"""Objects to wire bytes: a msgpack packer whose default hook emits typed arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from unseen.errors import UnseenError, UsageError

from . import _frame, _numpy, _pandas, _registry, _torch
from ._wire import (
    BIGINT,
    COMPLEX,
    ELLIPSIS,
    EXT,
    FROZENSET,
    INLINE_MAX,
    MAX_BIGINT_BYTES,
    SET,
    SLICE,
    SUPPORTED,
    TUPLE,
    type_name,
)

__all__ = ["Encoder", "encode", "encode_parts"]


class Encoder:
    """One encode call: the msgpack default hook and the out-of-band buffers it collects."""

    __slots__ = ("buffers",)

    def __init__(self) -> None:
        self.buffers: list[_frame.Buffer] = []

    def data(self, src: _frame.Buffer) -> bytes | int:
        """Inline bytes for a small buffer, else the index of a new out-of-band buffer.
        An array is sent as its bytes in C order, whatever its layout."""
        if src.nbytes < INLINE_MAX:
            return src.tobytes()
        self.buffers.append(src)
        return len(self.buffers) - 1

    def default(self, obj: Any) -> Any:
        """msgpack's hook for everything it does not pack natively."""
        cls = type(obj)
        code = _registry.code_of(cls)
        if code is not None:
            entry = _registry.by_code(code)
            assert entry is not None
            return [EXT[code], entry.to_wire(obj)]
        simple = _SIMPLE.get(cls)
        if simple is not None:
            return simple(obj)
        module = getattr(cls, "__module__", "") or ""
        wire: Any = None
        if module.startswith("numpy") or cls is np.ndarray:
            wire = _numpy.encode_numpy(self, obj)
        elif module.startswith("torch"):
            wire = _torch.encode_torch(self, obj)
        elif module.startswith("pandas"):
            wire = _pandas.encode_pandas(self, obj)
        if wire is None:
            raise UsageError(f"cannot serialize {type_name(cls)}: {SUPPORTED}")
        return wire


def _bigint(obj: int) -> list[Any]:
    size = obj.bit_length() // 8 + 1
    if size > MAX_BIGINT_BYTES:
        raise UsageError(f"cannot serialize an int of {obj.bit_length()} bits (limit 512 Kibit)")
    return [EXT[BIGINT], obj.to_bytes(size, "little", signed=True)]


_SIMPLE: dict[type, Callable[[Any], Any]] = {
    tuple: lambda o: [EXT[TUPLE], *o],
    set: lambda o: [EXT[SET], *o],
    frozenset: lambda o: [EXT[FROZENSET], *o],
    complex: lambda o: [EXT[COMPLEX], o.real, o.imag],
    slice: lambda o: [EXT[SLICE], o.start, o.stop, o.step],
    type(Ellipsis): lambda o: [EXT[ELLIPSIS]],
    int: _bigint,  # msgpack calls the hook only for ints outside int64/uint64
}


def _header(obj: Any) -> tuple[bytes, list[_frame.Buffer]]:
    enc = Encoder()
    packer = msgpack.Packer(
        default=enc.default,
        use_bin_type=True,
        strict_types=True,
        unicode_errors="surrogatepass",
        datetime=False,
    )
    try:
        header = packer.pack(obj)
    except UnseenError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        if "recursion limit" in str(exc):
            raise UsageError(
                "cannot serialize: the object is nested too deeply or refers to itself"
            ) from exc
        raise UsageError(f"cannot serialize {type_name(type(obj))}: {exc}") from exc
    return header, enc.buffers


def encode(obj: Any) -> bytearray:
    """``obj`` as one new, writable bytearray (see the package docstring for the format)."""
    header, buffers = _header(obj)
    return _frame.assemble(header, buffers)


def encode_parts(obj: Any) -> list[bytes | memoryview]:
    """The same bytes as :func:`encode` as a list of parts: the head, then zero-copy views of
    the large array buffers (and padding). The views alias the live objects: send them before
    mutating those."""
    header, buffers = _header(obj)
    return _frame.assemble_parts(header, buffers)
