"""Routes: each message kind, the roles it admits, and its handler. Default deny.

``@route(kind, roles)`` only marks a handler (it touches no global table);
:func:`unseen.node.build_routes` collects the marks of the modules it lists into the table.
A kind with typed messages (:data:`unseen.messages.TYPED`) is declared with
``@typed_route(KIND, roles)`` instead: its handler takes the typed request and returns the
typed reply, and the route converts from and to the wire body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from unseen.errors import UsageError
from unseen.messages import Kind
from unseen.node._principal import Principal, Role

if TYPE_CHECKING:
    from unseen.node._node import Node

Handler = Callable[["Node", Principal, dict[str, Any]], Any]
Req = TypeVar("Req")
Rep = TypeVar("Rep")


@dataclass(frozen=True)
class Route:
    """``handler`` takes and returns wire values; for a typed kind, ``message`` is its
    :class:`~unseen.messages.Kind` and ``typed_handler`` the function that takes the typed
    request and returns the typed reply (``handler`` converts around it)."""

    kind: str
    roles: frozenset[Role]
    handler: Handler
    message: Kind[Any, Any] | None = None
    typed_handler: Callable[..., Any] | None = None


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


def typed_route(
    kind: Kind[Req, Rep],
    roles: frozenset[Role],
    *,
    cleanup: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[Callable[[Node, Principal, Req], Rep]], Callable[[Node, Principal, Req], Rep]]:
    """Mark a function as the handler of a typed kind: it takes ``kind.request`` and returns
    ``kind.reply``; the route reads the request from the wire body (``UsageError`` naming a
    missing or ill-typed field) and writes the reply back. ``cleanup(body)`` runs after every
    message, also one whose request could not be read: it frees what the body holds (staged
    uploads that the handler did not keep)."""

    def mark(fn: Callable[[Node, Principal, Req], Rep]) -> Callable[[Node, Principal, Req], Rep]:
        def handler(node: Node, principal: Principal, body: dict[str, Any]) -> Any:
            return kind.reply_to_wire(fn(node, principal, kind.read_request(body)))

        wire: Handler = handler
        if cleanup is not None:

            def cleaned(node: Node, principal: Principal, body: dict[str, Any]) -> Any:
                try:
                    return handler(node, principal, body)
                finally:
                    cleanup(body)

            wire = cleaned
        setattr(fn, _MARK, Route(kind.name, roles, wire, kind, fn))
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
