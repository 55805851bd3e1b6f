"""``unseen.join_duet(id, network_url=...)``: the data scientist's side of a Duet.

The scientist claims the single-use id at the network's rendezvous and gets the owner's signed
offer; they pin the key it names (the signature must verify under it). They make an ephemeral
X25519 key and seal every request to the owner's key (NaCl ``Box``); answers that do not open
under the pinned key are refused. The link: ``"direct"`` (the owner's announced port, tried
first with a short timeout), ``"webrtc"`` (a data channel, signalled over the relay: see
:mod:`unseen.duet._webrtc`) or ``"relay"`` (through the network's tunnel); ``link=`` forces one.
The direct link speaks plain HTTP/1.1 with ``http.client`` (one kept-alive connection per
thread: a response body is read in one call, without per-64-KiB Python loops). Large answers
come as chunks fetched :data:`FETCH_THREADS` at a time (see :mod:`unseen.duet._host`).
"""

from __future__ import annotations

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx

from unseen import serde
from unseen.client import Client, NotAllowedAttribute, normalize_url
from unseen.duet import _webrtc
from unseen.duet._host import LOOPBACK_HINT, chunk_key, open_chunk
from unseen.errors import (
    ProtocolError,
    TransportError,
    UnseenError,
    UsageError,
    error_from_wire,
)
from unseen.messages import Message, decode_reply, encode_message
from unseen.network import ID_BYTES, OFFER
from unseen.node import curve_public_key, verify_document

LINKS = ("auto", "direct", "relay", "webrtc")
CLAIM_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 1.5
CALL_TIMEOUT_S = 3700.0  # longer than the longest request.wait
FETCH_THREADS = 8  # chunks of a large answer in flight at once


