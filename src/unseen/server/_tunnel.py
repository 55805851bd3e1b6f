"""The domain's end of a reverse tunnel: answer sealed messages that arrive through the network.

A domain behind NAT dials out to ``/network/v1/tunnel`` and keeps the WebSocket open (the
:class:`~unseen.transport._tunnel.ReverseTunnel` of :func:`tunnel_client`, which dials again,
with backoff, when the link drops). Each request is sealed by the client to the domain:

    request = client's ephemeral X25519 public key (32 bytes) + Box(ciphertext, random nonce)

with the NaCl ``Box`` of the client's ephemeral key and the domain's X25519 key, derived from
its ed25519 node key (the one its signed registration names, which the client pins). Only the
domain can open it, and only the domain can seal an answer the client accepts; the network
sees lengths and timing. Inside is a serde map: ``{"op": "login", "email", "password"}``,
``{"op": "message", "token", "message": <an encoded message>}`` or ``{"op": "logout",
"token"}`` (revokes the token); the answer carries a token or the encoded reply. A request whose nonce was seen before (a replay by the relay) is refused.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from unseen import serde
from unseen.errors import AuthError, DecodeError, UnseenError, UsageError, error_to_wire
from unseen.messages import answer_version, decode_message, encode_reply
from unseen.node import TUNNEL, curve_secret_key, sign_document
from unseen.transport import ReverseTunnel

if TYPE_CHECKING:
    from unseen.server._agent import Membership

log = logging.getLogger("unseen.network")

MAX_SESSIONS = 1024
MAX_NONCES = 100_000
WORKERS = 64


class Opener:
    """Opens sealed requests to one node and seals the answers (thread-safe)."""

    def __init__(self, seed: bytes) -> None:
        from nacl.public import PrivateKey

        self._secret = PrivateKey(curve_secret_key(seed))
        self._boxes: OrderedDict[bytes, tuple[Any, set[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def _box(self, ephemeral: bytes) -> tuple[Any, set[bytes]]:
        from nacl.public import Box, PublicKey

        with self._lock:
            found = self._boxes.get(ephemeral)
            if found is None:
                found = (Box(self._secret, PublicKey(ephemeral)), set())
                self._boxes[ephemeral] = found
                if len(self._boxes) > MAX_SESSIONS:
                    self._boxes.popitem(last=False)
            else:
                self._boxes.move_to_end(ephemeral)
            return found

    def open(self, payload: bytes) -> tuple[Any, dict[str, Any]]:
        """(the session's box, the request); DecodeError when it cannot be opened."""
        box, plain = self.open_raw(payload)
        request = serde.decode(plain)
        if not isinstance(request, dict):
            raise DecodeError("a sealed request holds a map")
        return box, request

    def open_raw(self, payload: bytes) -> tuple[Any, bytes]:
        """(the session's box, the plaintext); DecodeError when it cannot be opened."""
        from nacl.exceptions import CryptoError

        if len(payload) < 32 + 24 + 16:
            raise DecodeError("a sealed request is too short")
        box, seen = self._box(bytes(payload[:32]))
        nonce = bytes(payload[32:56])
        try:
            plain = box.decrypt(bytes(payload[32:]))
        except CryptoError:
            raise DecodeError("a sealed request did not open with this node's key") from None
        with self._lock:
            if nonce in seen:
                raise AuthError("this sealed request was seen before (a replay): refused")
            if len(seen) >= MAX_NONCES:
                seen.clear()
            seen.add(nonce)
        return box, bytes(plain)


def answer(membership: Membership, opener: Opener, payload: bytes) -> bytes:
    """The sealed answer to one sealed request (empty when it could not be opened)."""
    try:
        box, request = opener.open(payload)
    except UnseenError as exc:
        log.info("refused a tunnelled request: %s", exc)
        return b""
    try:
        out = _serve(membership, request)
    except UnseenError as exc:
        out = {"ok": False, "error": error_to_wire(exc)}
    return bytes(box.encrypt(bytes(serde.encode(out))))


def _serve(membership: Membership, request: dict[str, Any]) -> dict[str, Any]:
    node = membership.node
    op = request.get("op")
    if op == "login":
        email, password = request.get("email"), request.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise UsageError("log in with an email and a password")
        return {"ok": True, **node.auth.login(email, password, "tunnel")}
    if op == "logout":
        node.auth.logout(str(request.get("token")))
        return {"ok": True}
    if op == "message":
        principal = node.auth.authenticate(str(request.get("token")))
        data = request.get("message")
        if not isinstance(data, bytes):
            raise DecodeError("a tunnelled message carries its encoded bytes")
        message = decode_message(data)
        reply = node.handle(message, principal)
        reply.version = answer_version(message.version)
        return {"ok": True, "reply": bytes(encode_reply(reply))}
    raise UsageError(f"unknown tunnel operation {op!r}")


def tunnel_client(membership: Membership) -> ReverseTunnel:
    """The domain's reverse tunnel (not started yet), open while the membership lives."""
    opener = Opener(membership.seed)
    return ReverseTunnel(
        f"{membership.url}/network/v1/tunnel",
        lambda: sign_document(membership.document(TUNNEL), membership.seed),
        lambda payload: answer(membership, opener, payload),
        name="unseen-tunnel",
        workers=WORKERS,
        heartbeat_s=membership.options["heartbeat_s"],
        max_backoff=10.0,
        alive=membership.alive,
    )
