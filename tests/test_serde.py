"""Round trips, zero copy, registration, limits and refusals of unseen.serde."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import subprocess
import sys
import textwrap
import tracemalloc
from collections import OrderedDict
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from unseen.errors import DecodeError, UsageError
from unseen.serde import (
    DEFAULT_LIMITS,
    WIRE_VERSION,
    Limits,
    _decode,
    _frame,
    _wire,
    decode,
    encode,
    encode_parts,
    register,
)

BIG = 1 << 17  # elements: above the 64 KiB inline threshold for every dtype


def _padded(obj: Any) -> bool:
    """long double values carry uninitialised padding bytes, so their encodings may differ."""
    return isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.type in (
        np.longdouble,
        np.clongdouble,
    )


def roundtrip(obj: Any, **kw: Any) -> Any:
    wire = encode(obj)
    assert isinstance(wire, bytearray)
    joined = b"".join(encode_parts(obj))
    assert len(joined) == len(wire)
    if not _padded(obj):
        assert joined == wire
    return decode(wire, **kw)


def assert_same(a: Any, b: Any) -> None:
    """Equal values of exactly the same types, recursively (NaN equals NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    elif isinstance(a, float):
        assert a == b or (math.isnan(a) and math.isnan(b))
    elif isinstance(a, complex):
        assert_same(a.real, b.real)
        assert_same(a.imag, b.imag)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    else:
        assert a == b


def wire_of(header: Any, buffers: list[Any] | None = None) -> bytearray:
    """A message with a hand-made header (typed arrays written as [EXT[code], ...])."""
    return _frame.assemble(msgpack.packb(header, use_bin_type=True), buffers or [])


# -- Python values -----------------------------------------------------------------------

PYTHON_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    10**100,
    -(10**300),
    1.5,
    -0.0,
    float("inf"),
    float("nan"),
    1 + 2j,
    complex(float("nan"), -0.0),
    "",
    "héllo wörld ∑",
    "lone \ud800 surrogate",
    b"",
    b"\x00\xff" * 10,
    [],
    (),
    {},
    set(),
    frozenset(),
    [1, [2, [3, []]]],
    (1, (2.0, "x"), [None]),
    ((),),
    {"a": 1, 2: "b", 3.5: None, None: [1], (1, "x"): {"n": ()}, b"k": frozenset({1})},
    {1, 2, "three", (4, 5)},
    frozenset({None, 1.5}),
    slice(1, 10, 2),
    slice(None),
    slice("a", (1,), None),
    Ellipsis,
    [Ellipsis, slice(None, -1)],
]


@pytest.mark.parametrize("value", PYTHON_VALUES, ids=repr)
def test_python_values_roundtrip(value: Any) -> None:
    out = roundtrip(value)
    assert_same(value, out)
    if isinstance(value, (set, frozenset)):
        assert out == value


def test_bytearray_and_memoryview_decode_as_bytes() -> None:
    assert roundtrip(bytearray(b"abc")) == b"abc"
    assert roundtrip(memoryview(b"xyz")) == b"xyz"


def test_tuple_and_list_stay_distinct() -> None:
    out = roundtrip([(1, 2), [1, 2], ([],), {"k": (3,)}])
    assert type(out[0]) is tuple and type(out[1]) is list
    assert type(out[2][0]) is list and type(out[3]["k"]) is tuple


def test_wire_version_and_prefix() -> None:
    wire = encode(1)
    assert WIRE_VERSION == 1
    assert wire[:3] == b"UNS" and wire[3] == WIRE_VERSION


# -- numpy --------------------------------------------------------------------------------

NUMERIC_DTYPES = [
    "?",
    "i1",
    "i2",
    "i4",
    "i8",
    "u1",
    "u2",
    "u4",
    "u8",
    "f2",
    "f4",
    "f8",
    "c8",
    "c16",
    np.longdouble,
    np.clongdouble,
    ">i4",
    ">f8",
    "<f8",
    ">c16",
    ">u2",
]
TIME_DTYPES = ["M8[ns]", "M8[D]", "M8[10ms]", "M8", "m8[s]", ">m8[us]", "M8[Y]"]
TEXT_DTYPES = ["U1", "U7", ">U3", "S1", "S9"]
ALL_DTYPES: list[Any] = NUMERIC_DTYPES + TIME_DTYPES + TEXT_DTYPES


def sample(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    dt = np.dtype(dtype)
    n = math.prod(shape)
    rng = np.random.default_rng(n)
    if dt.kind in "US":
        words = np.array(["", "a", "xyz", "héllo"[: dt.itemsize] if dt.kind == "U" else "hi"])
        values = words[rng.integers(0, len(words), n)].astype(dt)
    elif dt.kind in "Mm":
        values = rng.integers(-(10**6), 10**6, n).astype(dt)
        if n:
            values[0] = np.array("NaT", dtype=dt)
    elif dt.kind == "b":
        values = rng.random(n) > 0.5
    else:
        values = (rng.random(n) * 100).astype(dt)
        if dt.kind in "fc" and n > 1:
            values[1] = np.nan
    return values.astype(dt).reshape(shape)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 4), (0, 3), (2, 0, 4), (2, 3, 4)])
