"""The WebSocket transport, and the connection that picks WebSocket or HTTP per message.

One persistent WebSocket carries small messages, so that small operations and request waits
cost no new connection. Frames (all integers little-endian)::

    client -> node  text     a token (the first frame; later ones replace it)
    node -> client  text     {"ok": true, ...} once, after the first token
    client -> node  binary   u64 request id | encoded message
    node -> client  binary   u64 request id | u8 flag | payload
        flag 0  payload = encoded reply
        flag 1  payload = a ticket: the reply was large; GET /api/v1/reply/<ticket> fetches it
        flag 2  payload = why the token was refused (the message was not handled)

Replies may come out of order, so many threads share one connection: each call waits for
its own id while whichever caller holds the read lock reads for all. A broken connection is
opened again on the next call. :class:`RoutingConnection` sends messages up to 1 MiB over
the WebSocket and larger ones over HTTP, and falls back to HTTP if no WebSocket opens.
"""

from __future__ import annotations

import itertools
import json
import logging
import struct
import threading
from typing import Any

from unseen.errors import AuthError, TransportError
from unseen.messages import (
    SPEAKS,
    Message,
    Reply,
    Version,
    decode_reply,
    encode_message,
    encode_message_parts,
)
from unseen.transport._http import HTTPConnection, Session, nbytes

log = logging.getLogger("unseen.transport")

WS_PATH = "/api/v1/ws"
FLAG_REPLY, FLAG_TICKET, FLAG_AUTH = 0, 1, 2
REQUEST_HEAD = struct.Struct("<Q")
REPLY_HEAD = struct.Struct("<QB")
WS_MAX = 1 << 20  # messages up to this size go over the WebSocket
AUTH_CLOSE_CODE = 4401


def pack_reply(request_id: int, flag: int, payload: bytes | bytearray) -> bytes:
    return REPLY_HEAD.pack(request_id, flag) + payload


class NoWebSocket(TransportError):
    """No WebSocket could be opened (the caller may use HTTP instead)."""


