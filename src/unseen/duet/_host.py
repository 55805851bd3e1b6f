"""The owner's side of a Duet session: answer sealed requests from the one partner who joined.

Every request, on either link, is ``partner's ephemeral X25519 key (32 bytes) + Box(...)``
sealed to the owner's session key (the ``Opener`` of :mod:`unseen.network._tunnel`). Inside is
a serde map with an ``op``:

* ``ping``: anyone who knows the key may check that the owner answers (the direct-link probe);
* ``join``: carries the Duet id; accepted once per offer. The owner creates a data-scientist
  user for the session (no password) and *pins* the partner's ephemeral key: from then on only
  requests sealed by that key reach the node, as that user;
* ``message``: an encoded node message from the pinned partner;
* ``leave``: the partner ends the session; their key is unpinned.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from unseen import serde
from unseen.errors import AuthError, DecodeError, UnseenError, UsageError, error_to_wire
from unseen.messages import decode_message, encode_reply
from unseen.network._tunnel import Opener
from unseen.node import Node, Principal

log = logging.getLogger("unseen.duet")


class Host:
    """The session state of the owner's node: the open offer and the pinned partner."""

    def __init__(self, node: Node, seed: bytes) -> None:
        self.node = node
        self.opener = Opener(seed)
        self.offer_id = ""  # the id a partner may join with (single-use)
        self.partner_key: bytes | None = None
        self.partner: Principal | None = None
        self.joined = threading.Event()
        self.closed = False
        self._lock = threading.Lock()

    def open_offer(self, ident: str) -> None:
        """Accept one join with ``ident`` (the previous partner, if any, is dropped)."""
        with self._lock:
            self.offer_id = ident
            self.partner_key, self.partner = None, None
            self.joined.clear()

    def end_partner(self, reason: str) -> None:
        """Unpin the partner and deny their pending requests (so that every wait ends)."""
        from unseen.node._requests import decide

        with self._lock:
            partner, self.partner_key = self.partner, None
        if partner is None:
            return
        for record in self.node.stores.requests.list():
            if record.requester == partner.user_id and record.status == "pending":
                try:
                    decide(self.node, record, "deny", partner.user_id, reason)
                except UnseenError:
                    pass  # decided meanwhile
        self.node.notify_decision()

    def answer(self, payload: bytes) -> bytes:
        """The sealed answer to one sealed request (empty when it could not be opened).

        Plaintexts start with one byte: ``M`` + an encoded node message (request) or reply
        (answer), so that large values skip the map envelope; ``O`` + a serde map otherwise."""
        try:
            box, plain = self.opener.open_raw(payload)
        except UnseenError as exc:
            log.info("refused a Duet request: %s", exc)
            return b""
        try:
            if self.closed:
                raise AuthError("the Duet owner ended this session")
            if plain[:1] == b"M":
                request: dict[str, Any] = {"op": "message", "message": plain[1:]}
            else:
                decoded = serde.decode(plain[1:])
                if not isinstance(decoded, dict):
                    raise DecodeError("a Duet request holds a map")
                request = decoded
            out = self._serve(bytes(payload[:32]), request)
        except UnseenError as exc:
            out = {"ok": False, "error": error_to_wire(exc)}
        if "reply" in out:
            return bytes(box.encrypt(b"M" + out["reply"]))
        return bytes(box.encrypt(b"O" + bytes(serde.encode(out))))

    def _serve(self, key: bytes, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "public_key": self.node.public_key}
        if op == "join":
            return self._join(key, request)
        with self._lock:
            partner = self.partner if key == self.partner_key else None
        if partner is None:
            raise AuthError("this Duet session belongs to another partner: refused")
        if op == "message":
            data = request.get("message")
            if not isinstance(data, bytes):
                raise DecodeError("a Duet message carries its encoded bytes")
            reply = self.node.handle(decode_message(data), partner)
            return {"ok": True, "reply": bytes(encode_reply(reply))}
        if op == "leave":
            self.end_partner("the Duet partner left")
            return {"ok": True}
        raise UsageError(f"unknown Duet operation {op!r}")

    def _join(self, key: bytes, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("name") or "Duet partner"
        if not isinstance(name, str) or len(name) > 100:
            raise UsageError("a partner's name is a short text")
        with self._lock:
            if not self.offer_id or request.get("id") != self.offer_id:
                raise AuthError("this Duet id is not (or no longer) open on the owner's side")
            self.offer_id = ""  # single-use, on the owner's side too
            self.partner = self.node.add_user(name, "data_scientist")
            self.partner_key = key
        self.joined.set()
        return {"ok": True, "client_id": self.partner.user_id}