def test_ndarray_roundtrip(dtype: Any, shape: tuple[int, ...]) -> None:
    arr = sample(dtype, shape)
    out = roundtrip(arr)
    assert_same(arr, out)
    assert out.dtype.str == arr.dtype.str  # byte order kept too


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_ndarray_layouts_small_and_big(dtype: Any) -> None:
    for n in (7, BIG):
        base = sample(dtype, (n, 3))
        for arr in (base, np.asfortranarray(base), base[::2, ::-1], base.T, base[:, 1]):
            out = roundtrip(arr)
            assert_same(arr, out)
            if arr.flags.f_contiguous and not arr.flags.c_contiguous:
                assert out.flags.f_contiguous


@pytest.mark.parametrize(
    "scalar",
    [
        np.bool_(True),
        np.int8(-3),
        np.int16(7),
        np.int32(-9),
        np.int64(2**62),
        np.uint8(255),
        np.uint16(9),
        np.uint32(2**31),
        np.uint64(2**64 - 1),
        np.float16(1.5),
        np.float32(1.5),
        np.float64(-2.25),
        np.float64("nan"),
        np.longdouble("1.1"),
        np.complex64(1 - 2j),
        np.complex128(3 + 4j),
        np.clongdouble(1 + 1j),
        np.datetime64("2024-02-29T12:00", "ns"),
        np.datetime64("NaT"),
        np.datetime64(1, "10ms"),  # type: ignore[call-overload]
        np.timedelta64(5, "h"),
        np.str_("héllo"),
        np.bytes_(b"ab"),
    ],
    ids=repr,
)
def test_numpy_scalar_roundtrip(scalar: Any) -> None:
    out = roundtrip(scalar)
    assert type(out) is type(scalar) and out.dtype == scalar.dtype
    assert_same(scalar, out)


def test_numpy_dtype_objects_roundtrip() -> None:
    dtypes = [np.dtype(d) for d in ALL_DTYPES]  # type: ignore[call-overload]
    out = roundtrip(dtypes)
    assert out == dtypes and [d.str for d in out] == [d.str for d in dtypes]


@pytest.mark.filterwarnings("ignore:the matrix subclass")
@pytest.mark.parametrize(
    "make",
    [
        lambda: np.array([1, "a"], dtype=object),
        lambda: np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
        lambda: np.zeros(2, dtype="V8"),
        lambda: np.void(b"abc"),
        lambda: np.dtype(object),
        lambda: np.dtype([("a", "i4")]),
        lambda: np.ma.masked_array([1, 2], mask=[False, True]),
        lambda: np.matrix([[1, 2]]),
    ],
)
def test_numpy_refusals(make: Any) -> None:
    with pytest.raises(UsageError, match="cannot serialize"):
        encode(make())


# -- zero copy ------------------------------------------------------------------------------


def test_decode_bytearray_is_zero_copy_and_bytes_is_writable_copy() -> None:
    arr = np.arange(BIG, dtype=np.float64)
    wire = encode({"a": arr})
    out = decode(wire)["a"]
    assert np.shares_memory(out, np.frombuffer(wire, np.uint8))
    assert out.flags.writeable
    out[0] = 42.0  # a view into the message buffer
    assert decode(wire)["a"][0] == 42.0

    frozen = bytes(encode(arr))
    out2 = decode(frozen)
    assert out2.flags.writeable and not np.shares_memory(out2, np.frombuffer(frozen, np.uint8))
    out2[0] = 1.0
    np.testing.assert_array_equal(decode(frozen), arr)

    ro_view = memoryview(wire).toreadonly()
    out3 = decode(ro_view)["a"]
    assert out3.flags.writeable and not np.shares_memory(out3, np.frombuffer(wire, np.uint8))
    assert np.shares_memory(decode(memoryview(wire))["a"], np.frombuffer(wire, np.uint8))


def test_small_arrays_from_bytes_are_writable() -> None:
    out = decode(bytes(encode([np.arange(3), np.float32(2)])))
    assert out[0].flags.writeable


def test_encode_parts_are_views_and_aligned() -> None:
    big = np.arange(BIG, dtype=np.int64)
    other = np.ones((BIG, 2), dtype=np.float32, order="F")
    parts = encode_parts([big, "x", other])
    views = [p for p in parts if isinstance(p, memoryview)]
    assert len(views) == 2
    assert np.shares_memory(np.frombuffer(views[0], np.uint8), big)
    assert np.shares_memory(np.frombuffer(views[1], np.uint8), other)
    offset = 0
    for part in parts:
        if isinstance(part, memoryview):
            assert offset % 64 == 0
        offset += len(part) if isinstance(part, bytes) else part.nbytes
    assert b"".join(parts) == encode([big, "x", other])


