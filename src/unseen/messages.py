"""The versioned envelope that carries every request to a node and every reply back.

A message is ``{"v": [major, minor], "kind": str, "body": dict}``; a reply is
``{"v": [...], "ok": bool, "body": ...}`` or, on failure, ``{"v": [...], "ok": False,
"error": {"kind": ..., "message": ...}}``. Only the major version must match: a node answers
a client of another minor version, and unknown body fields are ignored, so that client and
server need not be upgraded in lock-step. The kinds are listed in :data:`KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen import serde
from unseen.errors import DecodeError, UnseenError, error_from_wire, error_to_wire

__all__ = [
    "PROTOCOL_VERSION",
    "setup",
    "KINDS",
    "Message",
    "Reply",
    "encode_message",
    "encode_message_parts",
    "decode_message",
    "encode_reply",
    "encode_reply_parts",
    "decode_reply",
]

PROTOCOL_VERSION = (1, 0)

#: Every message kind a node understands, with a one-line description.
KINDS: dict[str, str] = {
    "node.info": "name, id, version and the caller's role",
    "object.send": "store a value the caller uploads",
    "object.info": "public metadata of an object",
    "object.mock": "the public mock of an asset, or a synthetic one from public metadata",
    "object.tag": "change tags and description of an object",
    "object.drop": "forget objects the caller created",
    "graph.run": "run a graph of actions; optionally return one result through the release rule",
    "object.get": "return a value through the release rule",
    "request.create": "ask the owner to release an object",
    "request.list": "requests (all for owners, one's own for others)",
    "request.decide": "accept or deny a request",
    "request.wait": "block until a request is decided, or a timeout",
    "request.result": "the released value of an accepted request",
    "handler.add": "an owner policy that decides matching requests automatically",
    "handler.list": "the owner's request handlers",
    "handler.remove": "remove a request handler",
    "store.list": "searchable objects (the Duet store)",
    "search": "assets and objects matching a tag or text",
    "dataset.upload": "create a dataset with private assets and mocks",
    "dataset.list": "datasets on the node",
    "dataset.delete": "delete a dataset and its assets",
    "user.create": "create a user (admins; admins themselves only by the owner)",
    "user.list": "every user with role and budget",
    "user.update": "change a user's name, role, budget or password",
    "user.delete": "delete a user",
    "user.me": "the caller's own account",
    "user.password": "change one's own password",
    "dp.get": "a differentially private answer to a graph, charged to the caller's budget",
    "dp.budget": "the caller's privacy budget: total, spent and remaining epsilon",
    "dp.history": "the caller's DP releases, in order",
    "dp.spend": "every user's privacy spend, per dataset (owners and admins)",
    "dp.settings": "the node's DP delta (the owner sets it before the first release)",
    "mpc.join": "take part in an MPC session as a party or the crypto provider (dealer)",
    "mpc.mesh": "the addresses of a remote MPC session's endpoints: join its encrypted mesh",
    "mpc.input": "load an object the caller may use as this party's private MPC input",
    "mpc.request": "ask the owner to release an MPC result derived from data on this node",
    "mpc.leave": "end this node's part in an MPC session",
    "mpc.policy": "the node's key and the MPC dealers and parties its owner trusts (admins)",
    "mpc.trust": "trust a node, by its key, as an MPC dealer or party for private data (admins)",
    "mpc.untrust": "stop trusting a node as an MPC dealer or party (admins)",
    "network.join": "register this domain with a network (signed by its node key); keep it listed",
    "network.leave": "stop heartbeats and the tunnel to a network",
    "network.list": "the networks this domain has joined, with their status",
    "quota.settings": "per-user quotas and fair-scheduling limits (owners and admins change them)",
    "quota.usage": "the caller's own use: graphs running and waiting, CPU seconds, stored bytes",
}


@dataclass
class Message:
    """A request to a node: a kind and a body of plain values."""

    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    version: tuple[int, int] = PROTOCOL_VERSION


@dataclass
class Reply:
    """A node's answer: a body, or an error that is raised again on the client."""

    ok: bool
    body: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def success(cls, body: Any = None) -> Reply:
        return cls(ok=True, body=body)

    @classmethod
    def failure(cls, exc: UnseenError) -> Reply:
        return cls(ok=False, error=error_to_wire(exc))

    def unwrap(self) -> Any:
        """The body, or raise the error the node sent."""
        if self.ok:
            return self.body
        raise error_from_wire(self.error or {})


