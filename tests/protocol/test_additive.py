"""Additive changes need no version bump: an unknown optional field is ignored both ways (in a
message body, in an action, in a reply), but an unknown message kind is still refused with a
clear error."""

from __future__ import annotations

import numpy as np
import pytest

from unseen import ops, serde
from unseen.errors import UsageError
from unseen.messages import Message, decode_message, decode_reply, encode_message_parts
from unseen.transport import connect

OWNER_EMAIL, OWNER_PASSWORD = "owner@clinic.org", "s3cret-pw"  # as in conftest.py


@pytest.fixture(scope="module")
def conn(node):
    c = connect(node.url, OWNER_EMAIL, OWNER_PASSWORD, transport="http")
    yield c
    c.close()


def test_a_node_ignores_unknown_body_fields(conn) -> None:
    info = conn.call("node.info", {"added_in_a_later_minor": {"x": 1}})
    assert info["name"] == "May Clinic"
    a = np.arange(5.0)
    sent = conn.call("object.send", {"value": a, "compression": "zstd-later"})
    doubled = ops.Action("fxadd0001", "method", "__mul__", (ops.Ref(sent["id"]), 2.0), {})
    reply = conn.call(
        "graph.run",
        {"actions": [doubled], "keep": [], "get": ["fxadd0001"], "drop": [], "priority": 3},
    )
    np.testing.assert_array_equal(reply["values"][0], a * 2.0)


def test_a_node_ignores_unknown_top_level_message_fields(conn) -> None:
    wire = {"v": [1, 0], "kind": "node.info", "body": {}, "trace_id": "abc"}
    reply = conn.send_parts("node.info", [bytes(serde.encode(wire))])
    assert reply.ok and reply.body["name"] == "May Clinic"


def test_an_action_with_an_added_trailing_field_still_decodes_and_runs(conn) -> None:
    a = np.arange(4.0)
    sent = conn.call("object.send", {"value": a})
    # an Action travels as [id, kind, name, args, kwargs]; a later minor appends a field
    action_wire = {"v": [1, 0], "kind": "graph.run", "body": {}}
    plain = bytes(
        serde.encode(ops.Action("fxadd0002", "method", "sum", (ops.Ref(sent["id"]),), {}))
    )
    decoded = serde.decode(plain)
    assert isinstance(decoded, ops.Action)
    # build the same message with a 6-field action by hand, on the serde wire
    extended = _action_with_extra_field(plain)
    action = serde.decode(extended)
    assert isinstance(action, ops.Action) and action.name == "sum"
    action_wire["body"] = {"actions": [action], "keep": [], "get": ["fxadd0002"], "drop": []}
    reply = conn.send_parts("graph.run", [bytes(serde.encode(action_wire))])
    assert float(reply.unwrap()["values"][0]) == float(a.sum())


def _action_with_extra_field(plain: bytes) -> bytes:
    """The encoded action with a sixth element appended (an optional field of a later minor):
    the encoder of a newer side, registered for a moment, then the current one again."""
    from unseen.ops._wire import ACTION_CODE
    from unseen.serde._registry import by_code

    def extended(action: ops.Action) -> list[object]:
        return [action.id, action.kind, action.name, tuple(action.args), dict(action.kwargs), 7]

    current = by_code(ACTION_CODE)
    assert current is not None
    serde.register(ACTION_CODE, ops.Action, extended, current.from_wire)
    try:
        return bytes(serde.encode(serde.decode(plain)))
    finally:
        serde.register(ACTION_CODE, ops.Action, current.to_wire, current.from_wire)


def test_an_unknown_kind_is_still_refused_clearly(conn) -> None:
    with pytest.raises(UsageError, match="this node does not know the message kind 'model.train'"):
        conn.call("model.train", {"epochs": 1})


def test_a_client_ignores_unknown_reply_fields() -> None:
    wire = {"v": [1, 0], "ok": True, "body": {"id": "a", "new_field": [1, 2]}, "timing": 0.1}
    reply = decode_reply(bytes(serde.encode(wire)))
    assert reply.unwrap() == {"id": "a", "new_field": [1, 2]}
    failed = {"v": [1, 0], "ok": False, "error": {"kind": "NotFound", "message": "m", "hint": 1}}
    with pytest.raises(Exception, match="m"):
        decode_reply(bytes(serde.encode(failed))).unwrap()


def test_a_message_keeps_its_version_through_the_codec() -> None:
    message = decode_message(b"".join(encode_message_parts(Message("node.info", {}, (1, 0)))))
    assert message.version == (1, 0) and message.kind == "node.info"
