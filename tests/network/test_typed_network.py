"""The typed ``network.*`` kinds of a domain and ``registry.*`` kinds of a network node, over
real servers: each request type in, each reply type out, checked against the network's own
registry, its public HTTP listing and the audit log; ill-typed fields are refused by name."""

from __future__ import annotations

from typing import Any

import pytest

import unseen
from unseen.messages.network import (
    NETWORK_JOIN,
    NETWORK_LEAVE,
    NETWORK_LIST,
    REGISTRY_DECIDE,
    REGISTRY_DOMAINS,
    REGISTRY_LIST,
    REGISTRY_REMOVE,
    REGISTRY_SEARCH,
    DomainSummary,
    NetworkJoinRequest,
    NetworkLeaveRequest,
    NetworkListRequest,
    NetworkMembership,
    RegistrationView,
    RegistryDecideRequest,
    RegistryDomainsRequest,
    RegistryListRequest,
    RegistryRemoveRequest,
    RegistrySearchRequest,
    RegistrySearchResult,
)


def test_join_review_search_leave_and_remove_typed(
    network: Any, domains: list[dict[str, Any]], netowner: unseen.Client
) -> None:
    domain = domains[0]
    owner: unseen.Client = domain["owner"]
    request = NetworkJoinRequest(
        url=network.url, domain_url=domain["running"].url, description="typed", heartbeat_s=0.2
    )
    joined = owner.ask(NETWORK_JOIN, request)
    assert isinstance(joined, NetworkMembership)
    assert (joined.url, joined.network, joined.status) == (network.url, "Research Net", "pending")
    [listed] = owner.ask(NETWORK_LIST, NetworkListRequest())
    assert (listed.url, listed.network, listed.heartbeat_s, listed.running) == (
        network.url,
        "Research Net",
        0.2,
        True,
    )
    raw = owner.call("network.list")[0]
    assert "last_error" in raw and raw["last_error"] is None  # null fields stay on the wire

    [pending] = netowner.ask(REGISTRY_LIST, RegistryListRequest())
    assert isinstance(pending, RegistrationView)
    [oracle] = network.registry.registrations()  # the oracle: the network's registry
    assert (pending.id, pending.name, pending.status) == (oracle["id"], domain["name"], "pending")
    assert pending.decided_at is None and pending.description == "typed"
    with pytest.raises(unseen.UsageError, match="does not know the message kind 'registry"):
        owner.ask(REGISTRY_LIST, RegistryListRequest())  # a domain has no registry

    decided = netowner.ask(REGISTRY_DECIDE, RegistryDecideRequest(id=pending.id, action="approve"))
    assert decided.status == "approved" and decided.decided_at is not None
    assert network.registry.approved(pending.id).status == "approved"

    listed = netowner.ask(REGISTRY_DOMAINS, RegistryDomainsRequest())
    assert all(isinstance(d, DomainSummary) for d in listed)
    public = unseen.connect_network(network.url)
    try:
        assert [d.id for d in listed] == [d["id"] for d in public.domains] == [pending.id]
        found = netowner.ask(REGISTRY_SEARCH, RegistrySearchRequest(query="#diabetes"))
        assert isinstance(found, RegistrySearchResult)
        oracle_search = public.search("#diabetes", verbose=False)
        assert found.total == oracle_search.total == 2  # features and target of May Clinic
        assert set(found.domains) == {pending.id}
    finally:
        public.close()

    assert owner.ask(NETWORK_LEAVE, NetworkLeaveRequest(url=network.url)) is True
    assert owner.ask(NETWORK_LIST, NetworkListRequest()) == []
    assert netowner.ask(REGISTRY_REMOVE, RegistryRemoveRequest(id=pending.id)) is None
    assert network.registry.registrations() == []
    audited = [(e.action, e.target) for e in network.node.audit_log]
    assert ("registry.decide", pending.id) in audited and ("registry.remove", pending.id) in audited


@pytest.mark.parametrize(
    "kind, body, field",
    [
        ("registry.decide", {"id": 5, "action": "approve"}, "id"),
        ("registry.decide", {"id": "x", "action": "approve", "reason": ["no"]}, "reason"),
        ("registry.search", {"query": 1}, "query"),
    ],
)
def test_an_ill_typed_registry_field_is_refused_by_name(
    netowner: unseen.Client, kind: str, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(unseen.UsageError, match=f"the field '{field}' must be str"):
        netowner.call(kind, body)


def test_an_ill_typed_join_is_refused_before_anything_is_sent(
    network: Any, domains: list[dict[str, Any]]
) -> None:
    owner: unseen.Client = domains[1]["owner"]
    body = {"url": network.url, "tunnel": True, "heartbeat_s": "fast"}
    with pytest.raises(unseen.UsageError, match="the field 'heartbeat_s' must be float, not str"):
        owner.call("network.join", body)
    with pytest.raises(unseen.UsageError, match="the field 'publish' must be a list of str"):
        owner.call("network.join", {"url": network.url, "tunnel": True, "publish": [1]})
    with pytest.raises(unseen.UsageError, match="join_network has no option 'heartbeat'"):
        owner.join_network(network.url, heartbeat=0.2)
    assert owner.ask(NETWORK_LIST, NetworkListRequest()) == []
    assert all(r["name"] != domains[1]["name"] for r in network.registry.registrations())