def _check_version(wire: Any) -> None:
    if (
        not isinstance(wire, (list, tuple))
        or len(wire) != 2
        or not all(isinstance(x, int) for x in wire)
    ):
        raise DecodeError("the message has no valid protocol version")
    if wire[0] != PROTOCOL_VERSION[0]:
        raise DecodeError(
            f"protocol version {wire[0]}.{wire[1]} cannot talk to this side's "
            f"{PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}: upgrade unseen on the older side"
        )


def _message_wire(message: Message) -> dict[str, Any]:
    return {"v": list(message.version), "kind": message.kind, "body": message.body}


def _reply_wire(reply: Reply) -> dict[str, Any]:
    wire: dict[str, Any] = {"v": list(PROTOCOL_VERSION), "ok": reply.ok}
    if reply.ok:
        wire["body"] = reply.body
    else:
        wire["error"] = reply.error
    return wire


_ready = False


def setup() -> None:
    """Teach :mod:`unseen.serde` the types that messages carry (``Ref`` and ``Action`` of
    :mod:`unseen.ops`). Nothing registers at import: this is the one place, called by every
    encode and decode function here and by :class:`unseen.node.Node`; call it before using
    :func:`unseen.serde.decode` directly on such values. Idempotent and cheap after the first
    call."""
    global _ready
    if _ready:
        return
    from unseen.ops._wire import register_with_serde

    register_with_serde()
    _ready = True


def encode_message(message: Message) -> bytearray:
    setup()
    return serde.encode(_message_wire(message))


def encode_message_parts(message: Message) -> list[bytes | memoryview]:
    """The bytes of :func:`encode_message` as zero-copy parts, for streaming transports."""
    setup()
    return serde.encode_parts(_message_wire(message))


def encode_reply_parts(reply: Reply) -> list[bytes | memoryview]:
    """The bytes of :func:`encode_reply` as zero-copy parts, for streaming transports."""
    setup()
    return serde.encode_parts(_reply_wire(reply))


def decode_message(data: bytes | bytearray | memoryview) -> Message:
    setup()
    wire = serde.decode(data)
    if not isinstance(wire, dict):
        raise DecodeError("a message must be a map with 'v', 'kind' and 'body'")
    _check_version(wire.get("v"))
    kind, body = wire.get("kind"), wire.get("body", {})
    if not isinstance(kind, str) or not isinstance(body, dict):
        raise DecodeError("a message needs a string 'kind' and a map 'body'")
    if not all(isinstance(k, str) for k in body):
        raise DecodeError("message body keys must be strings")
    return Message(kind=kind, body=body, version=(wire["v"][0], wire["v"][1]))


def encode_reply(reply: Reply) -> bytearray:
    setup()
    return serde.encode(_reply_wire(reply))


def decode_reply(data: bytes | bytearray | memoryview) -> Reply:
    setup()
    wire = serde.decode(data)
    if not isinstance(wire, dict) or not isinstance(wire.get("ok"), bool):
        raise DecodeError("a reply must be a map with 'v' and 'ok'")
    _check_version(wire.get("v"))
    if wire["ok"]:
        return Reply(ok=True, body=wire.get("body"))
    error = wire.get("error")
    if not isinstance(error, dict):
        raise DecodeError("a failed reply must carry an 'error' map")
    return Reply(ok=False, error=error)