def test_encode_copies_big_buffer_once_into_place() -> None:
    arr = np.arange(BIG * 4, dtype=np.float64)
    tracemalloc.start()
    try:
        wire = encode(arr)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < arr.nbytes * 1.2  # the output buffer, no intermediate copy
    np.testing.assert_array_equal(decode(wire), arr)


# -- registration -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    label: str
    data: Any


def _point_to_wire(p: Point) -> tuple[Any, ...]:
    return (p.x, p.label, p.data)


def _point_from_wire(w: Any) -> Point:
    x, label, data = w
    return Point(x, label, data)


register(100, Point, _point_to_wire, _point_from_wire)


class Broken:
    pass


register(101, Broken, lambda b: 1, lambda w: (_ for _ in ()).throw(ValueError("nope")))


def test_registered_type_roundtrip_nested() -> None:
    big = np.arange(BIG, dtype=np.int32)
    p = Point(1.5, "a", np.arange(3.0))
    q = Point(-1.0, "b", [p, big, (1, 2)])
    out = roundtrip({"points": [p, q], "key": (p.label,), "inner": {"q": q}})
    assert isinstance(out["points"][0], Point)
    assert out["points"][0].label == "a"
    np.testing.assert_array_equal(out["points"][0].data, p.data)
    inner = out["inner"]["q"]
    assert isinstance(inner.data[0], Point) and type(inner.data[2]) is tuple
    np.testing.assert_array_equal(inner.data[1], big)


def test_register_errors() -> None:
    register(100, Point, _point_to_wire, _point_from_wire)  # the same again is fine

    class Other:
        pass

    with pytest.raises(UsageError, match="already taken"):
        register(100, Other, lambda o: 0, lambda w: Other())
    with pytest.raises(UsageError, match="already registered"):
        register(102, Point, _point_to_wire, _point_from_wire)
    for code in (0, 63, 128, -1, "100"):
        with pytest.raises(UsageError, match="code"):
            register(code, Other, lambda o: 0, lambda w: Other())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="built in"):
        register(103, tuple, lambda o: 0, lambda w: ())
    with pytest.raises(UsageError, match="callables"):
        register(103, Other, None, None)  # type: ignore[arg-type]


def test_registered_from_wire_failure_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="Broken"):
        decode(encode(Broken()))


def test_unknown_code_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown type code 99"):
        decode(wire_of([_wire.EXT[99], 1]))
    with pytest.raises(DecodeError, match="unknown type code 60"):
        decode(wire_of([_wire.EXT[60]]))


# -- refusals on encode ----------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "bad",
    [
        object(),
        lambda: 1,
        Color.RED,
        OrderedDict(a=1),
        datetime.datetime(2020, 1, 1),
        range(3),
        type,
        [1, {"k": object()}],
        2 ** (8 * 70_000),
    ],
    ids=lambda x: type(x).__name__,
)
def test_unsupported_types_raise_usage_error(bad: Any) -> None:
    with pytest.raises(UsageError, match="cannot serialize"):
        encode(bad)
    with pytest.raises(UsageError, match="cannot serialize"):
        encode_parts(bad)


def test_unsupported_message_lists_supported_types() -> None:
    with pytest.raises(UsageError, match="supported are .*numpy.*register"):
        encode(object())


def test_self_reference_is_usage_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UsageError, match="nested too deeply"):
        encode(loop)


# -- limits and malformed input ------------------------------------------------------------------


def test_limits_validation() -> None:
    assert DEFAULT_LIMITS == Limits()
    with pytest.raises(UsageError):
        Limits(max_depth=0)
    with pytest.raises(UsageError):
        Limits(max_bytes=-1)
    with pytest.raises(UsageError):
        Limits(max_depth=10_000)
    with pytest.raises(DecodeError):
        decode(encode(1), limits="tight")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "limits", "match"),
    [
        ([[[[1]]]], Limits(max_depth=3), "max_depth"),
        ((((((),),),),), Limits(max_depth=3), "max_depth"),
        ({"a": {"b": {"c": {}}}}, Limits(max_depth=3), "max_depth"),
        (list(range(100)), Limits(max_container_len=50), "max_array_len|exceeds"),
        ({i: i for i in range(100)}, Limits(max_container_len=50), "max_map_len|exceeds"),
        ([[] for _ in range(100)], Limits(max_containers=50), "max_containers"),
        ("x" * 1000, Limits(max_str_len=100), "max_str_len|exceeds"),
        (b"x" * 1000, Limits(max_str_len=100), "max_bin_len|exceeds"),
        (np.zeros(BIG), Limits(max_array_bytes=1000), "max_array_bytes"),
        (np.zeros(100), Limits(max_array_bytes=100), "max_array_bytes"),
        (np.zeros(100), Limits(max_bytes=100), "max_bytes"),
        ("x" * 1000, Limits(max_header_bytes=100), "max_header_bytes"),
    ],
)
def test_limits_are_enforced(value: Any, limits: Limits, match: str) -> None:
    wire = encode(value)
    decode(wire)  # fine with the defaults
    with pytest.raises(DecodeError, match=match):
        decode(wire, limits)


