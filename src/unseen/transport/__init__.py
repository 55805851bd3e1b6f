"""Transports: thin adapters that carry encoded messages between a client and a node.

The HTTP and WebSocket transports (``HTTPConnection``, ``WebSocketConnection``,
``RoutingConnection``, ``Session``, ``connect``) load on first use, so that in-process use
imports neither httpx nor websockets. The other way round, a node that cannot be dialled keeps a
reverse tunnel open to a relay (``ReverseTunnel``, also loaded on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unseen.transport._base import Connection
from unseen.transport._inproc import InProcConnection

if TYPE_CHECKING:
    from unseen.transport._http import HTTPConnection, Parts, Session, http_client, nbytes
    from unseen.transport._tunnel import HEAD, RELAY_MAX, TUNNEL_FRAME_MAX, ReverseTunnel
    from unseen.transport._ws import (
        AUTH_CLOSE_CODE,
        FLAG_AUTH,
        FLAG_REPLY,
        FLAG_TICKET,
        REQUEST_HEAD,
        RoutingConnection,
        WebSocketConnection,
        connect,
        pack_reply,
    )

_LAZY = {
    "HTTPConnection": "unseen.transport._http",
    "Session": "unseen.transport._http",
    "http_client": "unseen.transport._http",
    "RoutingConnection": "unseen.transport._ws",
    "WebSocketConnection": "unseen.transport._ws",
    "connect": "unseen.transport._ws",
    "Parts": "unseen.transport._http",
    "nbytes": "unseen.transport._http",
    "HEAD": "unseen.transport._tunnel",
    "RELAY_MAX": "unseen.transport._tunnel",
    "TUNNEL_FRAME_MAX": "unseen.transport._tunnel",
    "ReverseTunnel": "unseen.transport._tunnel",
    "AUTH_CLOSE_CODE": "unseen.transport._ws",
    "FLAG_AUTH": "unseen.transport._ws",
    "FLAG_REPLY": "unseen.transport._ws",
    "FLAG_TICKET": "unseen.transport._ws",
    "REQUEST_HEAD": "unseen.transport._ws",
    "pack_reply": "unseen.transport._ws",
}

__all__ = [
    "http_client",
    "Connection",
    "HTTPConnection",
    "InProcConnection",
    "RoutingConnection",
    "Session",
    "WebSocketConnection",
    "connect",
    "AUTH_CLOSE_CODE",
    "FLAG_AUTH",
    "FLAG_REPLY",
    "FLAG_TICKET",
    "HEAD",
    "RELAY_MAX",
    "REQUEST_HEAD",
    "TUNNEL_FRAME_MAX",
    "Parts",
    "ReverseTunnel",
    "nbytes",
    "pack_reply",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unseen.transport' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
