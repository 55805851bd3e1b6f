"""Typed messages: a request and a reply type per kind, and their conversion to the wire.

A kind is a :class:`Kind` that names its request type (a frozen, keyword-only dataclass)
and its reply type (such a dataclass, ``list[...]`` of one, or ``None``). :func:`to_wire`
writes a message object as the body dict of protocol 1.0 (the same field names, in field
order; an optional field that is ``None`` is left off, while a field typed ``X | None``
without a default is always written, ``None`` included); :func:`from_wire` reads one back,
ignoring fields it does not know (additive changes) and raising ``UsageError`` that names a
missing or ill-typed field.

A field whose default is :data:`UNSET` (typed ``X | None``) is left off while unset, and a
``None`` given to it is sent and read as ``None``: where ``None`` means something, such as
"back to the default" in a settings change.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from unseen.errors import UsageError

__all__ = ["Kind", "UNSET", "to_wire", "from_wire"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")
T = TypeVar("T")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: The default of a field where ``None`` means something: left off the wire while unset.
UNSET: Any = _Unset()


@dataclass(frozen=True, eq=False)
class Kind(Generic[Req, Rep]):
    """A message kind with its request and reply types, declared once and used by the
    client (:meth:`unseen.Client.ask`) and by the node's route (``@typed_route``)."""

    name: str
    request: type[Req]
    #: the reply's type: a message dataclass, ``list[...]`` of one, or ``None``
    reply: Any

    def request_to_wire(self, request: Req) -> dict[str, Any]:
        return to_wire(request)

    def read_request(self, body: Any) -> Req:
        return from_wire(self.request, body)

    def reply_to_wire(self, reply: Rep) -> Any:
        # a plain reply (``Any``: a released array, frame or tuple) goes as it is
        return reply if _plain_type(self.reply) else _to_wire_value(reply)

    def read_reply(self, body: Any) -> Rep:
        return typing.cast(Rep, _read(self.reply, body, f"the reply of {self.name!r}"))


_PLAIN = (str, int, float, bool)


#: the value of a field that is never left off the wire (no value is it)
_WRITTEN = object()


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool, object, bool, bool], ...]:
    """(name, type, required, left-off value, plain, keeps-None) of each field of a message
    dataclass. The left-off value is ``None`` for an optional field, ``UNSET`` for one that
    defaults to it; a plain field (a scalar, a map, ``Any`` or a list of scalars) is written
    as it is; a keeps-None field (``X | None``, required or ``UNSET`` by default) reads a
    ``None`` on the wire as ``None``."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        tp = hints[f.name]
        keeps = _admits_none(tp) and (required or f.default is UNSET)
        left_off = f.default if f.default is None or f.default is UNSET else _WRITTEN
        out.append((f.name, tp, required, left_off, _is_plain(tp), keeps))
    return tuple(out)


def _is_plain(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, list):
        return all(_is_plain(a) for a in typing.get_args(tp))
    return tp in _PLAIN or tp is Any or tp is type(None) or tp is dict or origin is dict


@functools.cache
def _plain_type(tp: Any) -> bool:
    return _is_plain(tp)


def to_wire(message: Any) -> dict[str, Any]:
    """The wire body of a message object: its fields by name, in order, optional ``None``
    fields left off."""
    if not dataclasses.is_dataclass(message) or isinstance(message, type):
        raise UsageError(f"{type(message).__name__} is not a typed message")
    wire: dict[str, Any] = {}
    for name, _, _, left_off, plain, _ in _fields(type(message)):
        value = getattr(message, name)
        if value is left_off:
            continue
        wire[name] = value if plain else _to_wire_value(value)
    return wire


def _to_wire_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [_to_wire_value(v) for v in value]
    return value


def from_wire(cls: type[T], body: Any) -> T:
    """The message of type ``cls`` in a wire body; unknown fields are ignored, a missing or
    ill-typed one is a ``UsageError`` naming it. A ``None`` field counts as missing, except
    for a field typed ``X | None`` without a default, which must be there and may be None,
    and one whose default is ``UNSET``, where a ``None`` is ``None``."""
    if not isinstance(body, dict):
        raise UsageError(f"{cls.__name__} must be a map of fields, not {type(body).__name__}")
    values: dict[str, Any] = {}
    for name, tp, required, _, _, keeps in _fields(typing.cast(type, cls)):
        value = body.get(name)
        if value is None:
            if keeps and name in body:
                values[name] = None  # a None that means something: kept on the wire
            elif required:
                raise UsageError(f"the message needs the field {name!r}")
            continue  # the default
        values[name] = _read(tp, value, f"the field {name!r}")
    return cls(**values)


@functools.cache
def _admits_none(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a map"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _read(tp: Any, value: Any, where: str) -> Any:
    """``value`` as ``tp``, or ``UsageError`` saying ``where`` must be what."""
    if tp is str or tp is bool:
        if type(value) is tp:
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is Any:
        return value
    elif tp is None or tp is type(None):
        return None
    else:
        return _read_composite(tp, value, where)
    raise UsageError(f"{where} must be {_name(tp)}, not {type(value).__name__}")


def _read_composite(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _read(arg, value, where)  # one non-None alternative per field
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"{where} must be {_name(tp)}, not {type(value).__name__}")
        (item,) = typing.get_args(tp)
        if item is str and all(type(v) is str for v in value):
            return list(value)  # the common case, without a call per item
        if dataclasses.is_dataclass(item):  # its own error names the field inside
            return [from_wire(item, v) for v in value]  # type: ignore[arg-type]
        try:
            return [_read(item, v, where) for v in value]
        except UsageError:
            raise UsageError(f"{where} must be {_name(tp)}") from None
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise UsageError(f"{where} must be a map, not {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_wire(tp, value)  # type: ignore[arg-type]
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise UsageError(f"{where} must be {_name(tp)}, not {type(value).__name__}")
