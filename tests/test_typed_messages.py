"""Typed messages: each converted kind has one request and one reply type, declared in
:mod:`unseen.messages`, used by the node's route and by the client alike; the wire stays the
protocol 1.0 dict (same field names), extra fields are ignored and a missing or ill-typed
field is a ``UsageError`` naming it."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

import unseen
from unseen.errors import UsageError
from unseen.messages import KINDS, TYPED, Kind, decode_reply, from_wire, to_wire
from unseen.messages.info import NODE_INFO, NodeInfo, NodeInfoRequest
from unseen.messages.users import (
    USER_CREATE,
    USER_DELETE,
    USER_LIST,
    USER_ME,
    USER_PASSWORD,
    USER_UPDATE,
    UserCreateRequest,
    UserDeleteRequest,
    UserListRequest,
    UserMeRequest,
    UserPasswordRequest,
    UserUpdateRequest,
    UserView,
)
from unseen.node import Node, build_routes

FIXTURES = Path(__file__).parent / "protocol" / "fixtures" / "1.0"
PILOT = (USER_CREATE, USER_LIST, USER_ME, USER_UPDATE, USER_DELETE, USER_PASSWORD, NODE_INFO)
VIEW = UserView(
    id="u1", email="ana@uni.edu", name="Ana", role="data_scientist", budget=2.5, spent=0.5
)


def test_the_pilot_kinds_are_typed_and_known() -> None:
    assert {k.name for k in PILOT} <= set(TYPED)
    assert all(TYPED[k.name] is k and k.name in KINDS for k in PILOT)


@pytest.mark.parametrize("kind", PILOT, ids=lambda k: k.name)
def test_the_node_handler_takes_the_request_type_and_returns_the_reply_type(kind: Kind) -> None:
    route = build_routes()[kind.name]
    assert route.message is kind  # the route declaration carries the kind's types
    hints = typing.get_type_hints(route.typed_handler, localns={"Node": Node})
    assert hints["request"] is kind.request
    assert hints["return"] == (type(None) if kind.reply is None else kind.reply)


def _kind_literals(source: str) -> set[str]:
    """String constants in ``source`` that name a typed kind (a raw, untyped call)."""
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in TYPED
    }


#: the packages that call a node (the node's own side, its tables and transports name kinds)
CALLERS = ("client", "train", "duet", "cli", "jobs", "fl")


def test_the_callers_use_typed_kinds_only_through_their_types() -> None:
    root = Path(unseen.__file__).parent
    files = [p for package in CALLERS for p in (root / package).rglob("*.py")]
    assert len(files) > 20
    raw = {str(p.relative_to(root)): _kind_literals(p.read_text()) for p in files}
    assert {name: kinds for name, kinds in raw.items() if kinds} == {}
    # the check catches a planted raw call
    assert _kind_literals('client.call("user.me")["email"]') == {"user.me"}


def test_the_client_reads_the_typed_replies() -> None:
    worker = unseen.VirtualWorker(name="May Clinic")
    made = worker.users.create("ana@uni.edu", "ana-pw-123", name="Ana", budget=3.0)
    assert isinstance(made, UserView)
    record = worker.node.stores.users.by_email("ana@uni.edu")  # the oracle: the node's store
    assert (made.id, made.email, made.name, made.role, made.budget) == (
        record.id,
        "ana@uni.edu",
        "Ana",
        "data_scientist",
        3.0,
    )
    changed = worker.users.update("ana@uni.edu", budget=5.0, name="Ana B")
    assert isinstance(changed, UserView) and (changed.budget, changed.name) == (5.0, "Ana B")
    listed = list(worker.users)
    assert all(isinstance(u, UserView) for u in listed)
    assert {u.email for u in listed} == {u.email for u in worker.node.stores.users.list()}
    me = worker.me
    assert isinstance(me, UserView) and me.role == "owner"
    assert worker.node_name == "May Clinic" and worker.role == "owner"
    assert worker.ask(NODE_INFO, NodeInfoRequest()).user_id == worker.user_id
    assert worker.users.delete("ana@uni.edu") is None
    assert {u.email for u in worker.users} == {me.email}


@pytest.mark.parametrize(
    "value, wire",
    [
        (
            UserCreateRequest(
                email="a@b.c", password="pw-123456", name="A", role="guest", budget=1.0
            ),
            {
                "email": "a@b.c",
                "password": "pw-123456",
                "name": "A",
                "role": "guest",
                "budget": 1.0,
            },
        ),
        (UserListRequest(), {}),
        (UserMeRequest(), {}),
        (UserUpdateRequest(user="a@b.c", budget=2.0), {"user": "a@b.c", "budget": 2.0}),
        (
            UserUpdateRequest(user="x", name="N", role="admin", budget=0.0, password="p-1234567"),
            {"user": "x", "name": "N", "role": "admin", "budget": 0.0, "password": "p-1234567"},
        ),
        (UserDeleteRequest(user="a@b.c"), {"user": "a@b.c"}),
        (
            UserPasswordRequest(old_password="old-pw-1", new_password="new-pw-1"),
            {"old_password": "old-pw-1", "new_password": "new-pw-1"},
        ),
        (NodeInfoRequest(), {}),
        (
            VIEW,
            {
                "id": "u1",
                "email": "ana@uni.edu",
                "name": "Ana",
                "role": "data_scientist",
                "budget": 2.5,
                "spent": 0.5,
            },
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)
def test_each_type_round_trips_through_its_1_0_wire_dict(value: object, wire: dict) -> None:
    assert to_wire(value) == wire
    assert list(to_wire(value)) == list(wire)  # the field order of the 1.0 bodies too
    assert from_wire(type(value), wire) == value


def test_replies_of_list_and_none_kinds_round_trip() -> None:
    assert USER_LIST.reply_to_wire([VIEW]) == [to_wire(VIEW)]
    assert USER_LIST.read_reply([to_wire(VIEW)]) == [VIEW]
    assert USER_DELETE.reply_to_wire(None) is None and USER_DELETE.read_reply(None) is None
    with pytest.raises(UsageError, match="user.list"):
        USER_LIST.read_reply({"not": "a list"})


def test_node_info_is_the_recorded_1_0_reply_exactly() -> None:
    recorded = decode_reply((FIXTURES / "01-node.info.reply").read_bytes()).unwrap()
    info = NODE_INFO.read_reply(recorded)
    assert isinstance(info, NodeInfo) and info.name == "May Clinic" and info.node_type is None
    assert NODE_INFO.reply_to_wire(info) == recorded  # None optional fields stay off the wire
    assert list(NODE_INFO.reply_to_wire(info)) == list(recorded)


def test_a_missing_field_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="'email'"):
        from_wire(UserCreateRequest, {"password": "pw-123456"})
    with pytest.raises(UsageError, match="'new_password'"):
        from_wire(UserPasswordRequest, {"old_password": "x", "new_password": None})


def test_an_ill_typed_field_is_a_usage_error_naming_it_and_the_type() -> None:
    with pytest.raises(UsageError, match="'budget' must be float, not str"):
        from_wire(UserCreateRequest, {"email": "a@b.c", "password": "p", "budget": "lots"})
    with pytest.raises(UsageError, match="'budget' must be float, not bool"):
        from_wire(UserUpdateRequest, {"user": "x", "budget": True})
    with pytest.raises(UsageError, match="'kinds' must be a list of str"):
        from_wire(NodeInfo, {**to_wire(_info()), "kinds": ["a", 1]})
    with pytest.raises(UsageError, match="UserMeRequest"):
        from_wire(UserMeRequest, ["not", "a", "map"])


def test_an_int_is_a_float_and_an_extra_field_is_ignored() -> None:
    made = from_wire(UserUpdateRequest, {"user": "x", "budget": 3, "added_in_1_1": {"x": 1}})
    assert made == UserUpdateRequest(user="x", budget=3.0) and type(made.budget) is float


def test_the_node_answers_a_bad_field_with_the_named_usage_error() -> None:
    worker = unseen.VirtualWorker(name="May Clinic")
    with pytest.raises(UsageError, match="the message needs the field 'email'"):
        worker.call("user.create", {"password": "pw-123456"})
    with pytest.raises(UsageError, match="'budget' must be float"):
        worker.call("user.update", {"user": worker.user_id, "budget": "lots"})
    assert worker.call("user.me", {"later_field": 1})["role"] == "owner"


def _info() -> NodeInfo:
    return NodeInfo(
        name="n", id="i", public_key="k", version="0.1.0", kinds=["node.info"],
        user_id="u", role="owner", name_of_user="o",
    )  # fmt: skip
