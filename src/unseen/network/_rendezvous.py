"""The Duet rendezvous: a data owner registers an offer, a scientist claims it once by its id.

A data owner's process (``unseen.launch_duet``) makes a fresh ed25519 key for the session and
posts a signed offer: its key, and the URL of its direct link if it has one. The network answers
with a short id (128 random bits, 32 hex digits) that the owner reads to the scientist. The
scientist claims the id (``POST /network/v1/duet/claim/<id>``) and gets the signed offer, whose
key they pin. An id is single-use: a second claim is refused. Unclaimed offers expire after
``ttl`` seconds; claimed ones live while the owner's session lives (at most ``session_ttl``).

The owner's process keeps a reverse tunnel to the network (the hub of :mod:`unseen.network._hub`,
keyed by the offer's key); the scientist's messages go through ``/network/v1/duet/relay/<id>``,
sealed to the owner's key, so the network routes bytes it cannot read.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from unseen.errors import AuthError, NotFound, UsageError
from unseen.node import CLOCK_SKEW_S, verify_document

OFFER = "unseen.duet.offer"
DUET_TUNNEL = "unseen.duet.tunnel"
ID_BYTES = 16  # 128 bits
OFFER_TTL_S = 3600.0
SESSION_TTL_S = 7 * 24 * 3600.0
MAX_OFFERS = 10_000


@dataclass
class Offer:
    id: str
    key: str
    signed: dict[str, Any]
    created: float
    expires: float
    claimed_at: float | None = None


@dataclass
class _Nonces:
    seen: dict[str, float] = field(default_factory=dict)

    def add(self, nonce: str) -> bool:
        now = time.time()
        if len(self.seen) > 4 * MAX_OFFERS:
            self.seen = {n: t for n, t in self.seen.items() if now - t < 2 * CLOCK_SKEW_S}
        if nonce in self.seen:
            return False
        self.seen[nonce] = now
        return True


class Rendezvous:
    """Duet offers in memory (they live as long as the sessions they start)."""

    def __init__(self, ttl: float = OFFER_TTL_S, session_ttl: float = SESSION_TTL_S) -> None:
        self.ttl = ttl
        self.session_ttl = session_ttl
        self._offers: dict[str, Offer] = {}
        self._nonces = _Nonces()
        self._lock = threading.Lock()
        self.tunnels: set[str] = set()  # keys with an open tunnel (the hub keeps it)

    def _check(self, signed: Any, kind: str) -> dict[str, Any]:
        document = verify_document(signed, kind)
        if abs(float(document["issued_at"]) - time.time()) > CLOCK_SKEW_S:
            raise AuthError("this document is too old or from the future: refused")
        with self._lock:
            if not self._nonces.add(str(document["nonce"])):
                raise AuthError("this document was seen before (a replay): refused")
        return document

    def _expire(self) -> None:
        now = time.time()
        for ident in [i for i, o in self._offers.items() if o.expires < now]:
            del self._offers[ident]

    def offer(self, signed: Any) -> dict[str, Any]:
        """Register a signed offer; ``{"id", "expires_at"}``."""
        document = self._check(signed, OFFER)
        direct = document.get("direct_url", "")
        if not isinstance(direct, str) or len(direct) > 500:
            raise UsageError("an offer's direct_url is a URL (or empty)")
        now = time.time()
        with self._lock:
            self._expire()
            if len(self._offers) >= MAX_OFFERS:
                raise UsageError("this network holds too many Duet offers: try again later")
            ident = secrets.token_hex(ID_BYTES)
            key = str(document["public_key"])
            self._offers[ident] = Offer(ident, key, signed, now, now + self.ttl)
        return {"id": ident, "expires_at": now + self.ttl}

    def claim(self, ident: str) -> dict[str, Any]:
        """The signed offer of an unclaimed id, once; NotFound or AuthError otherwise."""
        with self._lock:
            self._expire()
            found = self._offers.get(ident)
            if found is None:
                raise NotFound(
                    f"no Duet session with the id {ident[:40]!r}: it is wrong or has expired "
                    "(ask your Duet partner for a fresh one)"
                )
            if found.claimed_at is not None:
                raise AuthError(
                    "this Duet id was used already: ids are single-use (ask for a fresh one)"
                )
            found.claimed_at = time.time()
            found.expires = found.claimed_at + self.session_ttl
            return {"id": ident, "key": found.key, "offer": found.signed}

    def key_of(self, ident: str) -> str:
        """The owner key of a claimed offer (for relaying)."""
        with self._lock:
            found = self._offers.get(ident)
            if found is None or found.expires < time.time():
                raise NotFound("no Duet session with this id: it ended or never existed")
            if found.claimed_at is None:
                raise AuthError("claim this Duet id first")
            return found.key

    def withdraw(self, signed: Any) -> bool:
        """The owner ends every offer of its key (a signed tunnel document)."""
        document = self._check(signed, DUET_TUNNEL)
        with self._lock:
            gone = [i for i, o in self._offers.items() if o.key == document["public_key"]]
            for ident in gone:
                del self._offers[ident]
        return bool(gone)

    # -- the hub's interface -----------------------------------------------------------------
    def check_tunnel(self, signed: Any) -> str:
        """The key of a live offer opening its tunnel with a fresh signed hello."""
        document = self._check(signed, DUET_TUNNEL)
        key = str(document["public_key"])
        with self._lock:
            self._expire()
            if not any(o.key == key for o in self._offers.values()):
                raise AuthError("no live Duet offer has this key")
        return key

    def seen(self, key: str) -> None:
        """Tunnel traffic from ``key`` (nothing to record)."""
