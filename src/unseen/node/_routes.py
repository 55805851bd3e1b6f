"""Routes: each message kind, the roles it admits, and its handler. Default deny.

``@route(kind, roles)`` only marks a handler (it touches no global table);
:func:`unseen.node.build_routes` collects the marks of the modules it lists into the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from unseen.errors import UsageError
from unseen.node._principal import Principal, Role

if TYPE_CHECKING:
    from unseen.node._node import Node

Handler = Callable[["Node", Principal, dict[str, Any]], Any]


@dataclass(frozen=True)
class Route:
    kind: str
    roles: frozenset[Role]
    handler: Handler


_MARK = "__unseen_route__"


def route(kind: str, roles: frozenset[Role]) -> Callable[[Handler], Handler]:
    """Mark a function as the handler of a message kind, with the roles that may call it.

    Only the function changes (it carries its :class:`Route`); nothing is registered until
    :func:`unseen.node.build_routes` collects the module.
    """

    def mark(fn: Handler) -> Handler:
        setattr(fn, _MARK, Route(kind, roles, fn))
        return fn

    return mark


def route_of(fn: object) -> Route | None:
    """The route ``fn`` was marked with by :func:`route`, or None."""
    found = getattr(fn, _MARK, None)
    return found if isinstance(found, Route) else None


T = TypeVar("T")


def field(
    body: dict[str, Any], name: str, kind: type[T] | tuple[type, ...], default: Any = ...
) -> Any:
    """A typed field of a message body, or a clear error naming it."""
    if name not in body or body[name] is None:
        if default is ...:
            raise UsageError(f"the message needs the field {name!r}")
        return default
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UsageError(f"the field {name!r} must be {names}, not {type(value).__name__}")
    return value


def str_list(body: dict[str, Any], name: str) -> list[str]:
    value: list[Any] | tuple[Any, ...] = field(body, name, (list, tuple), default=[])
    if not all(isinstance(v, str) for v in value):
        raise UsageError(f"the field {name!r} must be a list of strings")
    return list(value)
