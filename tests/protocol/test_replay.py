"""Skew tests against recorded fixtures (``fixtures/1.0``, written by ``record.py``).

Old client, current node: the recorded protocol-1.0 messages, byte for byte, are replayed
against a current node over HTTP and the answers checked against numpy oracles; every field a
1.0 reply had is still there with the same type (a 1.0 client reads only those).
Current node, old client: the current replies decode with a frozen copy of the 1.0 reply
decoder, which knows only the 1.0 envelope and ignores fields it does not know.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import protocol_support as ps  # noqa: E402

from unseen import serde  # noqa: E402
from unseen.errors import DecodeError, error_from_wire  # noqa: E402
from unseen.messages import decode_message, decode_reply, encode_message  # noqa: E402

FIXTURES = HERE / "fixtures" / "1.0"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


def decode_reply_1_0(data: bytes) -> Any:
    """The reply decoder of protocol 1.0, frozen: what a 1.0 client does with a reply's bytes
    (the body, or the node's error raised)."""
    wire = serde.decode(data)
    if not isinstance(wire, dict) or not isinstance(wire.get("ok"), bool):
        raise DecodeError("a reply must be a map with 'v' and 'ok'")
    v = wire.get("v")
    if not isinstance(v, (list, tuple)) or len(v) != 2 or v[0] != 1:
        raise DecodeError(f"protocol version {v} cannot talk to this side's 1.0")
    if wire["ok"]:
        return wire.get("body")
    raise error_from_wire(wire.get("error") or {})


def assert_keeps_fields(old: Any, new: Any, path: str = "reply") -> None:
    """Every field of the 1.0 value ``old`` is in ``new``, with a compatible type."""
    if old is None or new is None:
        return
    if isinstance(old, dict):
        assert isinstance(new, dict), f"{path} is no longer a map"
        for key, value in old.items():
            assert key in new, f"{path}[{key!r}] of protocol 1.0 is gone"
            assert_keeps_fields(value, new[key], f"{path}[{key!r}]")
    elif isinstance(old, (list, tuple)):
        assert isinstance(new, (list, tuple)), f"{path} is no longer a sequence"
        if old and new:
            assert_keeps_fields(old[0], new[0], f"{path}[0]")
    elif isinstance(old, (int, float)) and not isinstance(old, bool):
        assert isinstance(new, (int, float)) and not isinstance(new, bool), f"{path} type"
    else:
        assert type(new) is type(old), f"{path}: {type(old).__name__} -> {type(new).__name__}"


@pytest.fixture(scope="module")
def replayed(node) -> dict[str, Any]:
    """Replay every recorded message as the scientist; the raw reply bytes by file stem."""
    staged = ps.stage(node.url)
    ids = {ps.ASSET: staged.asset_id}
    raw: dict[str, bytes] = {}
    try:
        for step in MANIFEST["steps"]:
            data = (FIXTURES / f"{step['stem']}.msg").read_bytes()
            message = decode_message(data)  # the current decoder reads 1.0 messages
            assert message.version == (1, 0) and message.kind == step["kind"]
            body = ps.substitute(message.body, ids)
            if body != message.body:  # a placeholder: the node's own id goes in
                message.body = body
                data = bytes(encode_message(message))
            token = staged.scientist.session.token()
            response = httpx.post(
                f"{node.url}/api/v1/message",
                content=data,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            raw[step["stem"]] = response.content
            if step["kind"] == "request.create":
                request_id = decode_reply(response.content).unwrap()["id"]
                ids[ps.REQUEST] = request_id
                staged.owner.call("request.decide", {"id": request_id, "action": "accept"})
        raw["budget"] = staged.scientist.call("dp.budget")
        raw["login"] = staged.login_reply
    finally:
        staged.close()
    return raw


def test_the_fixtures_are_protocol_1_0_and_cover_the_kinds() -> None:
    assert MANIFEST["protocol"] == [1, 0]
    kinds = {step["kind"] for step in MANIFEST["steps"]}
    assert {"node.info", "object.send", "graph.run", "request.create"} <= kinds
    assert {"request.result", "dp.get"} <= kinds
    assert b"pickle" not in b"".join(p.read_bytes() for p in FIXTURES.iterdir())


def test_recorded_1_0_messages_get_the_right_answers_from_a_current_node(replayed) -> None:
    body = {
        stem: decode_reply(data).unwrap() for stem, data in replayed.items() if stem[:2].isdigit()
    }
    assert body["01-node.info"]["name"] == "May Clinic"
    assert body["01-node.info"]["role"] == "data_scientist"
    assert body["02-object.send"]["id"] == ps.SENT
    (colsum,) = body["03-graph.run"]["values"]
    np.testing.assert_array_equal(colsum, (ps.sent_value() * 2.0).sum(axis=0))
    assert "fxmean000001" in body["04-graph.run-private"]["kept"]
    assert body["05-request.create"]["status"] == "pending"  # private: the owner decides
    np.testing.assert_allclose(body["06-request.result"], ps.private_data().mean(axis=0))
    noisy = np.asarray(body["07-dp.get"]["value"])
    truth = ps.private_data().mean(axis=0)
    assert noisy.shape == truth.shape and not np.array_equal(noisy, truth)
    assert np.abs(noisy - truth).max() < 0.5  # Laplace scale ~0.03 here: 16 scales
    assert replayed["budget"]["remaining"] == pytest.approx(10.0 - ps.EPSILON)


def test_current_replies_keep_every_field_of_the_1_0_replies(replayed) -> None:
    for step in MANIFEST["steps"]:
        old = decode_reply((FIXTURES / f"{step['stem']}.reply").read_bytes()).unwrap()
        new = decode_reply(replayed[step["stem"]]).unwrap()
        assert_keeps_fields(old, new, step["stem"])
    old_login = json.loads((FIXTURES / "login.reply.json").read_text())
    assert_keeps_fields(old_login, replayed["login"], "login")


def test_current_replies_decode_with_the_1_0_decoder(replayed) -> None:
    for step in MANIFEST["steps"]:
        current = decode_reply(replayed[step["stem"]]).unwrap()
        old_client = decode_reply_1_0(replayed[step["stem"]])
        assert type(old_client) is type(current)
    # a reply with an added optional field (in the body and in the envelope) decodes on a
    # 1.0 client, which reads only the fields it knows
    wire = serde.decode(replayed["01-node.info"])
    wire["body"]["added_in_1_1"] = {"anything": [1, 2]}
    wire["trace"] = "x"
    info = decode_reply_1_0(bytes(serde.encode(wire)))
    assert info["name"] == "May Clinic" and info["role"] == "data_scientist"


def test_the_1_0_decoder_refuses_another_major() -> None:
    # the frozen decoder is not lenient by accident: a 2.0 reply is refused
    with pytest.raises(DecodeError, match="cannot talk"):
        decode_reply_1_0(bytes(serde.encode({"v": [2, 0], "ok": True, "body": 1})))


def test_the_field_check_catches_a_removed_or_retyped_field() -> None:
    old = decode_reply((FIXTURES / "05-request.create.reply").read_bytes()).unwrap()
    removed = {k: v for k, v in old.items() if k != "status"}
    with pytest.raises(AssertionError, match="'status'.* is gone"):
        assert_keeps_fields(old, removed)
    with pytest.raises(AssertionError, match="str -> int"):
        assert_keeps_fields(old, {**old, "status": 3})
