"""Typed ``mpc.*`` messages: one request and one reply type per kind (unseen.messages.mpc),
used by the node's routes and the scientist's and owner's clients; the 1.0 bodies stay the
same dicts, and a missing or ill-typed field is a ``UsageError`` naming it."""

from __future__ import annotations

import secrets
import typing
from collections.abc import Iterator

import numpy as np
import pytest
import torch

import unseen
from unseen.client._mpc import close_sessions
from unseen.errors import NotFound, UsageError
from unseen.messages import TYPED, from_wire, to_wire
from unseen.messages.mpc import (
    MPC_INPUT,
    MPC_JOIN,
    MPC_LEAVE,
    MPC_MESH,
    MPC_POLICY,
    MPC_REQUEST,
    MPC_TRUST,
    MPC_UNTRUST,
    TYPED_KINDS,
    MPCInputLoaded,
    MPCInputRequest,
    MPCJoined,
    MPCJoinRequest,
    MPCLeaveRequest,
    MPCLink,
    MPCMeshRequest,
    MPCPolicy,
    MPCPolicyRequest,
    MPCReleaseRequest,
    MPCTrustRequest,
    MPCUntrustRequest,
    TrustedNode,
)
from unseen.mpc.comm_local import close_hub, open_hub
from unseen.node import ADMINS, MEMBERS, Node, build_routes

SESSION = "0123456789abcdef0123456789abcdef"
KEYS = ["aa" * 32, "bb" * 32, "cc" * 32]


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    close_sessions()


def test_every_mpc_kind_is_typed_with_its_roles() -> None:
    routes = build_routes()
    assert {k.name for k in TYPED_KINDS} == {n for n in routes if n.startswith("mpc.")}
    admins = {"mpc.policy", "mpc.trust", "mpc.untrust"}
    for kind in TYPED_KINDS:
        route = routes[kind.name]
        assert TYPED[kind.name] is kind and route.message is kind
        assert route.roles == (ADMINS if kind.name in admins else MEMBERS)
        hints = typing.get_type_hints(route.typed_handler, localns={"Node": Node})
        assert hints["request"] is kind.request
        assert hints["return"] == (type(None) if kind.reply is None else kind.reply)


