"""The WebRTC data-channel link of a Duet (aiortc).

Signalling needs no new endpoint: once joined (over the relay), the partner sends a sealed
``webrtc`` request carrying its SDP offer; the owner answers with its SDP answer in the sealed
reply. aiortc gathers candidates before the descriptions are exchanged (no trickle), so one
round trip is enough. Without ``ice_servers`` only host candidates are used (loopback, LAN); a
list of STUN/TURN servers (URLs or ``{"urls", "username", "credential"}`` maps) may be given on
both sides.

Over the channel travel the same sealed bytes as on the other links. A message is cut into
pieces of at most :data:`PIECE` bytes (``request id (8) + last flag (1) + data``); pieces of
different messages may interleave and are put together by id. Senders wait while the channel's
``bufferedAmount`` is above :data:`HIGH_WATER` (woken by ``bufferedamountlow``).

aiortc runs on asyncio: every process has one dedicated thread with its own event loop
(:func:`loop`), and the synchronous callers hand it coroutines (``run_coroutine_threadsafe``),
so nothing here calls ``asyncio.run`` inside a running loop (Jupyter).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from unseen.errors import TransportError, UsageError

log = logging.getLogger("unseen.duet")

T = TypeVar("T")

HEAD = struct.Struct(">QB")  # request id, 1 on a message's last piece
PIECE = 65536 - HEAD.size  # aiortc's default largest message is 64 KiB
HIGH_WATER = 4 << 20  # senders wait while more than this is buffered
LOW_WATER = 1 << 20  # and go on when the buffer drains below this
OPEN_TIMEOUT_S = 15.0  # link="webrtc": the channel must open within this
AUTO_OPEN_TIMEOUT_S = 5.0  # link="auto": fall back to the relay after this
LABEL = "unseen-duet"

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def available() -> bool:
    """Whether aiortc can be imported."""
    try:
        import aiortc  # noqa: F401
    except ImportError:
        return False
    return True


def loop() -> asyncio.AbstractEventLoop:
    """This process's aiortc event loop, running in its own daemon thread."""
    global _loop
    with _loop_lock:
        if _loop is None:
            new = asyncio.new_event_loop()
            threading.Thread(target=new.run_forever, name="unseen-duet-webrtc", daemon=True).start()
            _loop = new
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the aiortc loop and wait for its result (from any other thread)."""
    return asyncio.run_coroutine_threadsafe(coro, loop()).result(timeout)


def configuration(ice_servers: list[Any] | None) -> Any:
    """An ``RTCConfiguration`` with these STUN/TURN servers (none: host candidates only)."""
    from aiortc import RTCConfiguration, RTCIceServer

    servers = []
    for entry in ice_servers or []:
        if isinstance(entry, str):
            servers.append(RTCIceServer(urls=entry))
        elif isinstance(entry, dict) and entry.get("urls"):
            servers.append(
                RTCIceServer(
                    urls=entry["urls"],
                    username=entry.get("username"),
                    credential=entry.get("credential"),
                )
            )
        else:
            raise UsageError("an ICE server is a URL or a map with 'urls' (and credentials)")
    return RTCConfiguration(iceServers=servers)  # an empty list: no default STUN server


class Channel:
    """Framed messages over one open data channel (its methods run on the aiortc loop)."""

    def __init__(self, channel: Any, on_message: Callable[[int, bytes], None]) -> None:
        self.channel = channel
        self.on_message = on_message
        self._parts: dict[int, list[bytes]] = {}
        self._drained = asyncio.Event()
        self._drained.set()
        channel.bufferedAmountLowThreshold = LOW_WATER
        channel.on("message", self._piece)
        channel.on("bufferedamountlow", self._drained.set)
        channel.on("close", self._drained.set)  # a waiting sender sees the close

    def _piece(self, data: Any) -> None:
        if not isinstance(data, bytes) or len(data) < HEAD.size:
            return
        ident, last = HEAD.unpack_from(data)
        parts = self._parts.setdefault(ident, [])
        parts.append(data[HEAD.size :])
        if last:
            del self._parts[ident]
            self.on_message(ident, b"".join(parts))

    async def send(self, ident: int, data: bytes) -> None:
        view = memoryview(data)
        count = max(1, -(-len(view) // PIECE))
        for index in range(count):
            while self.channel.bufferedAmount > HIGH_WATER:
                if self.channel.readyState != "open":
                    raise TransportError("the WebRTC data channel closed")
                self._drained.clear()
                await self._drained.wait()
            if self.channel.readyState != "open":
                raise TransportError("the WebRTC data channel closed")
            piece = view[index * PIECE : (index + 1) * PIECE]
            self.channel.send(HEAD.pack(ident, index == count - 1) + piece)


class OwnerWebRTC:
    """The owner's side: answers SDP offers and serves sealed requests over the channels."""

    def __init__(self, answer: Callable[[bytes], bytes], ice_servers: list[Any] | None) -> None:
        self.answer = answer
        self.config = configuration(ice_servers)
        self._pcs: set[Any] = set()
        self._pool = ThreadPoolExecutor(32, thread_name_prefix="unseen-duet-webrtc")

    def accept(self, offer_sdp: str, timeout: float = OPEN_TIMEOUT_S) -> str:
        """The SDP answer to a partner's offer (the channel opens on its own afterwards)."""
        return run(self._accept(offer_sdp), timeout)

    async def _accept(self, offer_sdp: str) -> str:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(self.config)
        self._pcs.add(pc)

        @pc.on("datachannel")
        def _opened(channel: Any) -> None:
            framed: Channel

            def on_message(ident: int, payload: bytes) -> None:
                work = asyncio.get_running_loop().run_in_executor(self._pool, self.answer, payload)
                asyncio.ensure_future(self._reply(framed, ident, work))

            framed = Channel(channel, on_message)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._pcs.discard(pc)
                await pc.close()

        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _reply(self, framed: Channel, ident: int, work: asyncio.Future[bytes]) -> None:
        try:
            await framed.send(ident, await work)
        except Exception as exc:
            log.debug("Duet WebRTC reply lost: %s", exc)

    def stop(self) -> None:
        """Close every peer connection (the partner's pending calls fail at once)."""
        pcs, self._pcs = list(self._pcs), set()
        if pcs:
            try:
                run(asyncio.wait_for(_close_all(pcs), 5.0), 6.0)
            except Exception as exc:
                log.debug("closing Duet WebRTC links: %s", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _close_all(pcs: list[Any]) -> None:
    await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)


