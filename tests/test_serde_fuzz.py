"""Fuzzing unseen.serde.decode: whatever the bytes, only DecodeError, quickly, within bounds."""

from __future__ import annotations

import dataclasses
import struct
import time
import tracemalloc
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unseen.errors import DecodeError
from unseen.serde import Limits, _frame, _wire, decode, encode, register

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW_SECONDS = 5.0
# tight enough that a fuzzed message cannot ask for much, loose enough for the corpus
LIMITS = Limits(max_array_bytes=1 << 22, max_container_len=100_000, max_containers=100_000)


@dataclasses.dataclass
class Pair:
    a: Any
    b: Any


register(110, Pair, lambda p: [p.a, p.b], lambda w: Pair(*w))


def only_decode_errors(buf: bytes | bytearray, limits: Limits = LIMITS) -> None:
    """decode() either returns or raises DecodeError, and does so quickly."""
    start = time.perf_counter()
    for data in (bytes(buf), bytearray(buf)):
        try:
            decode(data, limits)
        except DecodeError:
            pass
    assert time.perf_counter() - start < SLOW_SECONDS


def corpus() -> list[bytearray]:
    values: list[Any] = [
        None,
        [1, -2, 3.5, "s", b"b", True, None],
        {"k": (1, (2, [3])), 4: frozenset({1, 2}), (5, "t"): {6, 7}},
        [slice(1, None, 2), Ellipsis, 1 + 2j, 2**100, -(2**70)],
        np.arange(12, dtype=">i4").reshape(3, 4),
        np.asfortranarray(np.ones((3, 2), dtype="c8")),
        np.arange(20_000, dtype=np.float32),  # out of band
        [np.float16(1.5), np.datetime64("2020-01-01"), np.dtype("<U3"), np.str_("ab")],
        np.array(["a", "bc"], dtype="U2"),
        Pair(np.zeros(3), Pair([1], (2,))),
    ]
    try:
        import torch

        values += [
            torch.arange(6, dtype=torch.bfloat16).reshape(2, 3),
            torch.nn.Parameter(torch.ones(2)),
            [torch.float8_e4m3fn, torch.Size([1, 2])],
            torch.zeros(20_000),
        ]
    except ImportError:  # pragma: no cover
        pass
    try:
        import pandas as pd

        values += [
            pd.DataFrame(
                {"a": [1, 2], "s": ["x", None], "c": pd.Categorical(["u", "v"])},
                index=pd.Index([3, 4], name="i"),
            ),
            pd.Series([1.5, None], name="s"),
            pd.MultiIndex.from_arrays([[1, 2], ["a", "b"]]),
            pd.RangeIndex(0, 10, 2),
            pd.Index([1, "a"], dtype=object),
        ]
    except ImportError:  # pragma: no cover
        pass
    return [encode(v) for v in values]


CORPUS = corpus()


def test_corpus_decodes_under_fuzz_limits() -> None:
    for wire in CORPUS:
        decode(wire, LIMITS)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    only_decode_errors(data)


@FUZZ
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.integers(0, 2**64 - 1), max_size=4),
    st.binary(max_size=512),
)
def test_random_bytes_behind_a_valid_prefix(
    nbuf: int, hlen: int, sizes: list[int], rest: bytes
) -> None:
    prefix = struct.pack("<3sBIQ", b"UNS", _wire.WIRE_VERSION, nbuf, hlen)
    table = struct.pack(f"<{len(sizes)}Q", *sizes)
    only_decode_errors(prefix + table + rest)
    only_decode_errors(struct.pack("<3sBIQ", b"UNS", 1, 0, len(rest)) + rest)


MUTATION = st.tuples(
    st.sampled_from(["flip", "set", "truncate", "insert", "delete", "u32", "u64"]),
    st.floats(0, 1, exclude_max=True),
    st.integers(0, 255),
    st.binary(min_size=1, max_size=16),
)


def mutate(wire: bytearray, mutations: list[tuple[str, float, int, bytes]]) -> bytearray:
    out = bytearray(wire)
    for kind, where, byte, blob in mutations:
        if not out:
            break
        pos = int(where * len(out))
        if kind == "flip":
            out[pos] ^= 1 << (byte % 8)
        elif kind == "set":
            out[pos] = byte
        elif kind == "truncate":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = blob
        elif kind == "delete":
            del out[pos : pos + len(blob)]
        else:
            size = 4 if kind == "u32" else 8
            value = (1 << (8 * size)) - 1 if byte > 127 else byte << (8 * size - 8)
            out[pos : pos + size] = value.to_bytes(size, "little")
    return out


