"""The envelope: prefix, buffer table, header and aligned out-of-band buffers, both ways."""

from __future__ import annotations

import struct
from typing import Any, Protocol

import numpy as np

from unseen.errors import DecodeError

from ._limits import Limits
from ._wire import ALIGN, MAGIC, WIRE_VERSION

__all__ = ["Buffer", "assemble", "assemble_parts", "Frame", "parse"]

_PREFIX = struct.Struct("<3sBIQ")  # magic, version, buffer count, header length: 16 bytes


class Deferred(Protocol):
    """A buffer that is written on demand (an Arrow stream): its size is known up front."""

    nbytes: int

    def write_into(self, dest: np.ndarray) -> None:
        """Write exactly ``nbytes`` bytes into the uint8 array ``dest``."""

    def tobytes(self) -> bytes:
        """The bytes, as a new object."""


#: an out-of-band buffer on the encode side: a numpy array of any layout (its bytes in C
#: order are sent), a flat contiguous memoryview of bytes, or a deferred writer
Buffer = np.ndarray | memoryview | Deferred


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _layout(header: bytes, buffers: list[Buffer]) -> tuple[bytes, list[int], int]:
    """The head (prefix, table, header), each buffer's offset and the total length."""
    sizes = [b.nbytes for b in buffers]
    head = b"".join(
        (
            _PREFIX.pack(MAGIC, WIRE_VERSION, len(sizes), len(header)),
            struct.pack(f"<{len(sizes)}Q", *sizes),
            header,
        )
    )
    offsets = []
    pos = len(head)
    for size in sizes:
        start = _align(pos)
        offsets.append(start)
        pos = start + size
    return head, offsets, pos


def _flat_bytes(buf: Buffer) -> memoryview:
    """A flat ``B`` memoryview of a buffer's bytes in C order (copies only if non-contiguous)."""
    if isinstance(buf, memoryview):
        return buf
    if not isinstance(buf, np.ndarray):
        return memoryview(buf.tobytes())
    arr = buf if buf.flags.c_contiguous else np.ascontiguousarray(buf)
    return arr.reshape(-1).view(np.uint8).data


def assemble(header: bytes, buffers: list[Buffer]) -> bytearray:
    """The whole message in one new bytearray; each buffer is copied exactly once."""
    if not buffers:
        return bytearray(_PREFIX.pack(MAGIC, WIRE_VERSION, 0, len(header)) + header)
    head, offsets, total = _layout(header, buffers)
    out = bytearray(total)
    dest = np.frombuffer(out, np.uint8)
    dest[: len(head)] = np.frombuffer(head, np.uint8)
    for buf, start in zip(buffers, offsets):
        part = dest[start : start + buf.nbytes]
        if isinstance(buf, memoryview):
            part[:] = np.frombuffer(buf, np.uint8)
        elif not isinstance(buf, np.ndarray):
            buf.write_into(part)
        elif buf.flags.c_contiguous:
            part[:] = buf.reshape(-1).view(np.uint8)
        else:  # gather straight into place
            np.copyto(part.view(buf.dtype).reshape(buf.shape), buf, casting="no")
    return out


def assemble_parts(header: bytes, buffers: list[Buffer]) -> list[bytes | memoryview]:
    """The same bytes as :func:`assemble`, as a list of parts that views the buffers."""
    if not buffers:
        return [_PREFIX.pack(MAGIC, WIRE_VERSION, 0, len(header)) + header]
    head, offsets, total = _layout(header, buffers)
    parts: list[bytes | memoryview] = []
    pending = head
    pos = len(head)
    for buf, start in zip(buffers, offsets):
        pending += bytes(start - pos)
        parts.append(pending)
        view = _flat_bytes(buf)
        parts.append(view)
        pos = start + view.nbytes
        pending = b""
    if pending or not parts:
        parts.append(pending)
    assert pos == total
    return parts


