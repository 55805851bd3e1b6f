"""The table of types that higher layers add with :func:`register` (codes 64..127)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from unseen.errors import UsageError

from ._wire import FIRST_USER_CODE, LAST_USER_CODE, type_name

__all__ = ["register", "Entry", "by_code", "code_of"]


class Entry(NamedTuple):
    """One registered type: its class and the two conversions."""

    cls: type
    to_wire: Callable[[Any], Any]
    from_wire: Callable[[Any], Any]


_BY_CODE: dict[int, Entry] = {}
_BY_CLS: dict[type, int] = {}
_LOCK = threading.Lock()

# classes the codec handles itself; registering them would shadow the built-in encoding
_RESERVED = frozenset(
    {type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set}
    | {frozenset, slice, type(Ellipsis), memoryview}
)


def register(
    code: int,
    cls: type,
    to_wire: Callable[[Any], Any],
    from_wire: Callable[[Any], Any],
) -> None:
    """Teach the codec a new type.

    ``to_wire(obj)`` returns a value the codec can already encode (it may hold arrays,
    tuples or other registered types); ``from_wire(value)`` rebuilds the object from the
    decoded value. Objects match by exact class (subclasses need their own code).

    Both sides of a connection must register the same code for the same class. Registering
    the same ``(code, cls)`` again replaces the two functions; another class under a taken
    code, or a class under a second code, raises :class:`~unseen.errors.UsageError`.
    """
    if type(code) is not int or not FIRST_USER_CODE <= code <= LAST_USER_CODE:
        raise UsageError(
            f"register(): code must be an int in {FIRST_USER_CODE}..{LAST_USER_CODE} "
            f"(lower codes are serde's own), got {code!r}"
        )
    if not isinstance(cls, type):
        raise UsageError(f"register(): cls must be a class, got {cls!r}")
    if cls in _RESERVED:
        raise UsageError(f"register(): {type_name(cls)} is built in and cannot be registered")
    if not callable(to_wire) or not callable(from_wire):
        raise UsageError("register(): to_wire and from_wire must be callables")
    with _LOCK:
        old = _BY_CODE.get(code)
        if old is not None and old.cls is not cls:
            raise UsageError(
                f"register(): type code {code} is already taken by {type_name(old.cls)}; "
                f"choose another code for {type_name(cls)}"
            )
        old_code = _BY_CLS.get(cls)
        if old_code is not None and old_code != code:
            raise UsageError(
                f"register(): {type_name(cls)} is already registered under code {old_code}"
            )
        _BY_CODE[code] = Entry(cls, to_wire, from_wire)
        _BY_CLS[cls] = code


def by_code(code: int) -> Entry | None:
    """The entry registered under ``code``, or None."""
    return _BY_CODE.get(code)


def code_of(cls: type) -> int | None:
    """The code registered for exactly ``cls``, or None."""
    return _BY_CLS.get(cls)
