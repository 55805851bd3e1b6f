"""Reverse tunnels: domains behind NAT keep a WebSocket open to the network, which relays to it.

A domain opens ``/network/v1/tunnel`` and sends, as its first (text) frame, a signed tunnel
hello (fresh, for this network, by an approved key). Then each relayed request goes down as a
binary frame ``u64 id + sealed bytes`` and its answer comes back as ``u64 id + sealed bytes``.
The bytes are sealed end to end between the client and the domain (see ``unseen.network``):
the hub only matches ids. Text frames ``ping`` from the domain count as heartbeats. The other
end, which domains and Duet owners both run, is :mod:`unseen.transport._tunnel`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any, Protocol

from fastapi import WebSocket

from unseen.errors import UnseenError
from unseen.transport import HEAD

log = logging.getLogger("unseen.network")

RELAY_TIMEOUT_S = 660.0  # longer than the longest request.wait a client sends
HELLO_TIMEOUT_S = 10.0


class Link:
    """One domain's open tunnel."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.send_lock = asyncio.Lock()

    def fail_all(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the domain's tunnel closed"))
        self.pending.clear()


class TunnelKeys(Protocol):
    """What a hub needs of whoever admits tunnels: the registry, or the Duet rendezvous."""

    tunnels: set[str]

    def check_tunnel(self, signed: Any) -> str: ...

    def seen(self, key: str) -> None: ...


class Hub:
    def __init__(self, registry: TunnelKeys) -> None:
        self.registry = registry
        self.links: dict[str, Link] = {}

    async def relay(self, key: str, payload: bytes) -> tuple[int, bytes]:
        """(200, the domain's sealed answer) or (an HTTP status, a reason)."""
        link = self.links.get(key)
        if link is None:
            return 503, b"the domain has no open tunnel to this network: it is offline"
        request_id = next(link.ids)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            async with link.send_lock:
                await link.ws.send_bytes(HEAD.pack(request_id) + payload)
            return 200, await asyncio.wait_for(future, RELAY_TIMEOUT_S)
        except TimeoutError:
            return 504, b"the domain did not answer through its tunnel in time"
        except Exception as exc:
            return 502, f"the domain's tunnel broke: {exc}".encode()
        finally:
            link.pending.pop(request_id, None)

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            first = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT_S)
            key = self.registry.check_tunnel(json.loads(first))
        except (TimeoutError, UnseenError, ValueError, KeyError, RuntimeError) as exc:
            reason = exc.message if isinstance(exc, UnseenError) else "send a signed hello first"
            await ws.close(code=4403, reason=reason[:120])
            return
        link = Link(ws)
        old = self.links.get(key)
        self.links[key] = link
        self.registry.tunnels.add(key)
        if old is not None:
            old.fail_all()
            await _close(old.ws)
        await ws.send_text(json.dumps({"ok": True}))
        try:
            while True:
                message = await ws.receive()
                if message.get("type") == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    self.registry.seen(key)
                    continue
                if len(data) < HEAD.size:
                    continue
                (request_id,) = HEAD.unpack_from(data)
                future = link.pending.get(request_id)
                if future is not None and not future.done():
                    future.set_result(data[HEAD.size :])
        except Exception as exc:
            log.debug("tunnel of %s closed: %s", key[:12], exc)
        finally:
            link.fail_all()
            if self.links.get(key) is link:
                del self.links[key]
                self.registry.tunnels.discard(key)
                self.registry.seen(key)


async def _close(ws: WebSocket) -> None:
    try:
        await ws.close(code=4409, reason="replaced by a newer tunnel")
    except Exception:
        pass