@FUZZ
@given(st.sampled_from(range(len(CORPUS))), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_encodings(index: int, mutations: list[tuple[str, float, int, bytes]]) -> None:
    only_decode_errors(mutate(CORPUS[index], mutations))


@FUZZ
@given(st.sampled_from(range(len(CORPUS))), st.integers(16, 4096))
def test_mutated_headers(index: int, seed: int) -> None:
    """Flip one byte of the header only, where the structure lives."""
    wire = bytearray(CORPUS[index])
    nbuf, hlen = struct.unpack_from("<IQ", wire, 4)
    start = 16 + 8 * nbuf
    pos = start + seed % max(hlen, 1)
    if pos < len(wire):
        wire[pos] ^= 1 << (seed % 8)
    only_decode_errors(wire)


# -- crafted headers: valid msgpack, hostile content ---------------------------------------------

CODES = sorted(_wire.BUILTIN_CODES) + [0, 8, 63, 64, 110, 127]
NASTY_INTS = st.sampled_from(
    [0, 1, -1, 2, 3, 7, 8, 64, 65, 2**31, 2**32, 2**62, 2**63 - 1, -(2**63), 2**64 - 1]
) | st.integers(-(2**63), 2**64 - 1)
NASTY_STRS = st.sampled_from(
    [
        "O",
        "|O",
        "<O",
        "V8",
        "|V8",
        "<U0",
        "|S0",
        "<f8",
        ">f8",
        "|b1",
        "<M8[ns]",
        "<M8[xx]",
        "<m8",
        "<U3",
        "|S2",
        "<f16",
        "<c32",
        "C",
        "F",
        "range",
        "columns",
        "float32",
        "bfloat16",
        "float8_e4m3fn",
        "qint8",
        "bits8",
        "__class__",
        "",
    ]
) | st.text(max_size=12)
LEAVES = (
    st.none()
    | st.booleans()
    | NASTY_INTS
    | st.floats()
    | NASTY_STRS
    | st.binary(max_size=64)
    | st.sampled_from([b"\0" * 8, b"\0" * 16, b"\0" * 24, np.arange(4.0).tobytes()])
)


def typed(code: int, fields: list[Any]) -> list[Any]:
    return [_wire.EXT[code], *fields]


HEADERS = st.recursive(
    LEAVES | st.lists(NASTY_INTS, max_size=5),
    lambda inner: (
        st.builds(typed, st.sampled_from(CODES), st.lists(inner, max_size=6))
        | st.lists(inner, max_size=5)
        | st.dictionaries(st.integers(-(2**63), 2**63 - 1) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=25,
)


@FUZZ
@given(HEADERS, st.lists(st.integers(0, 70_000), max_size=2))
def test_crafted_headers(header: Any, buffer_sizes: list[int]) -> None:
    packed = msgpack.packb(header, use_bin_type=True)
    buffers: list[Any] = [np.zeros(n, np.uint8) for n in buffer_sizes]
    wire = _frame.assemble(packed, buffers)
    tracemalloc.start()
    try:
        only_decode_errors(wire)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(wire) + (16 << 20)


def _ndarray(dtype: Any, shape: Any, order: Any, data: Any) -> list[Any]:
    return typed(16, [dtype, shape, order, data])


@FUZZ
@given(
    NASTY_STRS,
    st.lists(NASTY_INTS, max_size=6) | NASTY_INTS,
    st.sampled_from(["C", "F", "X", 0]),
    st.binary(max_size=64) | st.integers(-1, 2),
)
def test_crafted_arrays(dtype: Any, shape: Any, order: Any, data: Any) -> None:
    header = [_ndarray(dtype, shape, order, data), typed(24, [dtype, shape, False, 0, data])]
    wire = _frame.assemble(msgpack.packb(header, use_bin_type=True), [np.zeros(64, np.uint8)])
    only_decode_errors(wire)


@pytest.mark.parametrize("depth", [33, 100, 1000, 1025, 10_000])
def test_deep_nesting_of_every_container(depth: int) -> None:
    for opener in (
        b"\x91",  # list
        b"\x81\xa1k",  # dict value
        b"\x92\xc7\x00\x01",  # tuple
        b"\x92\xc7\x00\x6e",  # registered Pair with a single (wrong arity) field
    ):
        only_decode_errors(_frame.assemble(opener * depth + b"\xc0", []))