def test_depth_limit_counts_registered_and_arrays() -> None:
    nested: Any = np.zeros(2)
    for _ in range(40):
        nested = [nested]
    with pytest.raises(DecodeError, match="max_depth"):
        decode(encode(nested))
    p: Any = 1
    for _ in range(40):
        p = Point(0.0, "", p)
    with pytest.raises(DecodeError, match="max_depth"):
        decode(encode(p))


def test_bad_envelopes() -> None:
    wire = encode([np.arange(BIG), "x"])
    with pytest.raises(DecodeError, match="bad magic"):
        decode(b"XYZ" + wire[3:])
    bumped = bytearray(wire)
    bumped[3] = 99
    with pytest.raises(DecodeError, match="unsupported wire version 99"):
        decode(bumped)
    with pytest.raises(DecodeError, match="shorter than"):
        decode(b"UNS")
    with pytest.raises(DecodeError, match="truncated|past the end"):
        decode(wire[:-1])
    with pytest.raises(DecodeError, match="unexpected bytes"):
        decode(wire + b"\0")
    with pytest.raises(DecodeError, match="needs bytes"):
        decode("UNS")  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        decode(b"")


HEADER_CASES = [
    ([_wire.EXT[16], "|O", [1], "C", b"\0" * 8], "not allowed"),
    ([_wire.EXT[16], "O", [1], "C", b"\0" * 8], "not allowed"),
    ([_wire.EXT[16], "|V8", [1], "C", b"\0" * 8], "not allowed"),
    ([_wire.EXT[16], "<U0", [0], "C", b""], "not allowed"),
    ([_wire.EXT[16], "<f8", [-1], "C", b""], "dimension"),
    ([_wire.EXT[16], "<f8", [2**62, 2**62], "C", b""], "too many elements"),
    ([_wire.EXT[16], "<f8", [0, 2**63], "C", b""], "too many elements"),
    ([_wire.EXT[16], "<f8", [2**40, 0, 2**40], "C", b""], "too many elements"),
    ([_wire.EXT[16], "<f8", [3], "C", b"\0" * 16], "need 24"),
    ([_wire.EXT[16], "<f8", [1] * 65, "C", b"\0" * 8], "shape"),
    ([_wire.EXT[16], "<f8", [1], "X", b"\0" * 8], "order"),
    ([_wire.EXT[16], "<f8", [1], "C", 0], "buffer 0"),
    ([_wire.EXT[16], "<f8", [1], "C", "text"], "bytes or a buffer"),
    ([_wire.EXT[16], "<f8", "1", "C", b"\0" * 8], "shape"),
    ([_wire.EXT[16], "<f8", [1]], "4 fields"),
    ([_wire.EXT[17], "<f8", b"\0"], "needs 8 bytes"),
    ([_wire.EXT[18], "object"], "not allowed"),
    ([_wire.EXT[18], "<M8[xx]"], "not allowed"),
    ([_wire.EXT[5], b"\0" * 70_000], "big int"),
    ([_wire.EXT[4], 1, 2], "complex"),
    ([_wire.EXT[7], 1], "Ellipsis"),
    ([_wire.EXT[6], 1], "slice"),
    ([_wire.EXT[24], "qint8", [1], False, 0, b"\0"], "not allowed"),
    ([_wire.EXT[24], "int64", [1], True, 0, b"\0" * 8], "grad"),
    ([_wire.EXT[24], "float32", [2], False, 7, b"\0" * 8], "kind"),
    ([_wire.EXT[25], "bits8"], "not allowed"),
    ([_wire.EXT[26], -1], "torch.Size"),
    ([1, _wire.EXT[1]], "marker"),
    ({"k": _wire.EXT[1]}, "marker"),
    (_wire.EXT[1], "marker"),
    (msgpack.ExtType(1, b"x"), "ext"),
    (msgpack.Timestamp(1, 0), "ext|Timestamp"),
    ([msgpack.Timestamp(1, 0)], "ext|Timestamp"),
    ({(1, 2): 3}, "unhashable"),
    ([_wire.EXT[2], [1]], "unhashable"),
    ([_wire.EXT[34], "range", [0, 1, 0], [None], None], "step"),
    ([_wire.EXT[34], "nope", [], [None], None], "kind"),
    ([_wire.EXT[32], b"", 1, 2], "DataFrame"),
]


