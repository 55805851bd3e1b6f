"""Wire bytes to objects: one bounded msgpack pass whose hooks build, check and count.

A small header with no type marker (most messages: maps, lists, strings and numbers) takes a
fast path: msgpack decodes it without hooks and one walk over the containers checks depth,
count and hash flooding, as the hooks would have. Anything else the walk meets, and any
failure, sends the header through the hooks, which decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import msgpack

from unseen.errors import DecodeError, UnseenError

from . import _frame, _numpy, _pandas, _registry, _torch
from ._limits import DEFAULT_LIMITS, Limits
from ._wire import (
    BIGINT,
    BUILTIN_CODES,
    COMPLEX,
    ELLIPSIS,
    FIRST_USER_CODE,
    FROZENSET,
    MARKERS,
    MAX_BIGINT_BYTES,
    SET,
    SLICE,
    TUPLE,
    Marker,
    short,
)

__all__ = ["Decoder", "decode"]

Builder = Callable[["Decoder", list[Any]], tuple[Any, int]]

# what msgpack itself creates; always depth 0 and always allowed
_PRIMITIVES = frozenset({type(None), bool, int, float, str, bytes})
# created only by our hooks and builders; depth 1 unless the table says more
_CONTAINERS = frozenset({list, dict, tuple, set, frozenset})
# what a header decoded without hooks may hold when it has no typed value
_CHILDREN = (list, dict)
_PLAIN = _PRIMITIVES | {list, dict}
_NOT_PLAIN = object()
# a dict or set may hold this many keys whose hashes equal another key's (hash flooding)
_MAX_HASH_COLLISIONS = 1000
# headers up to this size without a type marker are decoded without hooks. Small, because
# msgpack then builds dicts before any check: at most ~700 keys with colliding hashes (each
# takes 5+ bytes) fit, a few ms.
_PLAIN_MAX = 4096
# how every type marker starts (EXT[code] packs as ext 8 of length 0); a match inside a string
# only sends the header through the hooks, which is slower, never wrong
_MARKER = b"\xc7\x00"


class Decoder:
    """One decode call: the msgpack hooks, the limits and the objects built so far.

    msgpack builds bottom-up, so each hook knows its children: it checks that every child is
    a primitive or something a hook built (``table``, which also keeps those objects alive so
    their ids stay unique), computes its own depth, and counts itself against the limits.
    """

    __slots__ = ("frame", "limits", "table", "count")

    def __init__(self, frame: _frame.Frame, limits: Limits) -> None:
        self.frame = frame
        self.limits = limits
        self.table: dict[int, tuple[Any, int]] = {}
        self.count = 0

    # -- bookkeeping ---------------------------------------------------------------------

    def child_depth(self, items: Iterable[Any]) -> int:
        """The deepest child's depth; refuses children that no hook built (a Timestamp,
        a misplaced type marker)."""
        if set(map(type, items)) <= _PRIMITIVES:
            return 0
        deepest = 0
        table = self.table
        for child in items:
            cls = type(child)
            if cls in _PRIMITIVES:
                continue
            entry = table.get(id(child))
            if entry is not None and entry[0] is child:
                depth = entry[1]
            elif cls in _CONTAINERS:
                depth = 1
            elif cls is Marker:
                raise DecodeError("a type marker may only open an array")
            else:
                raise DecodeError(f"values of type {cls.__name__} are not allowed")
            if depth > deepest:
                deepest = depth
        return deepest

    def _done(self, obj: Any, depth: int) -> Any:
        self.count += 1
        if self.count > self.limits.max_containers:
            raise DecodeError(
                f"more than Limits.max_containers={self.limits.max_containers} containers"
            )
        if depth > self.limits.max_depth:
            raise DecodeError(f"nested deeper than Limits.max_depth={self.limits.max_depth}")
        cls = type(obj)
        if cls not in _PRIMITIVES and (depth > 1 or cls not in _CONTAINERS):
            self.table[id(obj)] = (obj, depth)
        return obj

    def hashable(self, items: list[Any]) -> list[Any]:
        """``items`` after refusing hash flooding (many distinct keys with one hash)."""
        if len(items) > _MAX_HASH_COLLISIONS:
            distinct = len(set(map(hash, items)))
            if len(items) - distinct > _MAX_HASH_COLLISIONS:
                raise DecodeError("too many keys with colliding hashes")
        return items

    # -- msgpack hooks ---------------------------------------------------------------------

    def ext_hook(self, code: int, data: bytes) -> Marker:
        if data:
            raise DecodeError(f"ext type {code} must be empty")
        if code not in BUILTIN_CODES and (
            code < FIRST_USER_CODE or _registry.by_code(code) is None
        ):
            raise DecodeError(f"unknown type code {code} (is it registered on this side?)")
        return MARKERS[code]

    def list_hook(self, lst: list[Any]) -> Any:
        if lst and type(lst[0]) is Marker:
            code = lst[0].code
            items = lst[1:]
            builder = _BUILDERS.get(code)
            if builder is not None:
                obj, depth = builder(self, items)
            else:
                obj, depth = self._registered(code, items)
            return self._done(obj, depth)
        return self._done(lst, self.child_depth(lst) + 1)

    def pairs_hook(self, pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        depth = self.child_depth(list(chain.from_iterable(pairs)))
        if len(pairs) > _MAX_HASH_COLLISIONS:
            self.hashable([key for key, _ in pairs])
        return self._done(dict(pairs), depth + 1)

    def _registered(self, code: int, items: list[Any]) -> tuple[Any, int]:
        entry = _registry.by_code(code)
        if entry is None:  # pragma: no cover - ext_hook already checked
            raise DecodeError(f"unknown type code {code}")
        if len(items) != 1:
            raise DecodeError(f"registered type {code} needs exactly one field")
        depth = self.child_depth(items) + 1
        try:
            obj = entry.from_wire(items[0])
        except UnseenError as exc:
            raise DecodeError(
                f"cannot rebuild {entry.cls.__qualname__}: {short(exc, 200)}"
            ) from exc
        except Exception as exc:
            raise DecodeError(
                f"cannot rebuild {entry.cls.__qualname__}: {type(exc).__name__}: {short(str(exc), 200)}"
            ) from exc
        return obj, depth


def _container(make: Callable[[list[Any]], Any], hashed: bool) -> Builder:
    def build(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
        depth = dec.child_depth(items) + 1
        return make(dec.hashable(items) if hashed else items), depth

    return build


def _complex(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 2 or type(items[0]) is not float or type(items[1]) is not float:
        raise DecodeError("a complex needs 2 float fields")
    return complex(items[0], items[1]), 0


def _bigint(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 1 or type(items[0]) is not bytes or len(items[0]) > MAX_BIGINT_BYTES:
        raise DecodeError(f"a big int needs 1 bytes field of at most {MAX_BIGINT_BYTES} bytes")
    return int.from_bytes(items[0], "little", signed=True), 0


def _slice(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 3:
        raise DecodeError("a slice needs 3 fields")
    return slice(*items), dec.child_depth(items) + 1


def _ellipsis(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if items:
        raise DecodeError("Ellipsis has no fields")
    return Ellipsis, 0


_BUILDERS: dict[int, Builder] = {
    TUPLE: _container(tuple, False),
    SET: _container(set, True),
    FROZENSET: _container(frozenset, True),
    COMPLEX: _complex,
    BIGINT: _bigint,
    SLICE: _slice,
    ELLIPSIS: _ellipsis,
    **_numpy.BUILDERS,
    **_torch.BUILDERS,
    **_pandas.BUILDERS,
}


def _check_plain(result: Any, limits: Limits) -> bool:
    """Depth, container count and hash flooding of a result decoded without hooks, as the
    hooks count them (a container of primitives has depth 1). False if it holds anything
    but dicts, lists and primitives (an ext value): then the hooks must decode it."""
    cls = type(result)
    if cls is not list and cls is not dict:
        return cls in _PRIMITIVES
    stack: list[tuple[Any, int]] = [(result, 1)]
    max_depth = limits.max_depth
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > max_depth:
            raise DecodeError(f"nested deeper than Limits.max_depth={max_depth}")
        if type(node) is dict:
            if not set(map(type, node)) <= _PRIMITIVES:
                return False
            if len(node) > _MAX_HASH_COLLISIONS:
                Decoder.hashable(None, list(node))  # type: ignore[arg-type]
            items: Iterable[Any] = node.values()
        else:
            items = node
        kinds = set(map(type, items))
        if kinds <= _PRIMITIVES:
            continue
        if not kinds <= _PLAIN:
            return False
        stack.extend((item, depth + 1) for item in items if type(item) in _CHILDREN)
    if count > limits.max_containers:
        raise DecodeError(f"more than Limits.max_containers={limits.max_containers} containers")
    return True


def _unpack(header: memoryview, limits: Limits, **hooks: Any) -> Any:
    """msgpack's decoding of ``header`` within ``limits`` (no length beyond the header's)."""
    hlen = header.nbytes
    return msgpack.unpackb(
        header,
        use_list=True,
        raw=False,
        strict_map_key=False,
        unicode_errors="surrogatepass",
        max_str_len=min(limits.max_str_len, hlen),
        max_bin_len=min(limits.max_str_len, hlen),
        max_array_len=min(limits.max_container_len, hlen),
        max_map_len=min(limits.max_container_len, hlen // 2),
        max_ext_len=0,
        **hooks,
    )


def _decode_plain(frame: _frame.Frame, limits: Limits) -> Any:
    """The header decoded without hooks, or ``_NOT_PLAIN`` if it holds a typed value or
    fails (then the hooks decide: a tuple key, say, is only hashable as a tuple)."""
    try:
        result = _unpack(frame.header, limits)
        return result if _check_plain(result, limits) else _NOT_PLAIN
    except Exception:
        return _NOT_PLAIN


def decode(buf: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The object that :func:`encode` turned into ``buf``.

    Never runs code from the message and stays within ``limits``; any malformed, oversized
    or disallowed input raises :class:`~unseen.errors.DecodeError` and nothing else.
    Arrays in a writable input (bytearray) are views of it, not copies; from a read-only
    input (bytes) they are copied, so that decoded arrays are always writable.
    """
    if not isinstance(limits, Limits):
        raise DecodeError(f"limits must be a Limits, got {type(limits).__name__}")
    try:
        frame = _frame.parse(buf, limits)
        header = frame.header
        if header.nbytes <= _PLAIN_MAX and not frame.buffers and _MARKER not in bytes(header):
            plain = _decode_plain(frame, limits)
            if plain is not _NOT_PLAIN:
                return plain
        dec = Decoder(frame, limits)
        result = _unpack(
            header,
            limits,
            ext_hook=dec.ext_hook,
            list_hook=dec.list_hook,
            object_pairs_hook=dec.pairs_hook,
        )
        dec.child_depth([result])
        frame.check_all_used()
        return result
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("malformed message: nested too deeply") from None
    except MemoryError:
        raise DecodeError("malformed message: out of memory while decoding") from None
    except Exception as exc:
        text = str(exc)
        if len(text) > 200:
            text = text[:200] + "..."
        raise DecodeError(f"malformed message: {type(exc).__name__}: {text}") from None
