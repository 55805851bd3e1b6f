"""Arrow IPC streams, read only after checking for compression, allowed types and size."""

from __future__ import annotations

import struct
from typing import Any

from unseen.errors import DecodeError, UsageError

from ._limits import Limits
from ._wire import short

__all__ = ["pyarrow", "IpcStream", "check_encodable", "read_ipc"]

# flatbuffer Message.header union tags (Arrow's Message.fbs)
_SCHEMA, _DICTIONARY_BATCH, _RECORD_BATCH = 1, 2, 3


def pyarrow() -> Any:
    """The pyarrow module, imported on first use."""
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        raise DecodeError("the message holds pandas objects but pyarrow is not installed") from None
    return pyarrow


def _type_ok(pa: Any, t: Any) -> bool:
    types = pa.types
    if isinstance(t, pa.ExtensionType):
        return False
    if types.is_dictionary(t):
        value = t.value_type
        return (
            types.is_integer(t.index_type)
            and not types.is_dictionary(value)
            and _type_ok(pa, value)
        )
    return bool(
        types.is_null(t)
        or types.is_boolean(t)
        or types.is_integer(t)
        or types.is_floating(t)
        or types.is_decimal(t)
        or types.is_string(t)
        or types.is_large_string(t)
        or types.is_binary(t)
        or types.is_large_binary(t)
        or types.is_fixed_size_binary(t)
        or types.is_temporal(t)
    )


def _bad_field(pa: Any, schema: Any) -> Any:
    for field in schema:
        meta = field.metadata or {}
        if b"ARROW:extension:name" in meta or not _type_ok(pa, field.type):
            return field
    return None


def check_encodable(schema: Any, what: str) -> None:
    """Refuse (UsageError) a schema whose columns the decoder would refuse."""
    pa = pyarrow()
    bad = _bad_field(pa, schema)
    if bad is not None:
        raise UsageError(
            f"cannot serialize this {what}: column {bad.name!r} has Arrow type {bad.type}; "
            "allowed are bool, numbers, decimals, strings, bytes, dates and times, and "
            "categoricals of those (no nested, list, struct, interval or extension columns)"
        )


def _write(table: Any, sink: Any) -> None:
    with pyarrow().ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


class IpcStream:
    """A table as an uncompressed Arrow IPC stream, written only when and where needed."""

    def __init__(self, table: Any) -> None:
        self.table = table
        counter = pyarrow().MockOutputStream()
        _write(table, counter)
        self.nbytes: int = counter.size()

    def write_into(self, dest: Any) -> None:
        """Write the stream into ``dest`` (a writable buffer of exactly ``nbytes``)."""
        sink = pyarrow().FixedSizeBufferWriter(pyarrow().py_buffer(dest))
        _write(self.table, sink)
        if sink.tell() != self.nbytes:  # pragma: no cover - Arrow is deterministic
            raise UsageError("Arrow wrote a different stream size than it measured")

    def tobytes(self) -> bytes:
        out = bytearray(self.nbytes)
        self.write_into(out)
        return bytes(out)


class _Flat:
    """Just enough of a bounds-checked flatbuffer reader to find one optional field."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _u(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise DecodeError("Arrow message metadata is truncated")
        value: int = struct.unpack_from(fmt, self.data, pos)[0]
        return value

    def root(self) -> int:
        return self._u("<I", 0)

    def field(self, table: int, index: int) -> int:
        """Absolute position of field ``index`` of the table at ``table``, or 0 if absent."""
        vtable = table - self._u("<i", table)
        vsize = self._u("<H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return 0
        offset = self._u("<H", vtable + slot)
        return table + offset if offset else 0

    def u8(self, pos: int) -> int:
        return self._u("<B", pos)

    def deref(self, pos: int) -> int:
        return pos + self._u("<I", pos)


def _check_messages(pa: Any, source: Any) -> None:
    """Every message is a schema, dictionary or record batch, and none is compressed."""
    reader = pa.ipc.MessageReader.open_stream(source)
    while True:
        try:
            message = reader.read_next_message()
        except StopIteration:
            return
        flat = _Flat(message.metadata.to_pybytes())
        root = flat.root()
        tag_pos = flat.field(root, 1)
        header_pos = flat.field(root, 2)
        tag = flat.u8(tag_pos) if tag_pos else 0
        if tag == _SCHEMA:
            continue
        if tag not in (_DICTIONARY_BATCH, _RECORD_BATCH) or not header_pos:
            raise DecodeError(f"Arrow message of kind {tag} is not allowed")
        batch = flat.deref(header_pos)
        if tag == _DICTIONARY_BATCH:
            data_pos = flat.field(batch, 1)
            if not data_pos:
                raise DecodeError("Arrow dictionary batch without data")
            batch = flat.deref(data_pos)
        if flat.field(batch, 3):
            raise DecodeError("compressed Arrow buffers are not allowed")


def _output_bytes(pa: Any, table: Any) -> int:
    """A bound on what converting ``table`` to pandas allocates beyond its own buffers."""
    total = 0
    for column in table.columns:
        t = column.type
        width = 8
        if pa.types.is_dictionary(t):
            t = t.index_type
        try:
            width = max(width, t.bit_width // 8)
        except ValueError:
            pass
        total += len(column) * width
    return total


def read_ipc(view: memoryview, limits: Limits) -> Any:
    """The pyarrow Table in an IPC stream, after all checks (no copy of the data)."""
    pa = pyarrow()
    buffer = pa.py_buffer(view)
    _check_messages(pa, pa.BufferReader(buffer))
    table = pa.ipc.open_stream(pa.BufferReader(buffer)).read_all()
    bad = _bad_field(pa, table.schema)
    if bad is not None:
        raise DecodeError(
            f"Arrow column {short(bad.name)} of type {short(str(bad.type))} is not allowed"
        )
    if table.num_columns > limits.max_container_len:
        raise DecodeError(f"{table.num_columns} columns exceed Limits.max_container_len")
    if table.num_rows > limits.max_array_bytes or (
        _output_bytes(pa, table) > limits.max_array_bytes
    ):
        raise DecodeError(
            f"a table of {table.num_rows} rows x {table.num_columns} columns exceeds "
            f"Limits.max_array_bytes={limits.max_array_bytes}"
        )
    table.validate(full=True)
    return table