@pytest.mark.parametrize(("header", "match"), HEADER_CASES, ids=lambda x: repr(x)[:40])
def test_crafted_headers_are_decode_errors(header: Any, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(wire_of(header))


def test_buffer_references_must_be_exact() -> None:
    buf = np.zeros(BIG, np.uint8)
    twice = [[_wire.EXT[16], "|u1", [BIG], "C", 0], [_wire.EXT[16], "|u1", [BIG], "C", 0]]
    with pytest.raises(DecodeError, match="twice"):
        decode(wire_of(twice, [buf]))
    with pytest.raises(DecodeError, match="not referred"):
        decode(wire_of(1, [buf]))
    with pytest.raises(DecodeError, match="buffer 1"):
        decode(wire_of([_wire.EXT[16], "|u1", [BIG], "C", 1], [buf]))


def test_deep_nesting_is_refused_quickly() -> None:
    for opener in (b"\x91", b"\x92\xc7\x00\x01"):  # plain lists, tuples
        header = opener * 10_000 + b"\xc0"
        with pytest.raises(DecodeError):
            decode(_frame.assemble(header, []))


def test_hash_flooding_is_refused() -> None:
    # distinct (big) ints with one hash: a set or dict of them takes quadratic time to build
    p = sys.hash_info.modulus
    keys = [[_wire.EXT[5], (1 + i * p).to_bytes(16, "little", signed=True)] for i in range(20_000)]
    with pytest.raises(DecodeError, match="colliding"):
        decode(wire_of([_wire.EXT[2], *keys]))
    body = b"".join(msgpack.packb(k) + b"\x00" for k in keys)
    header = b"\xde" + len(keys).to_bytes(2, "big") + body  # map16
    with pytest.raises(DecodeError, match="colliding"):
        decode(_frame.assemble(header, []))


def test_huge_declared_lengths_do_not_allocate() -> None:
    cases = [
        b"\xdd\xff\xff\xff\xff",  # array32 of 4G items
        b"\xdf\xff\xff\xff\xff",  # map32 of 4G pairs
        b"\xdb\xff\xff\xff\xff",  # str32 of 4 GB
        b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GB
        b"\xc9\xff\xff\xff\xff\x01",  # ext32 of 4 GB
    ]
    tracemalloc.start()
    try:
        for header in cases:
            with pytest.raises(DecodeError):
                decode(_frame.assemble(header, []))
        crafted = bytearray(_frame.assemble(b"\xc0", []))
        crafted[4:16] = (2**31).to_bytes(4, "little") + (2**60).to_bytes(8, "little")
        with pytest.raises(DecodeError):
            decode(crafted)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_errors_never_leak_other_types() -> None:
    wire = encode({"a": [np.arange(10), (1, 2)], "b": "text"})
    for i in range(len(wire)):
        for value in (0x00, 0xFF, wire[i] ^ 0x01):
            mutated = bytearray(wire)
            mutated[i] = value
            try:
                decode(mutated)
            except DecodeError:
                pass


# -- hypothesis round trips ----------------------------------------------------------------------

DTYPES = (
    hnp.boolean_dtypes()
    | hnp.integer_dtypes(endianness="?")
    | hnp.unsigned_integer_dtypes(endianness="?")
    | hnp.floating_dtypes(endianness="?")
    | hnp.complex_number_dtypes(endianness="?")
    | hnp.datetime64_dtypes(endianness="?")
    | hnp.timedelta64_dtypes(endianness="?")
    | hnp.unicode_string_dtypes(endianness="?", min_len=1, max_len=8)
    | hnp.byte_string_dtypes(min_len=1, max_len=8)
)
ARRAYS = DTYPES.flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arr=ARRAYS, layout=st.sampled_from(["C", "F", "strided"]))
def test_hypothesis_arrays_roundtrip(arr: np.ndarray, layout: str) -> None:
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = arr[::-2]
    out = roundtrip(arr)
    assert out.dtype.str == arr.dtype.str and out.shape == arr.shape
    assert out.tobytes() == arr.tobytes()


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.complex_numbers(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | hnp.from_dtype(np.dtype("f4"))
    | hnp.from_dtype(np.dtype("i2"))
    | hnp.from_dtype(np.dtype("M8[s]"))
)
KEYS = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS | hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(KEYS | st.tuples(KEYS, KEYS), inner, max_size=4)
        | st.frozensets(KEYS, max_size=4)
        | st.sets(st.integers(), max_size=4)
        | st.builds(Point, st.floats(allow_nan=False), st.text(max_size=4), inner)
    ),
    max_leaves=20,
)


def assert_same_deep(a: Any, b: Any) -> None:
    if isinstance(a, Point):
        assert type(b) is Point and a.x == b.x and a.label == b.label
        assert_same_deep(a.data, b.data)
    elif isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype.str == b.dtype.str and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_deep(x, y)
    elif isinstance(a, dict):
        assert type(b) is dict and list(a) == list(b)
        for k in a:
            assert_same_deep(a[k], b[k])
    elif isinstance(a, (set, frozenset)):
        assert type(a) is type(b) and a == b
    else:
        assert_same(a, b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
def test_hypothesis_nested_values_roundtrip(value: Any) -> None:
    assert_same_deep(value, roundtrip(value))
    assert_same_deep(value, decode(bytes(encode(value))))


# -- the hook-free fast path for small plain headers ------------------------------------------------

PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=5) | st.integers(-5, 5), inner, max_size=5)
    ),
    max_leaves=30,
)


