"""The typed network kinds: a domain's ``network.*`` (join, leave and list its networks) and
a network node's own ``registry.*`` (review registrations; list and search its domains)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "NetworkJoinRequest",
    "NetworkMembership",
    "NetworkLeaveRequest",
    "NetworkListRequest",
    "DomainSummary",
    "RegistrationView",
    "RegistryListRequest",
    "RegistryDecideRequest",
    "RegistryRemoveRequest",
    "RegistryDomainsRequest",
    "RegistrySearchRequest",
    "RegistrySearchResult",
    "NETWORK_JOIN",
    "NETWORK_LEAVE",
    "NETWORK_LIST",
    "REGISTRY_LIST",
    "REGISTRY_DECIDE",
    "REGISTRY_REMOVE",
    "REGISTRY_DOMAINS",
    "REGISTRY_SEARCH",
    "TYPED_KINDS",
    "REGISTRY_KINDS",
    "REGISTRY_TEXT",
]


# -- a domain's side ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NetworkJoinRequest:
    """Join the network at ``url``. ``domain_url`` is where scientists reach this domain (or
    ``tunnel=True`` behind NAT); ``publish`` names the datasets whose metadata is published
    (None: all, ``[]``: none); ``models`` are metadata maps, each with a ``name``."""

    url: str
    domain_url: str | None = None
    description: str = ""
    publish: list[str] | None = None
    models: list[dict[str, Any]] | None = None
    tunnel: bool = False
    heartbeat_s: float = 10.0


@dataclass(frozen=True, kw_only=True)
class NetworkMembership:
    """One network this domain joined: its name, the registration's ``status`` (pending,
    approved, rejected; new or resuming before the network answers), and the heartbeats."""

    url: str
    network: str | None
    status: str
    tunnel: bool
    tunnel_open: bool
    heartbeat_s: float
    last_beat: float | None
    last_error: str | None
    running: bool


@dataclass(frozen=True, kw_only=True)
class NetworkLeaveRequest:
    url: str


@dataclass(frozen=True, kw_only=True)
class NetworkListRequest:
    pass


# -- a network node's registry ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DomainSummary:
    """A domain as a network lists it (``datasets`` and ``models``: how many it publishes)."""

    id: str
    name: str
    url: str | None
    tunnel: bool
    description: str
    datasets: int
    models: int
    public_key: str
    online: bool
    last_seen: float | None


@dataclass(frozen=True, kw_only=True)
class RegistrationView(DomainSummary):
    """A registration as the network's owner reviews it: pending, approved or rejected."""

    status: str
    reason: str
    registered_at: float
    decided_at: float | None


@dataclass(frozen=True, kw_only=True)
class RegistryListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class RegistryDecideRequest:
    """``id``: the domain's node id, name or key; ``action``: "approve" or "reject"."""

    id: str
    action: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RegistryRemoveRequest:
    id: str  # the domain's node id, name or key


@dataclass(frozen=True, kw_only=True)
class RegistryDomainsRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class RegistrySearchRequest:
    query: str


@dataclass(frozen=True, kw_only=True)
class RegistrySearchResult:
    """Assets of approved domains matching ``query``: ``total`` matches, their tag profile,
    the first results (asset metadata maps, each naming its ``domain`` by node id) and the
    summary of each domain they name (maps by node id, as :class:`DomainSummary` has them)."""

    query: str
    total: int
    tags: dict[str, int]
    domains: dict[str, Any]
    results: list[dict[str, Any]]


NETWORK_JOIN: Kind[NetworkJoinRequest, NetworkMembership] = Kind(
    "network.join", NetworkJoinRequest, NetworkMembership
)
NETWORK_LEAVE: Kind[NetworkLeaveRequest, bool] = Kind("network.leave", NetworkLeaveRequest, bool)
NETWORK_LIST: Kind[NetworkListRequest, list[NetworkMembership]] = Kind(
    "network.list", NetworkListRequest, list[NetworkMembership]
)
REGISTRY_LIST: Kind[RegistryListRequest, list[RegistrationView]] = Kind(
    "registry.list", RegistryListRequest, list[RegistrationView]
)
REGISTRY_DECIDE: Kind[RegistryDecideRequest, RegistrationView] = Kind(
    "registry.decide", RegistryDecideRequest, RegistrationView
)
REGISTRY_REMOVE: Kind[RegistryRemoveRequest, None] = Kind(
    "registry.remove", RegistryRemoveRequest, None
)
REGISTRY_DOMAINS: Kind[RegistryDomainsRequest, list[DomainSummary]] = Kind(
    "registry.domains", RegistryDomainsRequest, list[DomainSummary]
)
REGISTRY_SEARCH: Kind[RegistrySearchRequest, RegistrySearchResult] = Kind(
    "registry.search", RegistrySearchRequest, RegistrySearchResult
)

#: the kinds of a network node's registry (not of a domain: :data:`unseen.messages.KINDS`
#: does not list them)
REGISTRY_KINDS: tuple[Kind[Any, Any], ...] = (
    REGISTRY_LIST,
    REGISTRY_DECIDE,
    REGISTRY_REMOVE,
    REGISTRY_DOMAINS,
    REGISTRY_SEARCH,
)
#: a line on each registry kind, as :data:`unseen.messages.KINDS` has for a domain's kinds
REGISTRY_TEXT: dict[str, str] = {
    "registry.list": "every registration with its status (the network's owners and admins)",
    "registry.decide": "approve or reject a domain's registration (owners and admins)",
    "registry.remove": "forget a registered domain (owners and admins)",
    "registry.domains": "the approved domains with their public summaries",
    "registry.search": "assets of approved domains matching a tag or text",
}
TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    NETWORK_JOIN,
    NETWORK_LEAVE,
    NETWORK_LIST,
    *REGISTRY_KINDS,
)