class Frame:
    """A parsed, bounds-checked message: its header and out-of-band buffers."""

    __slots__ = ("header", "buffers", "readonly", "_used")

    def __init__(self, header: memoryview, buffers: list[memoryview], readonly: bool) -> None:
        self.header = header
        self.buffers = buffers
        self.readonly = readonly
        self._used = bytearray(len(buffers))

    def take(self, ref: Any, nbytes: int | None = None) -> tuple[memoryview, bool]:
        """The bytes a data field refers to (inline bytes or a buffer index), and whether
        they are read-only. Each buffer may be taken once; ``nbytes`` is checked if given."""
        if type(ref) is bytes:
            view, readonly = memoryview(ref), True
        elif type(ref) is int:
            if not 0 <= ref < len(self.buffers):
                raise DecodeError(
                    f"data refers to buffer {ref} but the message has {len(self.buffers)}"
                )
            if self._used[ref]:
                raise DecodeError(f"buffer {ref} is referred to twice")
            self._used[ref] = 1
            view, readonly = self.buffers[ref], self.readonly
        else:
            raise DecodeError(f"data must be bytes or a buffer index, got {type(ref).__name__}")
        if nbytes is not None and view.nbytes != nbytes:
            raise DecodeError(
                f"data holds {view.nbytes} bytes but its dtype and shape need {nbytes}"
            )
        return view, readonly

    def check_all_used(self) -> None:
        """Every out-of-band buffer must belong to some value."""
        for i, used in enumerate(self._used):
            if not used:
                raise DecodeError(f"buffer {i} is not referred to by any value")


def parse(buf: Any, limits: Limits) -> Frame:
    """Check the envelope of ``buf`` against ``limits`` and slice it (no copies)."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise DecodeError(
            f"decode() needs bytes, bytearray or memoryview, got {type(buf).__name__}"
        ) from None
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        try:
            view = view.cast("B")
        except (TypeError, ValueError):
            raise DecodeError("decode() needs a contiguous buffer of bytes") from None
    elif view.format != "B":
        view = view.cast("B")
    if not view.c_contiguous:
        raise DecodeError("decode() needs a contiguous buffer of bytes")
    n = view.nbytes
    if n > limits.max_bytes:
        raise DecodeError(f"message of {n} bytes exceeds Limits.max_bytes={limits.max_bytes}")
    if n < _PREFIX.size:
        raise DecodeError(f"message of {n} bytes is shorter than the {_PREFIX.size}-byte prefix")
    magic, version, nbuf, hlen = _PREFIX.unpack_from(view, 0)
    if magic != MAGIC:
        raise DecodeError(f"bad magic {magic!r}: not an unseen message (expected {MAGIC!r})")
    if version != WIRE_VERSION:
        raise DecodeError(
            f"unsupported wire version {version}: this unseen reads version {WIRE_VERSION}; "
            "upgrade the older side"
        )
    if nbuf > limits.max_container_len:
        raise DecodeError(f"{nbuf} buffers exceed Limits.max_container_len")
    table_end = _PREFIX.size + 8 * nbuf
    if table_end > n:
        raise DecodeError(f"buffer table of {nbuf} entries runs past the end of the message")
    if hlen > limits.max_header_bytes:
        raise DecodeError(
            f"header of {hlen} bytes exceeds Limits.max_header_bytes={limits.max_header_bytes}"
        )
    header_end = table_end + hlen
    if header_end > n:
        raise DecodeError(f"header of {hlen} bytes runs past the end of the message ({n} bytes)")
    sizes = struct.unpack_from(f"<{nbuf}Q", view, _PREFIX.size)
    buffers = []
    pos = header_end
    for i, size in enumerate(sizes):
        if size > limits.max_array_bytes:
            raise DecodeError(
                f"buffer {i} of {size} bytes exceeds Limits.max_array_bytes="
                f"{limits.max_array_bytes}"
            )
        start = _align(pos)
        pos = start + size
        if pos > n:
            raise DecodeError(f"buffer {i} runs past the end of the message: truncated?")
        buffers.append(view[start:pos])
    if pos != n:
        raise DecodeError(f"{n - pos} unexpected bytes after the end of the message")
    return Frame(view[table_end:header_end], buffers, view.readonly)
