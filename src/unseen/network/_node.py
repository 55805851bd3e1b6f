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
from unseen.messages import Message, Reply, from_wire
from unseen.messages.network import (
    REGISTRY_DECIDE,
    REGISTRY_DOMAINS,
    REGISTRY_KINDS,
    REGISTRY_LIST,
    REGISTRY_REMOVE,
    REGISTRY_SEARCH,
    DomainSummary,
    RegistrationView,
    RegistryDecideRequest,
    RegistryDomainsRequest,
    RegistryListRequest,
    RegistryRemoveRequest,
    RegistrySearchRequest,
    RegistrySearchResult,
)
from unseen.network._registry import Registry
from unseen.node import ADMINS, ANYONE, Node, Principal, Route, build_routes, route_of, typed_route

#: the domain kinds a network answers (its own accounts)
BASE_KINDS = frozenset(
    {"node.info", "user.create", "user.list", "user.update", "user.delete", "user.me"}
    | {"user.password"}
)
#: the network's own kinds: its registry's (roles and handlers below)
NETWORK_KINDS = frozenset(kind.name for kind in REGISTRY_KINDS)


def _registry(node: Node, kind: str) -> Registry:
    if not isinstance(node, NetworkNode):
        raise UsageError(f"{kind!r} is a message of a network node, not of a domain")
    return node.registry


# -- the registry kinds (typed: unseen.messages.network) --------------------------------------
@typed_route(REGISTRY_LIST, ADMINS)
def registry_list(
    node: Node, principal: Principal, request: RegistryListRequest
) -> list[RegistrationView]:
    registrations = _registry(node, REGISTRY_LIST.name).registrations()
    return [from_wire(RegistrationView, r) for r in registrations]


@typed_route(REGISTRY_DECIDE, ADMINS)
def registry_decide(
    node: Node, principal: Principal, request: RegistryDecideRequest
) -> RegistrationView:
    registry = _registry(node, REGISTRY_DECIDE.name)
    decided = registry.decide(request.id, request.action, request.reason)
    node.audit(principal, REGISTRY_DECIDE.name, request.id)
    return from_wire(RegistrationView, decided)


@typed_route(REGISTRY_REMOVE, ADMINS)
def registry_remove(node: Node, principal: Principal, request: RegistryRemoveRequest) -> None:
    _registry(node, REGISTRY_REMOVE.name).remove(request.id)
    node.audit(principal, REGISTRY_REMOVE.name, request.id)


@typed_route(REGISTRY_DOMAINS, ANYONE)
def registry_domains(
    node: Node, principal: Principal, request: RegistryDomainsRequest
) -> list[DomainSummary]:
    return [from_wire(DomainSummary, d) for d in _registry(node, REGISTRY_DOMAINS.name).domains()]


@typed_route(REGISTRY_SEARCH, ANYONE)
def registry_search(
    node: Node, principal: Principal, request: RegistrySearchRequest
) -> RegistrySearchResult:
    found = _registry(node, REGISTRY_SEARCH.name).search(request.query)
    return from_wire(RegistrySearchResult, found)


#: the handlers of the network's own kinds, listed here (nothing registers on import)
REGISTRY_HANDLERS: tuple[Callable[..., Any], ...] = (
    registry_list,
    registry_decide,
    registry_remove,
    registry_domains,
    registry_search,
)


@functools.cache
def build_network_routes() -> dict[str, Route]:
    """The network node's route table: the domain's handlers of :data:`BASE_KINDS` and the
    registry kinds of :data:`REGISTRY_HANDLERS` (built on the first call, then the same
    table)."""
    domain = build_routes()
    table = {kind: domain[kind] for kind in sorted(BASE_KINDS)}
    for handler in REGISTRY_HANDLERS:
        found = route_of(handler)
        if found is None or found.kind not in NETWORK_KINDS or found.kind in table:
            raise UsageError(f"{handler.__name__} is not the one handler of a registry kind")
        table[found.kind] = found
    if missing := sorted(NETWORK_KINDS - set(table)):
        raise UsageError(f"registry kinds without a handler: {missing}")
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
