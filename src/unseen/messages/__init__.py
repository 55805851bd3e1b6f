"""The versioned envelope that carries every request to a node and every reply back.

A message is ``{"v": [major, minor], "kind": str, "body": dict}``; a reply is
``{"v": [...], "ok": bool, "body": ...}`` or, on failure, ``{"v": [...], "ok": False,
"error": {"kind": ..., "message": ...}}``. Only the major version must match: a node answers
a client of another minor version, and unknown body fields are ignored, so that client and
server need not be upgraded in lock-step. The kinds are listed in :data:`KINDS`; those
with a typed request and reply (:class:`Kind`, :mod:`unseen.messages.users`, ...) in
:data:`TYPED`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen import serde
from unseen.errors import DecodeError, UnseenError, UsageError, error_from_wire, error_to_wire
from unseen.messages import code as _code
from unseen.messages import datasets as _datasets
from unseen.messages import dp as _dp
from unseen.messages import info as _info
from unseen.messages import mpc as _mpc
from unseen.messages import network as _network
from unseen.messages import objects as _objects
from unseen.messages import quotas as _quotas
from unseen.messages import requests as _requests
from unseen.messages import training as _training
from unseen.messages import users as _users
from unseen.messages._typed import UNSET, Kind, from_wire, to_wire

__all__ = [
    "PROTOCOL_VERSION",
    "setup",
    "SPEAKS",
    "Version",
    "negotiate",
    "node_versions",
    "describe_versions",
    "answer_version",
    "KINDS",
    "Message",
    "Reply",
    "encode_message",
    "encode_message_parts",
    "decode_message",
    "encode_reply",
    "encode_reply_parts",
    "decode_reply",
    "Kind",
    "TYPED",
    "UNSET",
    "to_wire",
    "from_wire",
]

Version = tuple[int, int]

#: Every protocol version this side speaks, oldest first (each a ``(major, minor)``).
SPEAKS: tuple[Version, ...] = ((1, 0),)
#: The newest version this side speaks: what it sends before any negotiation.
PROTOCOL_VERSION: Version = max(SPEAKS)

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
    "code.request": "submit a function and its declared inputs for the owner's review",
    "code.mock": "run a code request's function on its inputs' mocks (owners and admins)",
    "job.run": "run an approved function on its inputs' private values, as a job",
    "job.list": "jobs (all for owners, one's own for others)",
    "job.get": "a job's status",
    "job.wait": "block until a job ends, or a timeout",
    "job.logs": "a job's stdout, stderr and failure, once the owner released them",
    "job.cancel": "stop a running job",
    "job.release_logs": "release a job's logs to the scientist who ran it (owners and admins)",
    "code.settings": "the imports a job may make and its limits (owners and admins change them)",
    "train.fit": "train a model of standard layers on the node, optionally with DP-SGD charged to the ledger",
    "train.progress": "the epochs done so far of one's own fit in progress (the loss only where releasable)",
    "train.approval": "ask the owner for a standing approval: release the weights of N fits of one configuration",
}

#: Every kind's typed request and reply (docs/architecture.md, "Typed messages"): each kind of
#: :data:`KINDS` is here, and the node refuses an untyped route. The ``registry.*`` kinds are a
#: network node's (``unseen.network``), not in :data:`KINDS`.
TYPED: dict[str, Kind[Any, Any]] = {
    k.name: k
    for k in (
        *_info.TYPED_KINDS,
        *_users.TYPED_KINDS,
        *_dp.TYPED_KINDS,
        *_quotas.TYPED_KINDS,
        *_network.TYPED_KINDS,
        *_mpc.TYPED_KINDS,
        *_requests.TYPED_KINDS,
        *_datasets.TYPED_KINDS,
        *_objects.TYPED_KINDS,
        *_code.TYPED_KINDS,
        *_training.TYPED_KINDS,
    )
}


@dataclass
class Message:
    """A request to a node: a kind and a body of plain values."""

    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    version: Version = PROTOCOL_VERSION


@dataclass
class Reply:
    """A node's answer: a body, or an error that is raised again on the client. ``version``
    is the protocol version it travels in (the node answers in its message's version)."""

    ok: bool
    body: Any = None
    error: dict[str, Any] | None = None
    version: Version = PROTOCOL_VERSION

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


def describe_versions(versions: Any) -> str:
    """``((1, 0), (1, 1), (2, 0))`` -> ``"1.0-1.1, 2.0"``: each major's minors as a range."""
    majors: dict[int, list[int]] = {}
    for major, minor in sorted(versions):
        majors.setdefault(major, []).append(minor)
    parts = []
    for major, minors in majors.items():
        low, high = f"{major}.{minors[0]}", f"{major}.{minors[-1]}"
        if low == high:
            parts.append(low)
        elif minors == list(range(minors[0], minors[-1] + 1)):
            parts.append(f"{low}-{high}")
        else:
            parts.extend(f"{major}.{m}" for m in minors)
    return ", ".join(parts) or "none"


def _is_version(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(type(x) is int and x >= 0 for x in value)
    )


def node_versions(info: Any) -> list[Version]:
    """The versions a node speaks, from its ``/api/v1/info``: ``protocol_versions``, or for a
    node older than negotiation its one ``protocol_version``. ``UsageError`` if neither."""
    if isinstance(info, dict):
        listed = info.get("protocol_versions")
        if isinstance(listed, list) and listed and all(_is_version(v) for v in listed):
            return sorted((int(v[0]), int(v[1])) for v in listed)
        if listed is None and _is_version(info.get("protocol_version")):
            one = info["protocol_version"]
            return [(int(one[0]), int(one[1]))]
    raise UsageError(
        "the node's /api/v1/info does not say which protocol versions it speaks: "
        "is it an unseen node?"
    )


def negotiate(speaks: Any, info: Any, url: str) -> Version:
    """The highest version both this client (``speaks``) and the node (its ``/api/v1/info``
    ``info``) speak; ``UsageError`` naming both sides' versions and which side to upgrade."""
    ours = sorted({(int(v[0]), int(v[1])) for v in speaks})
    theirs = node_versions(info)
    common = set(ours) & set(theirs)
    if common:
        return max(common)
    if max(ours) < min(theirs):
        advice = "upgrade unseen on this machine (pip install -U unseen)"
    elif max(theirs) < max(ours):
        advice = f"upgrade unseen on the node at {url} (its owner: pip install -U unseen)"
    else:
        advice = "upgrade unseen on the older side (pip install -U unseen)"
    raise UsageError(
        f"no protocol version in common: this client speaks {describe_versions(ours)}, "
        f"the node at {url} speaks {describe_versions(theirs)}: {advice}"
    )


def answer_version(version: Version) -> Version:
    """The version to answer a message of ``version`` in: the same one if this side speaks
    it, else this side's newest of the same major (a client that did not negotiate)."""
    if version in SPEAKS:
        return version
    same_major = [v for v in SPEAKS if v[0] == version[0]]
    return max(same_major) if same_major else PROTOCOL_VERSION


def _check_version(wire: Any) -> Version:
    if not _is_version(wire):
        raise DecodeError("the message has no valid protocol version")
    if wire[0] not in {major for major, _ in SPEAKS}:
        raise DecodeError(
            f"protocol version {wire[0]}.{wire[1]} cannot talk to this side's "
            f"{describe_versions(SPEAKS)}: upgrade unseen on the older side"
        )
    return (int(wire[0]), int(wire[1]))


def _message_wire(message: Message) -> dict[str, Any]:
    return {"v": list(message.version), "kind": message.kind, "body": message.body}


def _reply_wire(reply: Reply) -> dict[str, Any]:
    wire: dict[str, Any] = {"v": list(reply.version), "ok": reply.ok}
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
    from unseen.ops import register_with_serde

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
    version = _check_version(wire.get("v"))
    kind, body = wire.get("kind"), wire.get("body", {})
    if not isinstance(kind, str) or not isinstance(body, dict):
        raise DecodeError("a message needs a string 'kind' and a map 'body'")
    if not all(isinstance(k, str) for k in body):
        raise DecodeError("message body keys must be strings")
    return Message(kind=kind, body=body, version=version)


def encode_reply(reply: Reply) -> bytearray:
    setup()
    return serde.encode(_reply_wire(reply))


def decode_reply(data: bytes | bytearray | memoryview) -> Reply:
    setup()
    wire = serde.decode(data)
    if not isinstance(wire, dict) or not isinstance(wire.get("ok"), bool):
        raise DecodeError("a reply must be a map with 'v' and 'ok'")
    version = _check_version(wire.get("v"))
    if wire["ok"]:
        return Reply(ok=True, body=wire.get("body"), version=version)
    error = wire.get("error")
    if not isinstance(error, dict):
        raise DecodeError("a failed reply must carry an 'error' map")
    return Reply(ok=False, error=error, version=version)
