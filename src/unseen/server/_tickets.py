"""Large WebSocket replies parked for a short while, to be fetched over HTTP by ticket.

A WebSocket frame is sent whole, so a large reply (a released array) would be copied into
one frame; instead the node keeps the reply's zero-copy parts under a random ticket that
only the same user may fetch, once, within ``ttl`` seconds.
"""

from __future__ import annotations

import secrets
import threading
import time

Parts = list[bytes | memoryview]


class TicketBox:
    def __init__(self, ttl: float = 120.0) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, Parts, float]] = {}

    def put(self, user_id: str, parts: Parts) -> str:
        ticket = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (_, _, at) in self._items.items() if at < now]:
                del self._items[key]
            self._items[ticket] = (user_id, parts, now + self._ttl)
        return ticket

    def take(self, ticket: str, user_id: str) -> Parts | None:
        """The parts once, for the user they were parked for; None otherwise."""
        with self._lock:
            item = self._items.get(ticket)
            if item is None or item[0] != user_id or item[2] < time.monotonic():
                return None
            del self._items[ticket]
            return item[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
