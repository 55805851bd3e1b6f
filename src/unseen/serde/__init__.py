"""Safe serialization: Python, numpy, torch and pandas objects to bytes and back, never pickle.

Public interface: :func:`encode`, :func:`encode_parts`, :func:`decode`, :class:`Limits`,
:data:`DEFAULT_LIMITS`, :func:`register` and :data:`WIRE_VERSION`.

Wire format (version 1; all integers little-endian)::

    offset 0   b"UNS"                     magic
           3   u8   version               WIRE_VERSION
           4   u32  nbuf                  number of out-of-band buffers
           8   u64  hlen                  header length in bytes
          16   u64 × nbuf                 length of each buffer
               hlen bytes                 the header: one msgpack value
               then each buffer, starting at the next multiple of 64 from offset 0
               (zero padding between); the message ends exactly at the last buffer's end

The header uses msgpack's nil, bool, int, float, str (UTF-8, lone surrogates passed
through), bin, array (= list) and map (= dict). Every other value is a *typed array*: an
array whose first element is an empty msgpack ext whose type code names the type, followed
by its fields, e.g. a tuple is ``[ext(1), item, ...]`` and an ndarray is
``[ext(16), dtype.str, shape, "C" | "F", data]``. ``data`` is inline bin for fewer than
64 KiB, else the int index of an out-of-band buffer holding the raw bytes. Codes below 64 are
built in (see ``_wire.py``); codes 64..127 belong to :func:`register`. Big ints travel as
two's complement bytes, torch dtypes without a numpy twin (bfloat16, float8, ...) as
unsigned ints of the same width, and pandas objects as uncompressed Arrow IPC streams with
labels and names in the header.

Decoding runs no code from the message: no pickle, no object dtype, no Arrow extension
types, dtype and torch-dtype allowlists, and every size, length, depth and count checked
against :class:`Limits` before anything is allocated. Any bad input raises
:class:`~unseen.errors.DecodeError` and nothing else.

Zero copy: :func:`encode` copies each large buffer once into one preallocated bytearray;
:func:`encode_parts` does not copy them at all. :func:`decode` of a writable buffer (a
bytearray) returns arrays and tensors that are views of it; of a read-only one (bytes) it
copies them, so that decoded arrays are always writable.

Not preserved: ``bytearray`` and ``memoryview`` decode as ``bytes``; pandas object-dtype
*columns* come back with the dtype Arrow infers (object columns of str become ``str``), and
``DataFrame.attrs`` is dropped. Not supported (UsageError on encode): pandas period, interval,
list, struct and other nested or extension columns (decode also refuses compressed Arrow
streams). Long double values carry their platform padding bytes as they lie in memory, so
their encodings are not byte-for-byte deterministic.
"""

from __future__ import annotations

from ._decode import decode
from ._encode import encode, encode_parts
from ._limits import DEFAULT_LIMITS, Limits
from ._registry import register
from ._wire import WIRE_VERSION

__all__ = [
    "encode",
    "encode_parts",
    "decode",
    "Limits",
    "DEFAULT_LIMITS",
    "register",
    "WIRE_VERSION",
]