@pytest.mark.parametrize(
    "value, wire",
    [  # the bodies the 1.0 client sent, in its field order
        (
            MPCJoinRequest(
                session=SESSION, n=2, frac_bits=16, timeout=60.0, keys=KEYS,
                names=["a", "b", "c"], role="party", rank=1,
            ),
            {
                "session": SESSION, "n": 2, "frac_bits": 16, "timeout": 60.0, "keys": KEYS,
                "names": ["a", "b", "c"], "role": "party", "rank": 1,
            },
        ),
        (
            MPCJoinRequest(
                session=SESSION, n=2, frac_bits=12, timeout=5.0, keys=KEYS,
                names=["a", "b", "c"], role="dealer", comm=MPCLink(kind="tcp", token="t" * 64),
            ),
            {
                "session": SESSION, "n": 2, "frac_bits": 12, "timeout": 5.0, "keys": KEYS,
                "names": ["a", "b", "c"], "role": "dealer",
                "comm": {"kind": "tcp", "token": "t" * 64},
            },
        ),
        (
            MPCJoined(node="St Mary", node_id="n1", role="party", address=[None, 4242]),
            {"node": "St Mary", "node_id": "n1", "role": "party", "address": [None, 4242]},
        ),
        (MPCJoined(node="a", node_id="n1", role="dealer"), {"node": "a", "node_id": "n1", "role": "dealer"}),
        (
            MPCMeshRequest(session=SESSION, peers={"0": ["10.0.0.1", 4000], "2": ["h", 4001]}),
            {"session": SESSION, "peers": {"0": ["10.0.0.1", 4000], "2": ["h", 4001]}},
        ),
        (
            MPCInputRequest(session=SESSION, object_id="o1", name="o1", shape=[2, 3]),
            {"session": SESSION, "object_id": "o1", "name": "o1", "shape": [2, 3]},
        ),
        (MPCInputLoaded(shape=[2, 3], dtype="float64"), {"shape": [2, 3], "dtype": "float64"}),
        (
            MPCReleaseRequest(session=SESSION, sid="s1", name="total", reason="why"),
            {"session": SESSION, "sid": "s1", "name": "total", "reason": "why"},
        ),
        (MPCLeaveRequest(session=SESSION), {"session": SESSION}),
        (MPCPolicyRequest(), {}),
        (
            MPCTrustRequest(role="dealer", key=KEYS[0], label="Crypto"),
            {"role": "dealer", "key": KEYS[0], "label": "Crypto"},
        ),
        (MPCUntrustRequest(role="party", key=KEYS[1]), {"role": "party", "key": KEYS[1]}),
        (
            MPCPolicy(node_key=KEYS[2], dealers=[TrustedNode(key=KEYS[0], label="C")], parties=[]),
            {"node_key": KEYS[2], "dealers": [{"key": KEYS[0], "label": "C"}], "parties": []},
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)  # fmt: skip
def test_each_type_round_trips_through_its_1_0_wire_dict(value: object, wire: dict) -> None:
    assert to_wire(value) == wire
    assert list(to_wire(value)) == list(wire)
    assert from_wire(type(value), wire) == value


def test_the_request_reply_is_a_request_view_or_none() -> None:
    view = {"id": "r1", "status": "pending", "graph": ["x"]}
    assert MPC_REQUEST.read_reply(view) == view and MPC_REQUEST.read_reply(None) is None
    with pytest.raises(UsageError, match="mpc.request"):
        MPC_REQUEST.read_reply(["not", "a", "map"])


def _workers() -> tuple[unseen.VirtualWorker, ...]:
    return tuple(unseen.VirtualWorker(name=n) for n in ("St Mary", "General", "Crypto"))


def test_the_trust_kinds_round_trip_on_a_virtual_worker() -> None:
    clinic, partner, crypto = _workers()
    shown = clinic.ask(MPC_POLICY, MPCPolicyRequest())
    assert shown == MPCPolicy(node_key=clinic.node_key, dealers=[], parties=[])
    made = clinic.ask(MPC_TRUST, MPCTrustRequest(role="dealer", key=crypto.node_key))
    assert clinic.mpc.trust(party=partner, label="Partner") == clinic.mpc.policy
    # the oracle: the node's settings store, where the policy lives
    stored = clinic.node.stores.settings.get("mpc.trust")
    assert stored == {"dealer": {crypto.node_key: crypto.node_key[:12]},
                      "party": {partner.node_key: "Partner"}}  # fmt: skip
    assert made.dealers == [TrustedNode(key=crypto.node_key, label=crypto.node_key[:12])]
    policy = clinic.mpc.policy
    assert isinstance(policy, MPCPolicy)
    assert policy.parties == [TrustedNode(key=partner.node_key, label="Partner")]
    assert "'Partner'" in repr(policy) and clinic.node_key[:12] in repr(policy)
    left = clinic.ask(MPC_UNTRUST, MPCUntrustRequest(role="party", key=partner.node_key))
    assert left.parties == [] and left.dealers == made.dealers
    assert clinic.node.stores.settings.get("mpc.trust")["party"] == {}


def test_join_and_leave_round_trip_on_a_virtual_worker() -> None:
    clinic, partner, crypto = _workers()
    session = secrets.token_hex(16)
    keys = [clinic.node_key, partner.node_key, crypto.node_key]
    open_hub(session, 2, 5.0)
    try:
        request = MPCJoinRequest(
            session=session, n=2, timeout=5.0, keys=keys, names=["a", "b", "c"], role="party",
            rank=0,
        )  # fmt: skip
        joined = clinic.ask(MPC_JOIN, request)
        assert joined == MPCJoined(node="St Mary", node_id=clinic.node_id, role="party")
        with pytest.raises(UsageError, match="already"):
            clinic.ask(MPC_JOIN, request)
        with pytest.raises(UsageError, match="in-process: it has no mesh"):
            clinic.ask(MPC_MESH, MPCMeshRequest(session=session, peers={}))
        assert clinic.ask(MPC_LEAVE, MPCLeaveRequest(session=session)) is None
        with pytest.raises(NotFound, match="no MPC session"):
            clinic.ask(MPC_LEAVE, MPCLeaveRequest(session=session))
    finally:
        close_hub(session)


def test_input_and_request_round_trip_on_a_virtual_worker() -> None:
    clinic, partner, crypto = _workers()
    data = np.arange(6.0).reshape(2, 3)
    pointer = clinic.send(torch.from_numpy(data))
    x = pointer.share(clinic, partner, crypto_provider=crypto)  # mpc.join, mpc.input
    np.testing.assert_allclose(x.get().numpy(), data, atol=1e-3)  # the plaintext oracle
    session = x.cluster.session
    again = MPCInputRequest(session=session, object_id=pointer.id, name="again", shape=[2, 3])
    loaded = clinic.ask(MPC_INPUT, again)
    assert loaded == MPCInputLoaded(shape=list(data.shape), dtype=str(data.dtype))
    with pytest.raises(UsageError, match="crypto provider holds no inputs"):
        crypto.ask(MPC_INPUT, again)
    view = clinic.ask(MPC_REQUEST, MPCReleaseRequest(session=session, sid=x.sid, reason="r"))
    assert view is not None
    record = clinic.node.stores.requests.get(view["id"])
    assert (view["status"], view["name"], view["reason"]) == (record.status, record.name, "r")
    assert record.name == f"MPC result {x.sid}"
    # the result derives from nothing on the partner's node: no request there
    assert partner.ask(MPC_REQUEST, MPCReleaseRequest(session=session, sid=x.sid)) is None


def test_a_bad_field_is_a_usage_error_naming_it_and_changes_nothing() -> None:
    clinic, partner, crypto = _workers()
    before = clinic.mpc.policy
    cases = [
        ("mpc.trust", {"role": "party", "key": 7}, "the field 'key' must be str, not int"),
        ("mpc.untrust", {"role": "party"}, "the message needs the field 'key'"),
        ("mpc.join", {"session": SESSION, "n": "2", "role": "party"}, "'n' must be int"),
        (
            "mpc.join",
            {"session": SESSION, "n": 2, "role": "dealer", "comm": {"kind": 3}},
            "the field 'kind' must be str",
        ),
        (
            "mpc.input",
            {"session": SESSION, "object_id": "o", "name": "o", "shape": [2, "3"]},
            "the field 'shape' must be a list of int",
        ),
        ("mpc.request", {"session": SESSION, "sid": 5}, "the field 'sid' must be str"),
        ("mpc.leave", {}, "the message needs the field 'session'"),
        ("mpc.mesh", {"session": SESSION, "peers": [1]}, "the field 'peers' must be a map"),
    ]
    for kind, body, message in cases:
        with pytest.raises(UsageError, match=message):
            clinic.call(kind, body)
    assert clinic.mpc.policy == before
    # only a party needs a rank: the handler checks it, with the same message
    with pytest.raises(UsageError, match="the message needs the field 'rank'"):
        clinic.call("mpc.join", {"session": SESSION, "n": 2, "role": "party", "keys": KEYS})
