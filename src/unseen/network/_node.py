"""The network node: a :class:`~unseen.node.Node` for its own users, plus the registry kinds.

A network keeps no data. Its owner and admins log in as on a domain (``unseen.login``) and
manage users with the same ``user.*`` messages; the ``registry.*`` kinds below let them review
registrations. Every other domain message is refused with a clear error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from unseen.errors import UsageError
from unseen.messages import Message, Reply
from unseen.network._registry import Registry
from unseen.node import ADMINS, ANYONE, Node, Principal, Role, Route, build_routes

#: the domain kinds a network answers (its own accounts)
BASE_KINDS = frozenset(
    {"node.info", "user.create", "user.list", "user.update", "user.delete", "user.me"}
    | {"user.password"}
)

Handler = Callable[[Registry, dict[str, Any]], Any]


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise UsageError(f"the message needs the text field {name!r}")
    return value


#: the network's own kinds: roles and handler
NETWORK_KINDS: dict[str, tuple[frozenset[Role], Handler]] = {
    "registry.list": (ADMINS, lambda reg, body: reg.registrations()),
    "registry.decide": (
        ADMINS,
        lambda reg, body: reg.decide(
            _text(body, "id"), _text(body, "action"), _text(body, "reason", "")
        ),
    ),
    "registry.remove": (ADMINS, lambda reg, body: reg.remove(_text(body, "id"))),
    "registry.domains": (ANYONE, lambda reg, body: reg.domains()),
    "registry.search": (ANYONE, lambda reg, body: reg.search(_text(body, "query"))),
}


#: registry kinds whose every success is written to the audit log
_AUDITED = frozenset({"registry.decide", "registry.remove"})


def _registry_route(kind: str, roles: frozenset[Role], handler: Handler) -> Route:
    """A route of the node's shape for a registry handler."""

    def answer(node: Node, principal: Principal, body: dict[str, Any]) -> Any:
        if not isinstance(node, NetworkNode):
            raise UsageError(f"{kind!r} is a message of a network node, not of a domain")
        result = handler(node.registry, body)
        if kind in _AUDITED:
            node.audit(principal, kind, str(body.get("id")))
        return result

    return Route(kind, roles, answer)


@functools.cache
def build_network_routes() -> dict[str, Route]:
    """The network node's route table: the domain's handlers of :data:`BASE_KINDS` and the
    registry kinds (built on the first call, then the same table)."""
    domain = build_routes()
    table = {kind: domain[kind] for kind in sorted(BASE_KINDS)}
    for kind, (roles, handler) in NETWORK_KINDS.items():
        table[kind] = _registry_route(kind, roles, handler)
    return table


class NetworkNode(Node):
    """A node whose messages are its accounts and its registry."""

    registry: Registry

    def route_table(self) -> dict[str, Route]:
        return build_network_routes()

    def handle(self, message: Message, principal: Principal) -> Reply:
        if message.kind not in self.routes:
            return Reply.failure(
                UsageError(
                    f"{message.kind!r} is a domain message: a network node keeps no data "
                    "(search it with unseen.connect_network(url).search(...))"
                )
            )
        reply = super().handle(message, principal)
        if message.kind == "node.info" and reply.ok and isinstance(reply.body, dict):
            reply.body["node_type"] = "network"
            reply.body["kinds"] = sorted(self.routes)
        return reply
