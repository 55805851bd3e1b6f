"""What the endpoints share: the domain, its settings, the worker pool, and message handling.

Everything that blocks (token checks against the store, ``node.handle``, encoding replies)
runs here, in the worker pool, never on the event loop.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from unseen.errors import AuthError, DecodeError, RemoteError, UnseenError
from unseen.messages import Message, Reply, answer_version, decode_message, encode_reply_parts
from unseen.node import Principal, resolve_dataset_uploads
from unseen.server._domain import Domain
from unseen.server._pool import WorkerPool
from unseen.server._tickets import TicketBox
from unseen.transport import FLAG_AUTH, FLAG_REPLY, FLAG_TICKET, Parts, nbytes

log = logging.getLogger("unseen.server")

GIB = 1 << 30
MIB = 1 << 20

#: Message kinds that only read the store and never wait: small messages of these kinds are
#: handled on the event loop itself (a hop to a worker thread would cost more than they do).
#: Everything that writes durably (an SQLite commit, a blob fsync, an audit entry) or may
#: block (``request.wait``) runs in the worker pool.
INLINE_KINDS = frozenset(
    {
        "node.info",
        "object.info",
        "search",
        "store.list",
        "dataset.list",
        "user.me",
        "request.list",
        "handler.list",
        "user.list",
        "dp.budget",
        "dp.history",
    }
)
#: messages at most this large are decoded on the event loop (to learn their kind)
INLINE_MAX = 64 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """Limits of a domain server.

    Attributes:
        max_message_bytes: the largest message body accepted (413 above it).
        max_json_bytes: the largest body of every other endpoint (login, a network's
            registrations): 413 above it.
        stream_min: replies at least this large stream in chunks instead of one buffer.
        ws_inline_max: WebSocket replies above this size are fetched over HTTP by ticket.
        ws_frame_max: the largest WebSocket frame a client may send.
        ws_max_in_flight: messages one WebSocket may have running at once.
        worker_threads: the most threads running node calls at once.
        recheck_secs: a token already checked is checked against the store again (user
            deleted, role changed) after this many seconds; signature and expiry every time.
    """

    max_message_bytes: int = 8 * GIB
    max_json_bytes: int = 16 * MIB
    stream_min: int = 1 * MIB
    ws_inline_max: int = 16 * MIB
    ws_frame_max: int = 16 * MIB
    ws_max_in_flight: int = 64
    worker_threads: int = 512
    recheck_secs: float = 1.0


def _bearer(token: Any) -> str:
    if not isinstance(token, str) or not token:
        raise AuthError(
            "this endpoint needs a token: log in first (POST /api/v1/login), then send "
            "'Authorization: Bearer <token>'"
        )
    return token


def _expiry(token: str) -> float:
    """The expiry a (verified) token states; 0 when it cannot be read (no caching then)."""
    try:
        body = token.split(".")[0]
        return float(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["exp"])
    except Exception:
        return 0.0


class Service:
    def __init__(self, domain: Domain, settings: ServerSettings) -> None:
        self.domain = domain
        self.node = domain.node
        self.settings = settings
        self.pool = WorkerPool(settings.worker_threads)
        self.tickets = TicketBox()
        self._checked: dict[str, tuple[Principal, float, float]] = {}
        self._checked_lock = threading.Lock()

    def authenticate(self, token: Any) -> Principal:
        """The caller a token names; AuthError for a missing, forged or expired token.

        A token checked less than ``recheck_secs`` ago is not looked up in the store again
        (a store read per message would cost more than the rest of a small message)."""
        token = _bearer(token)
        now = time.monotonic()
        cached = self._checked.get(token)
        if (
            cached is not None
            and now - cached[1] < self.settings.recheck_secs
            and time.time() < cached[2]
        ):
            return cached[0]
        principal = self.node.auth.authenticate(token)
        expires = _expiry(token)
        with self._checked_lock:
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[token] = (principal, now, expires)
        return principal

    def logout(self, token: Any) -> Principal:
        """Revoke ``token`` (AuthError unless valid) and forget that it was checked, so that
        it is refused at once, not after ``recheck_secs``."""
        principal = self.node.auth.logout(_bearer(token))
        with self._checked_lock:
            self._checked.pop(token, None)
        return principal

    def decode(self, data: bytes | bytearray | memoryview) -> Message | tuple[int, Parts]:
        """The message in ``data``, or (400, an encoded DecodeError reply)."""
        try:
            return decode_message(data)
        except DecodeError as exc:
            return 400, encode_reply_parts(Reply.failure(exc))
        except Exception as exc:  # the codec promises DecodeError; never let bytes crash us
            log.exception("decoding a message failed")
            return 400, encode_reply_parts(
                Reply.failure(DecodeError(f"could not decode the message: {exc}"))
            )

    def answer(self, principal: Principal, message: Message) -> tuple[int, Parts]:
        """Handle a decoded message and encode the reply: (HTTP status, reply parts)."""
        kind = message.kind
        found = self.node.routes.get(kind) if kind == "dataset.upload" else None
        if found is not None and principal.role in found.roles:
            try:  # assets streamed ahead as {"upload": id}
                resolve_dataset_uploads(self.node, principal, message.body)
            except UnseenError as exc:
                return 200, encode_reply_parts(Reply.failure(exc))
        reply = self.node.handle(message, principal)
        reply.version = answer_version(message.version)  # the version the client negotiated
        del message
        # refused for now (per-user quotas): 429, and the Retry-After of the reply's error
        status = (
            429 if not reply.ok and (reply.error or {}).get("kind") == "TooManyRequests" else 200
        )
        try:
            return status, encode_reply_parts(reply)
        except UnseenError as exc:
            log.warning("could not encode the reply to %s: %s", kind, exc)
            failure = RemoteError(
                f"the node could not encode its reply to {kind!r}; the owner's log has details"
            )
            return 200, encode_reply_parts(Reply.failure(failure))

    def process(
        self,
        principal: Principal,
        data: bytes | bytearray | memoryview | Message | tuple[int, Parts],
    ) -> tuple[int, Parts]:
        """Decode a message (unless decoded already), handle it, encode the reply:
        (HTTP status, reply parts)."""
        message = data if isinstance(data, (Message, tuple)) else self.decode(data)
        del data
        if not isinstance(message, Message):
            return message
        return self.answer(principal, message)

    def process_with_token(
        self, token: Any, data: bytes | bytearray | memoryview | Message | tuple[int, Parts]
    ) -> tuple[int, Parts]:
        """As :meth:`process`, after checking the token (401 and no reply parts if bad)."""
        try:
            principal = self.authenticate(token)
        except AuthError as exc:
            return 401, [exc.message.encode()]
        return self.process(principal, data)

    def process_frame(
        self, token: str, data: bytes | bytearray | memoryview | Message | tuple[int, Parts]
    ) -> tuple[int, bytes]:
        """One WebSocket message: (flag, payload) as the frame format says."""
        try:
            principal = self.authenticate(token)
        except AuthError as exc:
            return FLAG_AUTH, exc.message.encode()
        _, parts = self.process(principal, data)
        if nbytes(parts) > self.settings.ws_inline_max:
            return FLAG_TICKET, self.tickets.put(principal.user_id, parts).encode()
        return FLAG_REPLY, b"".join(parts)

    def triage(
        self, data: bytes | bytearray | memoryview
    ) -> tuple[bool, bytes | bytearray | memoryview | Message | tuple[int, Parts]]:
        """On the event loop: (whether to handle it right there, what to hand on). Small
        messages are decoded at once; those of an :data:`INLINE_KINDS` kind, and undecodable
        ones, are cheap to answer inline; the rest go to the worker pool (decoded already)."""
        if memoryview(data).nbytes > INLINE_MAX:
            return False, data
        message = self.decode(data)
        if isinstance(message, Message):
            return message.kind in INLINE_KINDS, message
        return True, message