def _via_hooks(wire: Any, limits: Limits) -> Any:
    """``decode`` with the fast path switched off (the reference)."""
    saved = _decode._PLAIN_MAX
    _decode._PLAIN_MAX = -1
    try:
        return decode(wire, limits)
    finally:
        _decode._PLAIN_MAX = saved


@settings(max_examples=300, deadline=None)
@given(value=PLAIN, depth=st.integers(1, 6))
def test_fast_path_agrees_with_the_hooks(value: Any, depth: int) -> None:
    wire = encode(value)
    limits = Limits(max_depth=depth)
    try:
        expected: Any = _via_hooks(wire, limits)
    except DecodeError as exc:
        with pytest.raises(DecodeError, match="max_depth"):
            decode(wire, limits)
        assert "max_depth" in str(exc)
        return
    assert_same_deep(expected, decode(wire, limits))


def test_fast_path_is_taken_for_small_plain_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    hooked: list[int] = []
    real = _decode.Decoder.__init__

    def counting(self: Any, *args: Any) -> None:
        hooked.append(1)
        real(self, *args)

    monkeypatch.setattr(_decode.Decoder, "__init__", counting)
    assert decode(encode({"v": [1, 0], "kind": "node.info", "body": {}}))["kind"] == "node.info"
    assert decode(encode(["\u00c7", b"\xd4\xc7", {b"k": None}])) == [
        "\u00c7",
        b"\xd4\xc7",
        {b"k": None},
    ]
    assert hooked == []
    # a typed value (an ext marker), or a large header, goes through the hooks
    assert decode(encode([1, {"t": (1, 2)}])) == [1, {"t": (1, 2)}]
    assert decode(encode({(1, 2): 3})) == {(1, 2): 3}
    assert decode(encode(["x" * 5000])) == ["x" * 5000]
    assert hooked == [1, 1, 1]


def test_a_typed_header_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[int] = []
    real = _decode._unpack
    monkeypatch.setattr(_decode, "_unpack", lambda *a, **k: passes.append(1) or real(*a, **k))
    assert decode(encode({"v": [1, 0], "body": {"t": (1, 2)}}))["body"] == {"t": (1, 2)}
    assert passes == [1]


