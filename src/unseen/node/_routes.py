"""Routes: each message kind, the roles it admits, and its handler. Default deny.

Every kind is typed (:data:`unseen.messages.TYPED`): ``@typed_route(KIND, roles)`` marks a
handler that takes the kind's typed request and returns its typed reply (the route converts
from and to the wire body). It only marks the function (no global table);
:func:`unseen.node.build_routes` collects the marks of the modules it lists into the table,
and refuses a route without typed messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

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
    """The route ``fn`` was marked with by :func:`typed_route`, or None."""
    found = getattr(fn, _MARK, None)
    return found if isinstance(found, Route) else None