class PartnerWebRTC:
    """The partner's side: offers a data channel and posts sealed requests over it."""

    def __init__(self, ice_servers: list[Any] | None) -> None:
        self.config = configuration(ice_servers)
        self._pc: Any = None
        self._framed: Channel | None = None
        self._opened: asyncio.Event | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[bytes]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def offer(self, timeout: float = OPEN_TIMEOUT_S) -> str:
        """This side's SDP offer (candidates gathered)."""
        return run(self._offer(), timeout)

    async def _offer(self) -> str:
        from aiortc import RTCPeerConnection

        self._pc = pc = RTCPeerConnection(self.config)
        self._opened = asyncio.Event()
        channel = pc.createDataChannel(LABEL)
        self._framed = Channel(channel, self._answered)
        channel.on("open", self._opened.set)
        channel.on("close", lambda: self._fail("the WebRTC data channel closed"))

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._fail(f"the WebRTC connection {pc.connectionState}")

        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    def connect(self, answer_sdp: str, timeout: float = OPEN_TIMEOUT_S) -> None:
        """Apply the owner's answer and wait until the data channel is open."""
        try:
            run(asyncio.wait_for(self._connect(answer_sdp), timeout), timeout + 1)
        except TimeoutError:
            raise TransportError("the WebRTC data channel did not open in time") from None

    async def _connect(self, answer_sdp: str) -> None:
        from aiortc import RTCSessionDescription

        assert self._pc is not None and self._opened is not None
        await self._pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        await self._opened.wait()

    def _answered(self, ident: int, payload: bytes) -> None:
        with self._lock:
            waiter = self._pending.pop(ident, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(payload)

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
        for waiter in pending.values():
            if not waiter.done():
                waiter.set_exception(TransportError(f"{reason}: your Duet partner left"))

    def post(self, sealed: bytes, timeout: float) -> bytes:
        """The owner's sealed answer to sealed bytes."""
        waiter: Future[bytes] = Future()
        with self._lock:
            if self._closed or self._framed is None:
                raise TransportError("the WebRTC link is closed: your Duet partner left")
            ident = next(self._ids)
            self._pending[ident] = waiter
        framed = self._framed
        try:
            run(framed.send(ident, sealed), timeout)
            return waiter.result(timeout)
        except TimeoutError:
            raise TransportError("no answer over the WebRTC link in time") from None
        finally:
            with self._lock:
                self._pending.pop(ident, None)

    def close(self) -> None:
        self._fail("the WebRTC link was closed")
        if self._pc is not None:
            try:
                run(self._pc.close(), 5.0)
            except Exception as exc:
                log.debug("closing the Duet WebRTC link: %s", exc)