class _Slot:
    __slots__ = ("event", "frame", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.frame: bytes | None = None
        self.error: BaseException | None = None


class WebSocketConnection:
    """Messages over one shared WebSocket; large replies come over HTTP by ticket."""

    def __init__(self, http: HTTPConnection, *, open_timeout: float = 5.0) -> None:
        self.http = http
        self.session: Session = http.session
        self.node_name = http.node_name
        self.protocol: Version = http.protocol
        self._url = "ws" + self.session.url[len("http") :] + WS_PATH
        self._open_timeout = open_timeout
        self._ws: Any = None
        self._token_sent = ""
        self._connect_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._pending: dict[int, _Slot] = {}
        self._ids = itertools.count(1)

    # -- the connection ------------------------------------------------------------------
    def _open(self) -> Any:
        from websockets.sync.client import connect

        token = self.session.token()
        try:
            # entered at once: websockets >= 17.1 warns about connections used without `with`
            ws = connect(
                self._url, open_timeout=self._open_timeout, max_size=None, compression=None
            ).__enter__()
        except Exception as exc:
            raise NoWebSocket(f"could not open a WebSocket to {self._url}: {exc}") from None
        try:
            ws.send(token)
            ack = json.loads(ws.recv(timeout=self._open_timeout))
        except Exception as exc:
            ws.close()
            reason = getattr(getattr(exc, "rcvd", None), "reason", "") or str(exc)
            if getattr(getattr(exc, "rcvd", None), "code", None) == AUTH_CLOSE_CODE:
                raise AuthError(reason) from None
            raise NoWebSocket(f"the WebSocket to {self._url} failed at login: {reason}") from None
        if not (isinstance(ack, dict) and ack.get("ok")):
            ws.close()
            raise NoWebSocket(f"unexpected WebSocket greeting from {self._url}: {ack!r}")
        self._token_sent = token
        return ws

    def _connection(self) -> Any:
        with self._connect_lock:
            if self._ws is None:
                self._ws = self._open()
            token = self.session.token()
            if token != self._token_sent:
                self._ws.send(token)
                self._token_sent = token
            return self._ws

    def _broken(self, ws: Any, error: BaseException) -> None:
        with self._connect_lock:
            if self._ws is ws:
                self._ws = None
        try:
            ws.close()
        except Exception:
            pass
        for slot in list(self._pending.values()):
            if slot.frame is None and slot.error is None:
                slot.error = error
                slot.event.set()

    # -- calls -----------------------------------------------------------------------------
    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        body = self.http.stage_uploads(kind, body or {})
        return self.send_encoded(kind, encode_message(self.message(kind, body))).unwrap()

    def message(self, kind: str, body: dict[str, Any] | None = None) -> Message:
        """A message in the protocol version negotiated at connect."""
        return self.http.message(kind, body)

    def send_encoded(self, kind: str, data: bytes | bytearray) -> Reply:
        """Send one encoded message and return the node's reply."""
        for attempt in range(2):
            ws = self._connection()
            request_id = next(self._ids)
            slot = _Slot()
            self._pending[request_id] = slot
            try:
                try:
                    ws.send(REQUEST_HEAD.pack(request_id) + data)
                except Exception as exc:  # not delivered: safe to send again on a new connection
                    self._broken(ws, TransportError(f"the WebSocket to {self._url} closed"))
                    if attempt == 0:
                        continue
                    raise TransportError(f"could not send {kind!r} to {self._url}: {exc}") from None
                frame = self._await(ws, slot, kind)
            finally:
                self._pending.pop(request_id, None)
            flag = frame[8]
            payload = memoryview(frame)[REPLY_HEAD.size :]
            if flag == FLAG_REPLY:
                return decode_reply(payload)
            if flag == FLAG_TICKET:
                return self.http.fetch(f"/reply/{bytes(payload).decode()}", kind)
            if flag == FLAG_AUTH and attempt == 0:
                self.session.refresh(self._token_sent)
                continue
            raise AuthError(bytes(payload).decode(errors="replace"))
        raise AuthError("the node rejected a fresh token: log in again")  # pragma: no cover

    def _await(self, ws: Any, slot: _Slot, kind: str) -> bytes:
        """Wait for this call's frame, reading for every caller while no one else does."""
        while slot.frame is None and slot.error is None:
            if self._read_lock.acquire(blocking=False):
                try:
                    while slot.frame is None and slot.error is None:
                        self._dispatch(ws.recv())
                except Exception as exc:
                    error = TransportError(
                        f"the WebSocket to {self._url} broke while waiting for the reply to "
                        f"{kind!r} ({type(exc).__name__}); it may or may not have run on the node"
                    )
                    self._broken(ws, error)
                finally:
                    self._read_lock.release()
                    self._wake_one(slot)
            else:
                slot.event.wait()
                slot.event.clear()
        if slot.error is not None:
            raise slot.error
        assert slot.frame is not None
        return slot.frame

    def _dispatch(self, frame: Any) -> None:
        if not isinstance(frame, (bytes, bytearray)) or len(frame) < REPLY_HEAD.size:
            return
        (request_id,) = REQUEST_HEAD.unpack_from(frame)
        slot = self._pending.get(request_id)
        if slot is not None:
            slot.frame = bytes(frame)
            slot.event.set()

    def _wake_one(self, me: _Slot) -> None:
        """Hand reading over to another waiting caller, if any."""
        for slot in list(self._pending.values()):
            if slot is not me and slot.frame is None and slot.error is None:
                slot.event.set()
                return

    def logout(self) -> None:
        self.close()
        self.http.logout()

    def close(self) -> None:
        with self._connect_lock:
            ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass


class RoutingConnection:
    """Small messages over the WebSocket, large ones over HTTP (by encoded size)."""

    def __init__(
        self, http: HTTPConnection, ws: WebSocketConnection | None, ws_max: int = WS_MAX
    ) -> None:
        self.http = http
        self.ws = ws
        self.ws_max = ws_max
        self.node_name = http.node_name
        self.protocol: Version = http.protocol

    def message(self, kind: str, body: dict[str, Any] | None = None) -> Message:
        """A message in the protocol version negotiated at connect."""
        return self.http.message(kind, body)

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        body = self.http.stage_uploads(kind, body or {})
        parts = encode_message_parts(self.message(kind, body))
        if self.ws is not None and nbytes(parts) <= self.ws_max:
            try:
                return self.ws.send_encoded(kind, b"".join(parts)).unwrap()
            except NoWebSocket as exc:
                log.warning("%s; using HTTP only", exc)
                self.ws = None
        return self.http.send_parts(kind, parts).unwrap()

    def logout(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.http.logout()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.http.close()


def connect(
    url: str,
    email: str,
    password: str,
    *,
    transport: str = "auto",
    speaks: tuple[Version, ...] = SPEAKS,
) -> HTTPConnection | WebSocketConnection | RoutingConnection:
    """Log in to the node at ``url``: a connection for :class:`unseen.client.Client`.

    ``transport`` is ``"auto"`` (WebSocket for small messages, HTTP for large), ``"http"``
    or ``"websocket"``. The protocol version is negotiated first (``speaks``: the versions
    this side offers; see :func:`unseen.messages.negotiate`).
    """
    from unseen.errors import UsageError

    if transport not in ("auto", "http", "websocket"):
        raise UsageError(f"transport must be 'auto', 'http' or 'websocket', not {transport!r}")
    http = HTTPConnection(Session(url, email, password, speaks=speaks))
    if transport == "http":
        return http
    ws = WebSocketConnection(http)
    if transport == "websocket":
        return ws
    return RoutingConnection(http, ws)
