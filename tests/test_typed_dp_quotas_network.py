"""The typed ``dp.*``, ``quota.*``, ``network.*`` and ``registry.*`` kinds: declared once, used by
the node's routes (the domain's and the network node's), and written as the protocol 1.0 bodies
(same fields, same order; a 1.0 reply's null fields stay; a settings change tells an unset
setting from one put back to its default with ``None``)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from unseen.errors import UsageError
from unseen.messages import (
    KINDS,
    TYPED,
    UNSET,
    Kind,
    decode_message,
    decode_reply,
    from_wire,
    to_wire,
)
from unseen.messages import dp as dp_messages
from unseen.messages import network as network_messages
from unseen.messages import quotas as quota_messages
from unseen.messages.dp import (
    DP_GET,
    DPAnswer,
    DPBalance,
    DPGetRequest,
    DPRelease,
    DPSettingsRequest,
)
from unseen.messages.network import (
    NetworkJoinRequest,
    NetworkMembership,
    RegistrationView,
    RegistryDecideRequest,
)
from unseen.messages.quotas import QuotaSettingsRequest, QuotaSettingsView, QuotaUsage
from unseen.network import NetworkNode, build_network_routes
from unseen.node import Node, Principal, build_routes
from unseen.ops import Action, Ref

FIXTURES = Path(__file__).parent / "protocol" / "fixtures" / "1.0"
DOMAIN_KINDS = (*dp_messages.TYPED_KINDS, *quota_messages.TYPED_KINDS)
DOMAIN_KINDS += tuple(k for k in network_messages.TYPED_KINDS if k.name.startswith("network."))
REGISTRY = network_messages.REGISTRY_KINDS
LIMITS = QuotaSettingsView(
    workers=4, max_running=2, max_waiting=32, cpu_seconds_per_minute=60.0, max_stored_bytes=1 << 30
)


def test_every_kind_of_the_group_is_typed_and_known() -> None:
    for kind in (*DOMAIN_KINDS, *REGISTRY):
        assert TYPED[kind.name] is kind
    assert {k.name for k in DOMAIN_KINDS} <= set(KINDS)
    assert not {k.name for k in REGISTRY} & set(KINDS)  # a network node's, not a domain's


@pytest.mark.parametrize(
    "kind, table",
    [(k, build_routes) for k in DOMAIN_KINDS] + [(k, build_network_routes) for k in REGISTRY],
    ids=lambda v: v.name if isinstance(v, Kind) else "",
)
def test_the_handler_takes_the_request_type_and_returns_the_reply_type(
    kind: Kind[Any, Any], table: Any
) -> None:
    route = table()[kind.name]
    assert route.message is kind
    hints = typing.get_type_hints(route.typed_handler, localns={"Node": Node})
    assert hints["request"] is kind.request
    assert hints["return"] == (type(None) if kind.reply is None else kind.reply)


def test_a_registry_handler_on_a_domain_says_so() -> None:
    route = build_network_routes()["registry.list"]
    principal = Principal("u", "owner", "u")
    with pytest.raises(UsageError, match="'registry.list' is a message of a network node"):
        route.handler(Node("plain domain"), principal, {})
    assert not isinstance(Node("plain domain"), NetworkNode)


ACTION = Action("a1", "method", "mean", (Ref("x"),), {"axis": 0})
BALANCE = DPBalance(
    user_id="u1",
    email="ana@uni.edu",
    name="Ana",
    role="data_scientist",
    budget=2.0,
    spent=0.5,
    remaining=1.5,
    releases=1,
    epsilon_sum=0.5,
    delta=1e-6,
)
MEMBERSHIP = NetworkMembership(
    url="http://net",
    network=None,
    status="new",
    tunnel=True,
    tunnel_open=False,
    heartbeat_s=10.0,
    last_beat=None,
    last_error=None,
    running=True,
)
REGISTRATION = RegistrationView(
    id="n1",
    name="May",
    url=None,
    tunnel=True,
    description="",
    datasets=1,
    models=0,
    public_key="ab" * 32,
    online=False,
    last_seen=None,
    status="pending",
    reason="",
    registered_at=1.0,
    decided_at=None,
)


@pytest.mark.parametrize(
    "value, wire",
    [
        (
            DPGetRequest(actions=[ACTION], target="a1", epsilon=0.5, drop=["old"]),
            {"actions": [ACTION], "target": "a1", "epsilon": 0.5, "drop": ["old"]},
        ),
        (DPSettingsRequest(), {}),
        (
            BALANCE,
            {
                "user_id": "u1",
                "email": "ana@uni.edu",
                "name": "Ana",
                "role": "data_scientist",
                "budget": 2.0,
                "spent": 0.5,
                "remaining": 1.5,
                "releases": 1,
                "epsilon_sum": 0.5,
                "delta": 1e-6,
            },
        ),  # fmt: skip
        (
            DPAnswer(value=3.0, exact=True, epsilon=0.0, delta=0.0, charged=0.0),
            {"value": 3.0, "exact": True, "epsilon": 0.0, "delta": 0.0, "charged": 0.0},
        ),
        (QuotaSettingsRequest(), {}),
        (QuotaSettingsRequest(max_waiting=3, workers=None), {"workers": None, "max_waiting": 3}),
        (
            QuotaUsage(running=1, waiting=0, cpu_seconds=0.5, stored_bytes=10, quotas=None),
            {"running": 1, "waiting": 0, "cpu_seconds": 0.5, "stored_bytes": 10, "quotas": None},
        ),
        (
            QuotaUsage(running=0, waiting=0, cpu_seconds=0.0, stored_bytes=0, quotas=LIMITS),
            {
                "running": 0,
                "waiting": 0,
                "cpu_seconds": 0.0,
                "stored_bytes": 0,
                "quotas": {
                    "workers": 4,
                    "max_running": 2,
                    "max_waiting": 32,
                    "cpu_seconds_per_minute": 60.0,
                    "max_stored_bytes": 1 << 30,
                },
            },
        ),  # fmt: skip
        (
            NetworkJoinRequest(url="http://net", tunnel=True, publish=[]),
            {
                "url": "http://net",
                "description": "",
                "publish": [],
                "tunnel": True,
                "heartbeat_s": 10.0,
            },
        ),  # fmt: skip
        (
            MEMBERSHIP,
            {
                "url": "http://net",
                "network": None,
                "status": "new",
                "tunnel": True,
                "tunnel_open": False,
                "heartbeat_s": 10.0,
                "last_beat": None,
                "last_error": None,
                "running": True,
            },
        ),  # fmt: skip
        (
            REGISTRATION,
            {
                "id": "n1",
                "name": "May",
                "url": None,
                "tunnel": True,
                "description": "",
                "datasets": 1,
                "models": 0,
                "public_key": "ab" * 32,
                "online": False,
                "last_seen": None,
                "status": "pending",
                "reason": "",
                "registered_at": 1.0,
                "decided_at": None,
            },
        ),  # fmt: skip
        (
            RegistryDecideRequest(id="n1", action="reject", reason="no"),
            {"id": "n1", "action": "reject", "reason": "no"},
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)
def test_each_type_round_trips_through_its_1_0_wire_dict(value: object, wire: dict) -> None:
    assert to_wire(value) == wire
    assert list(to_wire(value)) == list(wire)  # the field order of the 1.0 bodies too
    assert from_wire(type(value), wire) == value


def test_the_recorded_1_0_dp_get_reads_as_the_typed_request_and_reply() -> None:
    message = decode_message((FIXTURES / "07-dp.get.msg").read_bytes())
    request = DP_GET.read_request(message.body)
    assert isinstance(request, DPGetRequest) and request.target == message.body["target"]
    assert (
        request.epsilon == 1.0
        and request.delta is None
        and request.actions == list(message.body["actions"])
    )
    # the same body, but for the null delta the 1.0 client wrote (None is the default)
    assert to_wire(request) == {k: v for k, v in message.body.items() if k != "delta"}
    body = decode_reply((FIXTURES / "07-dp.get.reply").read_bytes()).body
    answer = DP_GET.read_reply(body)
    assert answer.mechanism == "laplace" and answer.charged == body["charged"]
    np.testing.assert_array_equal(answer.value, body["value"])
    rewritten = DP_GET.reply_to_wire(answer)
    assert list(rewritten) == list(body)  # the 1.0 reply's fields, in its order
    assert {k: v for k, v in rewritten.items() if k != "value"} == {
        k: v for k, v in body.items() if k != "value"
    }


# -- None on the wire: kept where it means something ------------------------------------------


def test_an_unset_setting_stays_off_the_wire_and_none_is_read_as_none() -> None:
    assert from_wire(QuotaSettingsRequest, {}) == QuotaSettingsRequest()
    assert QuotaSettingsRequest().workers is UNSET and repr(UNSET) == "UNSET"
    reset = from_wire(QuotaSettingsRequest, {"workers": None, "later": 1})
    assert reset.workers is None and reset.max_waiting is UNSET
    with pytest.raises(UsageError, match="the field 'workers' must be int, not str"):
        from_wire(QuotaSettingsRequest, {"workers": "4"})


def test_a_nullable_field_without_default_keeps_none_and_others_still_need_a_value() -> None:
    wire = to_wire(MEMBERSHIP)
    assert wire["last_error"] is None and "network" in wire  # planted: a 1.0 null field
    assert from_wire(NetworkMembership, wire) == MEMBERSHIP
    with pytest.raises(UsageError, match="needs the field 'last_beat'"):  # must be there
        from_wire(NetworkMembership, {k: v for k, v in wire.items() if k != "last_beat"})
    with pytest.raises(UsageError, match="needs the field 'status'"):
        from_wire(NetworkMembership, {**wire, "status": None})  # not nullable: None is missing
    with pytest.raises(UsageError, match="the field 'last_beat' must be float, not str"):
        from_wire(NetworkMembership, {**wire, "last_beat": "never"})
    usage = to_wire(QuotaUsage(running=0, waiting=0, cpu_seconds=0.0, stored_bytes=0, quotas=None))
    with pytest.raises(UsageError, match="QuotaSettingsView must be a map of fields, not int"):
        from_wire(QuotaUsage, {**usage, "quotas": 5})
    release = {"seq": 0, "at": "now", "query": "", "datasets": [], "epsilon": 1, "delta": 0}
    release |= {"mechanism": "laplace", "charged": 1, "spent": 1}
    with pytest.raises(UsageError, match="the field 'at' must be float"):
        from_wire(DPRelease, release)