class _DirectHTTP:
    """``POST`` sealed bytes to the owner's direct link: one kept-alive connection per thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ProtocolError(f"the Duet offer's direct link is not an http URL: {url[:80]!r}")
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or "/"
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request("POST", self.path, body, {"content-type": "application/octet-stream"})
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


class DuetConnection:
    """Sealed messages to the owner's node: on the direct link, a WebRTC data channel or
    through the relay."""

    _rtc: _webrtc.PartnerWebRTC | None = None  # the WebRTC link, once open

    def __init__(
        self,
        duet_id: str,
        network_url: str,
        link: str = "auto",
        ice_servers: list[Any] | None = None,
    ) -> None:
        from nacl.public import Box, PrivateKey, PublicKey

        if link not in LINKS:
            raise UsageError(f"link must be one of {', '.join(LINKS)}")
        if link == "webrtc" and not _webrtc.available():
            raise UsageError("link='webrtc' needs aiortc (pip install aiortc)")
        if not isinstance(duet_id, str) or len(duet_id) != 2 * ID_BYTES:
            raise UsageError(f"a Duet id is {2 * ID_BYTES} hex digits, as the owner printed it")
        self.duet_id = duet_id.lower()
        self.network_url = normalize_url(network_url)
        self.owner_key = self._claim()
        self._ephemeral = PrivateKey.generate()
        self._box = Box(self._ephemeral, PublicKey(curve_public_key(self.owner_key)))
        self._prefix = bytes(self._ephemeral.public_key)
        self._chunk_key = chunk_key(bytes(self._box.shared_key()))
        self._http = httpx.Client(timeout=httpx.Timeout(CALL_TIMEOUT_S, connect=5.0))
        self._direct_http: _DirectHTTP | None = None
        self._rtc = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.node_name = "Duet"
        try:
            self.link, self._url = self._choose(link)
            joined = self._exchange({"op": "join", "id": self.duet_id, "name": "Duet partner"})
            if link == "webrtc" or (link == "auto" and self.link == "relay"):
                self._upgrade(ice_servers, forced=link == "webrtc")
        except BaseException:
            self._close_transports()
            raise
        self.client_id = str(joined["client_id"])
        self._left = False

    def _claim(self) -> str:
        path = f"{self.network_url}/network/v1/duet/claim/{self.duet_id}"
        try:
            response = httpx.post(path, timeout=CLAIM_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"could not reach the network at {self.network_url}: {exc}"
            ) from None
        data = response.json() if response.content else {}
        if response.status_code != 200:
            wire = {"kind": data.get("kind", "UsageError"), "message": data.get("detail", "")}
            raise error_from_wire(wire)
        document = verify_document(data.get("offer"), OFFER)
        if document["public_key"] != data.get("key"):
            raise ProtocolError("the network's Duet record does not match the owner's signature")
        self._direct = str(document.get("direct_url") or "")
        return str(document["public_key"])

    def _choose(self, link: str) -> tuple[str, str]:
        relay = f"{self.network_url}/network/v1/duet/relay/{self.duet_id}"
        if link in ("relay", "webrtc"):  # WebRTC is signalled over the relay, once joined
            return "relay", relay
        if self._direct:
            try:
                self._direct_http = _DirectHTTP(self._direct)
                self._exchange({"op": "ping"}, url=self._direct, timeout=PROBE_TIMEOUT_S)
                return "direct", self._direct
            except UnseenError:
                if self._direct_http is not None:
                    self._direct_http.close()
                    self._direct_http = None
                if link == "direct":
                    raise
        elif link == "direct":
            raise TransportError("the Duet owner offers no direct link: use link='relay'")
        return "relay", relay

    def _upgrade(self, ice_servers: list[Any] | None, *, forced: bool) -> None:
        """Open the WebRTC data channel (SDP offer and answer as sealed relay messages)."""
        if not _webrtc.available():
            return
        rtc = _webrtc.PartnerWebRTC(ice_servers)
        try:
            answer = self._exchange({"op": "webrtc", "sdp": rtc.offer()})
            wait = _webrtc.OPEN_TIMEOUT_S if forced else _webrtc.AUTO_OPEN_TIMEOUT_S
            rtc.connect(str(answer.get("sdp") or ""), wait)
        except Exception as exc:
            rtc.close()
            if not forced:
                return
            if isinstance(exc, UnseenError):
                raise
            raise TransportError(f"could not open the WebRTC link: {exc}") from None
        self._rtc, self.link, self._url = rtc, "webrtc", "webrtc"

    def _seal(self, request: dict[str, Any]) -> bytes:
        if request.get("op") == "message":
            plain = b"M" + request["message"]
        else:
            plain = b"O" + bytes(serde.encode(request))
        return self._prefix + bytes(self._box.encrypt(plain))

    def _post(self, sealed: bytes, url: str | None, timeout: float | None) -> bytes:
        """The owner's sealed answer to sealed bytes, on the chosen link."""
        wait = CALL_TIMEOUT_S if timeout is None else timeout
        direct = self._direct_http
        if self._rtc is not None and url is None:
            content = self._rtc.post(sealed, wait)
            if not content:
                raise TransportError("the Duet partner refused the request; they may have left")
            return content
        try:
            if direct is not None and (url or self._url) == self._direct:
                status, content = direct.post(sealed, wait)
                detail = ""
            else:
                response = self._http.post(
                    url or self._url,
                    content=sealed,
                    headers={"content-type": "application/octet-stream"},
                    timeout=wait,
                )
                status, content = response.status_code, response.content
                try:
                    detail = str(response.json().get("detail", "")) if status != 200 else ""
                except ValueError:
                    detail = ""
        except (httpx.HTTPError, OSError, http.client.HTTPException) as exc:
            raise TransportError(
                f"the Duet link broke: your Duet partner left or is unreachable ({exc})"
            ) from None
        if status != 200:
            raise TransportError(
                f"the Duet partner is not reachable ({status}"
                f"{': ' + detail if detail else ''}); they may have left"
            )
        return content

    def _open(self, content: bytes) -> dict[str, Any]:
        from nacl.exceptions import CryptoError

        try:
            opened = bytes(self._box.decrypt(content))
        except CryptoError:
            raise ProtocolError(
                "the answer was not sealed by the Duet owner's pinned key: refused"
            ) from None
        if opened[:1] == b"M":
            return {"ok": True, "reply": memoryview(opened)[1:]}
        answer = serde.decode(opened[1:])
        if not isinstance(answer, dict):
            raise ProtocolError("the Duet owner's answer is not a map")
        if not answer.get("ok"):
            raise error_from_wire(answer.get("error") or {})
        return answer

    def _exchange(
        self, request: dict[str, Any], *, url: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        answer = self._open(self._post(self._seal(request), url, timeout))
        if "stream" in answer:
            return {"ok": True, "reply": self._fetch(answer)}
        return answer

    def _fetch(self, answer: dict[str, Any]) -> bytearray:
        """A large answer, fetched in chunks, several at once, into one buffer."""
        from nacl.exceptions import CryptoError

        ident, size, chunk = answer.get("stream"), answer.get("size"), answer.get("chunk")
        if (
            not isinstance(ident, bytes)
            or not isinstance(size, int)
            or not isinstance(chunk, int)
            or size < 0
            or chunk <= 0
        ):
            raise ProtocolError("the Duet owner announced a malformed chunked answer")
        count = -(-size // chunk)
        out = bytearray(size)

        def one(index: int) -> None:
            sealed = self._post(
                self._seal({"op": "chunk", "stream": ident, "index": index}), None, None
            )
            try:
                data = open_chunk(self._chunk_key, ident, index, count, sealed)
            except (CryptoError, ValueError, TypeError):
                self._open(sealed)  # an error the owner sealed: raises it
                raise ProtocolError("a chunk of the Duet answer did not open: refused") from None
            begin = index * chunk
            if len(data) != min(chunk, size - begin):
                raise ProtocolError("a chunk of the Duet answer has the wrong length: refused")
            out[begin : begin + len(data)] = data

        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="unseen-duet")
            pool = self._pool
        for future in [pool.submit(one, i) for i in range(count)]:
            future.result()
        return out

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        data = bytes(encode_message(Message(kind, body or {})))
        answer = self._exchange({"op": "message", "message": data})
        return decode_reply(answer["reply"]).unwrap()

    def close(self) -> None:
        if not self._left:
            self._left = True
            try:
                self._exchange({"op": "leave"}, timeout=2.0)
            except Exception:
                pass
        self._close_transports()

    def _close_transports(self) -> None:
        self._http.close()
        if self._direct_http is not None:
            self._direct_http.close()
        if self._rtc is not None:
            self._rtc.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class DuetClient(Client):
    """The data scientist's session with the owner's node: ``.store``, pointers, requests."""

    def __init__(self, connection: DuetConnection) -> None:
        super().__init__(connection)
        self.duet_id = connection.duet_id
        self.client_id = connection.client_id
        self.link: str = connection.link
        self.owner_key = connection.owner_key

    @property
    def torch(self) -> Any:
        """PySyft's ``duet.torch.<fn>`` built values on the owner's side; not in unseen."""
        raise NotAllowedAttribute(
            "duet.torch is PySyft's: in unseen the owner sends data (tensor.send(duet)), and "
            "functions run on pointers as unseen.torch.<function>(ptr) or ptr.<method>()"
        )

    def __repr__(self) -> str:
        return f"<DuetClient {self.duet_id} over {self.link} as {self.role}>"


def join_duet(
    duet_id: str,
    network_url: str = "http://127.0.0.1:8080",
    *,
    link: str = "auto",
    ice_servers: list[Any] | None = None,
    verbose: bool = True,
    loopback: bool = False,
) -> DuetClient:
    """Join the Duet the owner invited you to, with the id they sent you.

    ``link="auto"`` tries the owner's direct link first, then a WebRTC data channel (with
    aiortc), then the network's relay; ``"direct"``, ``"webrtc"`` or ``"relay"`` forces one.
    ``ice_servers`` lists STUN/TURN servers for WebRTC (none: host candidates only).
    Raises ``NotFound`` for a wrong or expired id and ``AuthError`` for an id that was used
    already. PySyft's ``loopback=True`` has no equivalent: pass the local network's URL."""
    if loopback:
        raise UsageError(LOOPBACK_HINT)
    connection = DuetConnection(duet_id, network_url, link, ice_servers)
    try:
        client = DuetClient(connection)
    except BaseException:
        connection.close()
        raise
    if verbose:
        print("Send the Duet Client ID back to your Duet Partner!")
        print(f"Duet Client ID: {client.client_id}")
    return client
