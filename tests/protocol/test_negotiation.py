"""Version negotiation at connect: both sides state the protocol versions they speak, the
client picks the highest common one (and uses it in its messages) or fails at once with a
message that names both sides' versions and which one to upgrade."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

import unseen
from unseen import messages, serde
from unseen.errors import DecodeError, UsageError
from unseen.messages import Message, decode_reply, encode_message_parts, negotiate
from unseen.transport import connect

OWNER_EMAIL, OWNER_PASSWORD = "owner@clinic.org", "s3cret-pw"  # as in conftest.py


def test_info_states_every_version_the_node_speaks_and_keeps_the_old_field(node) -> None:
    info = httpx.get(f"{node.url}/api/v1/info").json()
    assert info["protocol_versions"] == [list(v) for v in messages.SPEAKS]
    assert info["protocol_version"] == list(messages.PROTOCOL_VERSION)  # for old clients
    assert tuple(info["protocol_version"]) == max(messages.SPEAKS)


def test_a_client_of_a_newer_major_fails_at_connect_naming_both_versions(node) -> None:
    with pytest.raises(UsageError) as caught:
        connect(node.url, OWNER_EMAIL, OWNER_PASSWORD, speaks=((2, 0), (2, 1)))
    text = str(caught.value)
    assert "this client speaks 2.0-2.1" in text
    assert f"the node at {node.url} speaks 1.0" in text
    assert "upgrade unseen on the node" in text


def test_a_client_of_an_older_major_is_told_to_upgrade_itself(node) -> None:
    with pytest.raises(UsageError) as caught:
        connect(node.url, OWNER_EMAIL, OWNER_PASSWORD, speaks=((0, 9),), transport="http")
    text = str(caught.value)
    assert "this client speaks 0.9" in text and f"the node at {node.url} speaks 1.0" in text
    assert "upgrade unseen on this machine (pip install -U unseen)" in text


@pytest.mark.parametrize("transport", ["http", "websocket", "auto"])
def test_a_client_speaking_a_superset_picks_the_highest_common_version(node, transport) -> None:
    conn = connect(
        node.url, OWNER_EMAIL, OWNER_PASSWORD, speaks=((1, 0), (1, 1), (1, 7)), transport=transport
    )
    try:
        assert conn.protocol == (1, 0)
        # the chosen version is the one its messages carry, and the node answers in it
        assert conn.message("node.info").version == (1, 0)
        assert conn.call("node.info")["name"] == "May Clinic"
        http = conn if transport == "http" else conn.http
        reply = http.send_parts("node.info", encode_message_parts(conn.message("node.info")))
        assert reply.ok and reply.version == (1, 0)
        # and the session works end to end: a computation against a numpy oracle
        value = np.arange(6.0).reshape(2, 3)
        sent = conn.call("object.send", {"value": value})
        assert sent["id"]
    finally:
        conn.close()


def test_login_negotiates_the_current_version(node) -> None:
    client = unseen.login(url=node.url, email=OWNER_EMAIL, password=OWNER_PASSWORD, verbose=False)
    try:
        assert client._conn.protocol == messages.PROTOCOL_VERSION
        x = client.send(np.arange(4.0))
        assert float((x * 3).sum().get()) == float((np.arange(4.0) * 3).sum())
    finally:
        client.close()


def test_negotiate_with_a_node_that_predates_negotiation() -> None:
    # a 1.0 node's /api/v1/info has only "protocol_version": it speaks 1.0
    old = {"name": "old", "protocol_version": [1, 0]}
    assert negotiate(((1, 0), (1, 1)), old, "http://old") == (1, 0)
    with pytest.raises(UsageError, match="the node at http://old speaks 1.0"):
        negotiate(((2, 0),), old, "http://old")


def test_negotiate_picks_the_highest_common_and_names_gaps() -> None:
    node_info = {"protocol_versions": [[1, 0], [1, 1], [2, 0]]}
    assert negotiate(((1, 0), (1, 1)), node_info, "u") == (1, 1)
    assert negotiate(((1, 0), (2, 0), (2, 1)), node_info, "u") == (2, 0)
    with pytest.raises(UsageError, match="this client speaks 3.0, 3.2"):
        negotiate(((3, 0), (3, 2)), node_info, "u")
    with pytest.raises(UsageError, match="does not say which protocol"):
        negotiate(((1, 0),), {"protocol_versions": "x"}, "u")


def test_the_node_refuses_a_message_of_a_major_it_does_not_speak(node) -> None:
    conn = connect(node.url, OWNER_EMAIL, OWNER_PASSWORD, transport="http")
    try:
        wire = {"v": [2, 0], "kind": "node.info", "body": {}}
        reply = conn.send_parts("node.info", [bytes(serde.encode(wire))])
        assert not reply.ok
        with pytest.raises(DecodeError, match="protocol version 2.0 .* 1.0"):
            reply.unwrap()
    finally:
        conn.close()


def test_a_message_of_an_unnegotiated_newer_minor_is_answered_in_the_nodes_version(node) -> None:
    # an older client sends its own version without negotiating: same major is enough
    conn = connect(node.url, OWNER_EMAIL, OWNER_PASSWORD, transport="http")
    try:
        parts = encode_message_parts(Message("node.info", {}, version=(1, 9)))
        reply = conn.send_parts("node.info", parts)
        assert reply.ok and reply.version == messages.PROTOCOL_VERSION
        assert decode_reply(bytes(serde.encode({"v": [1, 9], "ok": True, "body": 1}))).body == 1
    finally:
        conn.close()
