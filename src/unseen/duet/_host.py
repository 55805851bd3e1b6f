"""The owner's side of a Duet session: answer sealed requests from the one partner who joined.

Every request, on either link, is ``partner's ephemeral X25519 key (32 bytes) + Box(...)``
sealed to the owner's session key (the ``Opener`` of :mod:`unseen.server._tunnel`). Inside is
a serde map with an ``op``:

* ``ping``: anyone who knows the key may check that the owner answers (the direct-link probe);
* ``join``: carries the Duet id; accepted once per offer. The owner creates a data-scientist
  user for the session (no password) and *pins* the partner's ephemeral key: from then on only
  requests sealed by that key reach the node, as that user;
* ``message``: an encoded node message from the pinned partner;
* ``leave``: the partner ends the session; their key is unpinned;
* ``chunk``: one chunk of a large answer (see below);
* ``webrtc``: the pinned partner's SDP offer; the answer carries the owner's SDP answer (the
  signalling of the WebRTC link, :mod:`unseen.duet._webrtc`).

Large answers (more than :data:`STREAM_MIN` bytes) are not sealed in one piece: the owner keeps
the encoded reply and answers ``{"stream": id, "size", "chunk"}``; the partner fetches the
chunks (several at once, each a small sealed ``chunk`` request) and each comes back sealed with
XChaCha20-Poly1305 under a key derived once from the session's X25519 shared key, its id, index
and count bound as associated data (so chunks cannot be swapped, replayed into another stream or
dropped unnoticed). Sealing chunks in parallel threads (libsodium releases the GIL) and keeping
each message under the relay's 64 MiB cap is what makes 100 MB fetches fast on both links.
"""

from __future__ import annotations

import logging
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unseen import serde
from unseen.errors import AuthError, DecodeError, UnseenError, UsageError, error_to_wire
from unseen.messages import decode_message, encode_reply
from unseen.node import Node, Principal
from unseen.server import Opener

LOOPBACK_HINT = (
    "unseen's Duet meets through a network node's rendezvous, also on one machine: run "
    "`unseen launch network --port 8080` (or unseen.launch_network(port=8080)) and pass "
    'network_url="http://127.0.0.1:8080" instead of loopback=True'
)

log = logging.getLogger("unseen.duet")

CHUNK = 4 << 20  # bytes per chunk of a large answer
STREAM_MIN = 8 << 20  # answers larger than this are fetched in chunks
STREAM_TTL_S = 300.0  # an unfetched large answer is dropped after this long
MAX_STREAMS = 16
_PERSON = b"unseen-duet-ck-1"  # 16 bytes: the domain of the chunk key
_CHUNK_AAD = struct.Struct(">II")


def chunk_key(shared: bytes) -> bytes:
    """The session's chunk key, derived once from the X25519 shared key of its ``Box``."""
    from nacl.bindings import crypto_generichash_blake2b_salt_personal

    return bytes(
        crypto_generichash_blake2b_salt_personal(
            b"answer chunks", digest_size=32, key=shared, person=_PERSON
        )
    )


def seal_chunk(key: bytes, stream: bytes, index: int, count: int, data: Any) -> bytes:
    """``nonce (24) + XChaCha20-Poly1305(data)``, bound to its stream, index and count."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

    nonce = secrets.token_bytes(24)
    aad = stream + _CHUNK_AAD.pack(index, count)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(data), aad, nonce, key)


def open_chunk(key: bytes, stream: bytes, index: int, count: int, sealed: bytes) -> bytes:
    """The data of a sealed chunk; ``nacl.exceptions.CryptoError`` when it does not open."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

    aad = stream + _CHUNK_AAD.pack(index, count)
    return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[24:], aad, sealed[:24], key))


@dataclass
class _Stream:
    key: bytes
    data: memoryview
    count: int
    expires: float
    left: set[int] = field(default_factory=set)


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
        self._streams: dict[bytes, _Stream] = {}
        self.webrtc: Callable[[str], str] | None = None  # an SDP offer -> the SDP answer

    def open_offer(self, ident: str) -> None:
        """Accept one join with ``ident`` (the previous partner, if any, is dropped)."""
        with self._lock:
            self.offer_id = ident
            self.partner_key, self.partner = None, None
            self.joined.clear()

    def end_partner(self, reason: str) -> None:
        """Unpin the partner and deny their pending requests (so that every wait ends)."""
        from unseen.node import decide

        with self._lock:
            partner, self.partner_key = self.partner, None
            self._streams.clear()
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
            if request.get("op") == "chunk":
                return self._chunk(bytes(payload[:32]), request)
            out = self._serve(bytes(payload[:32]), request)
            if "reply" in out and len(out["reply"]) > STREAM_MIN:
                out = self._stream(bytes(box.shared_key()), out["reply"])
        except UnseenError as exc:
            out = {"ok": False, "error": error_to_wire(exc)}
        if "reply" in out:
            return bytes(box.encrypt(b"M" + out["reply"]))
        return bytes(box.encrypt(b"O" + bytes(serde.encode(out))))

    def _stream(self, shared: bytes, reply: bytearray) -> dict[str, Any]:
        """Keep a large reply for the partner to fetch in chunks."""
        ident = secrets.token_bytes(16)
        count = -(-len(reply) // CHUNK)
        now = time.monotonic()
        stream = _Stream(chunk_key(shared), memoryview(reply), count, now + STREAM_TTL_S)
        stream.left.update(range(count))
        with self._lock:
            for old in [i for i, s in self._streams.items() if s.expires < now]:
                del self._streams[old]
            if len(self._streams) >= MAX_STREAMS:
                del self._streams[next(iter(self._streams))]
            self._streams[ident] = stream
        return {"ok": True, "stream": ident, "size": len(reply), "chunk": CHUNK}

    def _chunk(self, key: bytes, request: dict[str, Any]) -> bytes:
        """One sealed chunk of a kept reply (for the pinned partner only)."""
        ident, index = request.get("stream"), request.get("index")
        if not isinstance(ident, bytes) or not isinstance(index, int):
            raise DecodeError("a chunk request names a stream and an index")
        with self._lock:
            stream = self._streams.get(ident) if key == self.partner_key else None
            if stream is None or index not in stream.left:
                raise UsageError("no such chunk of a Duet answer (fetched already, or expired)")
            stream.left.discard(index)
            if not stream.left:
                del self._streams[ident]
        part = stream.data[index * CHUNK : (index + 1) * CHUNK]
        return seal_chunk(stream.key, ident, index, stream.count, part)

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
            return {"ok": True, "reply": encode_reply(reply)}
        if op == "webrtc":
            sdp = request.get("sdp")
            if self.webrtc is None:
                raise UsageError("the Duet owner offers no WebRTC link")
            if not isinstance(sdp, str) or len(sdp) > 1 << 16:
                raise DecodeError("a WebRTC offer carries its SDP text")
            return {"ok": True, "sdp": self.webrtc(sdp)}
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
