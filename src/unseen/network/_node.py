"""The network node: a :class:`~unseen.node.Node` for its own users, plus the registry kinds.

A network keeps no data. Its owner and admins log in as on a domain (``unseen.login``) and
manage users with the same ``user.*`` messages; the ``registry.*`` kinds below let them review
registrations. Every other domain message is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unseen.errors import PermissionDenied, UnseenError, UsageError
from unseen.messages import Message, Reply
from unseen.network._registry import Registry
from unseen.node import ADMINS, ANYONE, Node, Principal, Role

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


class NetworkNode(Node):
    """A node whose messages are its accounts and its registry."""

    registry: Registry

    def handle(self, message: Message, principal: Principal) -> Reply:
        found = NETWORK_KINDS.get(message.kind)
        if found is None:
            if message.kind not in BASE_KINDS:
                return Reply.failure(
                    UsageError(
                        f"{message.kind!r} is a domain message: a network node keeps no data "
                        "(search it with unseen.connect_network(url).search(...))"
                    )
                )
            reply = super().handle(message, principal)
            if message.kind == "node.info" and reply.ok and isinstance(reply.body, dict):
                reply.body["node_type"] = "network"
                reply.body["kinds"] = sorted(BASE_KINDS | set(NETWORK_KINDS))
            return reply
        roles, handler = found
        try:
            if principal.role not in roles:
                raise PermissionDenied(
                    f"{message.kind!r} is not allowed for the role {principal.role!r}"
                )
            result = handler(self.registry, message.body)
            if message.kind in ("registry.decide", "registry.remove"):
                self.audit(principal, message.kind, str(message.body.get("id")))
            return Reply.success(result)
        except UnseenError as exc:
            return Reply.failure(exc)
