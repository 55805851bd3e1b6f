"""Transports: thin adapters that carry encoded messages between a client and a node.

The HTTP and WebSocket transports (``HTTPConnection``, ``WebSocketConnection``,
``RoutingConnection``, ``Session``, ``connect``) load on first use, so that in-process use
imports neither httpx nor websockets. The other way round, a node that cannot be dialled keeps a
reverse tunnel open to a relay (``unseen.transport._tunnel``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unseen.transport._base import Connection
from unseen.transport._inproc import InProcConnection

if TYPE_CHECKING:
    from unseen.transport._http import HTTPConnection, Session, http_client
    from unseen.transport._ws import RoutingConnection, WebSocketConnection, connect

_LAZY = {
    "HTTPConnection": "unseen.transport._http",
    "Session": "unseen.transport._http",
    "http_client": "unseen.transport._http",
    "RoutingConnection": "unseen.transport._ws",
    "WebSocketConnection": "unseen.transport._ws",
    "connect": "unseen.transport._ws",
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
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unseen.transport' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