@pytest.mark.parametrize(
    "header",
    [b"\xd4\x05\x00", b"\x91\xd5\xff\x00\x00", b"\xc7\x01\x10\x00", b"\xd6\xff\x00\x00\x00\x00"],
)
def test_foreign_ext_values_are_refused_on_either_path(header: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(_frame.assemble(header, []))


def test_fast_path_counts_containers_and_keeps_many_small_keys() -> None:
    with pytest.raises(DecodeError, match="max_containers"):
        decode(encode([[] for _ in range(100)]), Limits(max_containers=50))
    many = {i: 0 for i in range(1500)}  # 1500 distinct hashes: no flooding
    assert decode(encode(many)) == many


# -- import isolation ---------------------------------------------------------------------------------


def test_import_does_not_pull_heavy_libraries() -> None:
    code = textwrap.dedent(
        """
        import sys
        import unseen.serde as s
        s.decode(s.encode({"a": (1, 2.0), "b": __import__("numpy").arange(3)}))
        heavy = [m for m in ("torch", "pandas", "pyarrow") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- torch ---------------------------------------------------------------------------------------------

TORCH_DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex32",
    "complex64",
    "complex128",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
]


def tensor_sample(torch: Any, dtype: Any, shape: tuple[int, ...]) -> Any:
    n = math.prod(shape)
    raw = torch.randint(0, 256, (n * dtype.itemsize,), dtype=torch.uint8)
    if dtype == torch.bool:
        return (raw[:n] % 2 == 1).reshape(shape)
    return raw.view(dtype).reshape(shape)


def tensor_bits(torch: Any, t: Any) -> bytes:
    if t.numel() == 0:
        return b""
    return bytes(t.clone().contiguous().view(-1).view(torch.uint8).numpy())


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("name", TORCH_DTYPES)
def test_torch_tensor_roundtrip(name: str) -> None:
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, name, None)
    if dtype is None:
        pytest.skip(f"torch.{name} not in this torch")
    for shape in [(), (0,), (4,), (3, 5), (2, 0, 3), (BIG,)]:
        t = tensor_sample(torch, dtype, shape)
        for x in (t, t.T if t.ndim == 2 else t, t[::2] if t.ndim else t):
            out = roundtrip(x)
            assert type(out) is torch.Tensor and out.dtype == dtype
            assert out.shape == x.shape and out.device.type == "cpu"
            assert tensor_bits(torch, out) == tensor_bits(torch, x)  # bit-exact, NaNs too
            assert not out.requires_grad


def test_torch_grad_parameter_and_metadata() -> None:
    torch = pytest.importorskip("torch")
    leaf = torch.randn(3, 4, requires_grad=True)
    out = roundtrip(leaf * 2)
    assert out.requires_grad and out.is_leaf and out.grad_fn is None
    assert torch.equal(out, (leaf * 2).detach())
    param = torch.nn.Parameter(torch.randn(5))
    p_out = roundtrip(param)
    assert type(p_out) is torch.nn.Parameter and p_out.requires_grad
    assert torch.equal(p_out, param)
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    f_out = roundtrip(frozen)
    assert type(f_out) is torch.nn.Parameter and not f_out.requires_grad
    half = roundtrip(torch.ones(2, dtype=torch.bfloat16, requires_grad=True))
    assert half.requires_grad and half.dtype == torch.bfloat16
    conj = torch.randn(3, dtype=torch.complex64).conj()
    assert torch.equal(roundtrip(conj), conj)
    meta = roundtrip([torch.float32, torch.bfloat16, torch.Size([2, 3]), torch.Size([])])
    assert meta == [torch.float32, torch.bfloat16, torch.Size([2, 3]), torch.Size([])]
    assert type(meta[2]) is torch.Size


def test_torch_decode_zero_copy() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(BIG, dtype=torch.float32)
    wire = encode(t)
    out = decode(wire)
    assert np.shares_memory(out.numpy(), np.frombuffer(wire, np.uint8))
    out_ro = decode(bytes(wire))
    out_ro[0] = 5  # writable copy, no warning
    assert torch.equal(decode(bytes(wire)), t)


def test_torch_refusals() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(UsageError, match="sparse"):
        encode(torch.eye(3).to_sparse())
    with pytest.raises(UsageError, match="meta"):
        encode(torch.empty(3, device="meta"))
    with pytest.warns(UserWarning):
        q = torch.quantize_per_tensor(torch.randn(3), 0.1, 0, torch.quint8)
    with pytest.raises(UsageError, match="quantized"):
        encode(q)
    with pytest.raises(UsageError, match="dtype"):
        encode(torch.qint8)


# -- pandas ---------------------------------------------------------------------------------------------


def frames(pd: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "mixed": pd.DataFrame(
            {
                "i": [1, 2, 3],
                "s": ["x", "y", None],
                "cat": pd.Categorical(["a", "b", "a"]),
                "ocat": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
                "Int64": pd.array([1, None, 3], dtype="Int64"),
                "boolean": pd.array([True, None, False], dtype="boolean"),
                "Float64": pd.array([1.5, None, 2.0], dtype="Float64"),
                "string": pd.array(["a", None, "c"], dtype="string"),
                "tz": pd.date_range("2020", periods=3, tz="Europe/Paris"),
                "naive": pd.date_range("2021", periods=3, freq="h"),
                "td": pd.to_timedelta([1, 2, 3], unit="s"),
                "f4": np.arange(3, dtype="float32"),
                "u1": np.arange(3, dtype="uint8"),
                "b": [True, False, True],
                7: [1.0, np.nan, 3.0],
            },
            index=pd.Index([10, 20, 30], name="idx"),
        ),
        "range_index": pd.DataFrame({"x": rng.random(5)}),
        "named_range": pd.DataFrame({"x": np.arange(5)}, index=pd.RangeIndex(2, 12, 2, name="r")),
        "multi_index": pd.DataFrame(
            {"v": [1.0, 2.0, 3.0, 4.0]},
            index=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", 0]),
        ),
        "multi_columns": pd.DataFrame(
            np.ones((2, 4)),
            columns=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["l0", None]),
        ),
        "duplicate_columns": pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]),
        "int_columns": pd.DataFrame([[1, 2]], columns=[5, 6]),
        "mixed_labels": pd.DataFrame([[1, 2]], columns=["a", 1]),
        "tuple_label": pd.DataFrame({("a", "b"): [1]}),
        "index_colliding_with_column": pd.DataFrame(
            {"0": [1, 2]}, index=pd.Index([5, 6], name="0")
        ),
        "categorical_index": pd.DataFrame({"a": [1, 2]}, index=pd.CategoricalIndex(["x", "y"])),
        "datetime_index": pd.DataFrame(
            {"a": [1, 2]}, index=pd.date_range("2020", periods=2, freq="D", name="when")
        ),
        "empty": pd.DataFrame(),
        "no_columns": pd.DataFrame(index=pd.Index([1, 2, 3], name="i")),
        "no_rows": pd.DataFrame({"a": pd.Series([], dtype="float32")}),
        "big": pd.DataFrame({"x": rng.random(BIG), "y": rng.integers(0, 9, BIG)}),
    }


def test_pandas_dataframes_roundtrip() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    for name, df in frames(pd).items():
        out = roundtrip(df)
        pd.testing.assert_frame_equal(out, df, check_dtype=True, check_column_type=True, obj=name)
        assert getattr(out.index, "freq", None) == getattr(df.index, "freq", None)
        out_ro = decode(bytes(encode(df)))
        pd.testing.assert_frame_equal(out_ro, df, obj=name)


def test_pandas_series_and_index_roundtrip() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    series = [
        pd.Series([1, 2, 3], name="x"),
        pd.Series([1.5, None]),
        pd.Series(["a", "b"], name=3, index=pd.Index(["p", "q"], name="i")),
        pd.Series([1], name=("a", 1)),
        pd.Series(pd.Categorical(["a", "b"]), name="c"),
        pd.Series(pd.array([1, None], dtype="Int64"), index=pd.RangeIndex(3, 5, name="r")),
    ]
    for s in series:
        pd.testing.assert_series_equal(roundtrip(s), s, check_index_type=True)
    indexes = [
        pd.Index([1, 2, 3], name="a"),
        pd.RangeIndex(0, 10, 3, name="r"),
        pd.RangeIndex(0),
        pd.Index(["a", "b"]),
        pd.Index([1, "a", None], dtype=object, name="obj"),
        pd.MultiIndex.from_arrays([[1, 2], ["a", "b"]], names=["x", "y"]),
        pd.CategoricalIndex(["a", "b", "a"], name="c"),
        pd.date_range("2020", periods=3, tz="Europe/Paris", name="t"),
        pd.date_range("2020", periods=3, freq="2h"),
        pd.Index([1.5, np.nan]),
        pd.Index(pd.array([1, None], dtype="Int64")),
        pd.to_timedelta([1, 2], unit="D"),
        pd.Index([]),
        pd.Index([True, False]),
    ]
    for index in indexes:
        out = roundtrip(index)
        pd.testing.assert_index_equal(out, index, exact=True)
        assert out.names == index.names
        assert getattr(out, "freq", None) == getattr(index, "freq", None)


def test_pandas_refusals() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    for bad in (
        pd.period_range("2020", periods=3, freq="M"),
        pd.interval_range(0, 3),
        pd.DataFrame({"l": [[1, 2], [3]]}),
        pd.DataFrame({"o": [1, "a"]}),
        pd.Series([{"a": 1}]),
    ):
        with pytest.raises(UsageError, match="cannot serialize"):
            encode(bad)


def test_pyarrow_never_loads_pickled_extension_types() -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    # PyExtensionType (pickle-based) is gone in this pyarrow; make sure it stays so
    assert not hasattr(pa, "PyExtensionType")
    major = int(pa.__version__.split(".")[0])
    assert major >= 15
    # a pickle that would set a flag if anything unpickled it (built by hand, never run)
    payload = b"cbuiltins\nexec\n(Vimport sys; sys._unseen_pwned = 1\ntR."
    field = pa.field(
        "0",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": payload,
        },
    )
    table = pa.table({"0": pa.array([b"x"])}, schema=pa.schema([field]))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    stream = sink.getvalue().to_pybytes()
    rng = [_wire.EXT[34], "range", [0, 1, 1], [None], None]
    header = [_wire.EXT[32], stream, rng, rng]
    with pytest.raises(DecodeError, match="not allowed"):
        decode(wire_of(header))
    assert not hasattr(sys, "_unseen_pwned")
    # pyarrow itself reads it as plain binary: nothing registered under that name
    read = pa.ipc.open_stream(stream).read_all()
    assert read.schema.field(0).type == pa.binary()
    assert not hasattr(sys, "_unseen_pwned")


def test_arrow_compressed_and_nested_streams_are_refused() -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    rng = [_wire.EXT[34], "range", [0, 100, 1], [None], None]
    cols = [_wire.EXT[34], "range", [0, 1, 1], [None], None]
    for table, options, match in [
        (pa.table({"0": list(range(100))}), pa.ipc.IpcWriteOptions(compression="zstd"), "compress"),
        (
            pa.table({"0": pa.array(["a", "b"] * 50).dictionary_encode()}),
            pa.ipc.IpcWriteOptions(compression="lz4"),
            "compress",
        ),
        (pa.table({"0": [[1]] * 100}), None, "not allowed"),
        (pa.table({"0": pa.nulls(100)}), None, ""),
    ]:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        header = [_wire.EXT[32], sink.getvalue().to_pybytes(), cols, rng]
        if match:
            with pytest.raises(DecodeError, match=match):
                decode(wire_of(header))
        else:
            assert decode(wire_of(header)).shape == (100, 1)


def test_arrow_null_column_length_is_bounded() -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    # a null column has no buffers: its length alone would size the pandas output
    batch = pa.RecordBatch.from_arrays([pa.nulls(10**8)], names=["0"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    stream = sink.getvalue().to_pybytes()
    assert len(stream) < 4096
    cols = [_wire.EXT[34], "range", [0, 1, 1], [None], None]
    rows = [_wire.EXT[34], "range", [0, 10**8, 1], [None], None]
    with pytest.raises(DecodeError, match="max_array_bytes"):
        decode(wire_of([_wire.EXT[32], stream, cols, rows]), Limits(max_array_bytes=10**8))
