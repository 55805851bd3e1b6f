"""The network's registry: signed registrations, approval, heartbeats, liveness and search.

Every domain is known by its ed25519 key. A registration is accepted only when its signature
verifies under the key it names, it was issued for this network (``network_id``), within
:data:`~unseen.node._network.CLOCK_SKEW_S` of now and later than the last one accepted from that
key (a replayed document is refused), and its name and node id are not another key's. A key the
network owner approved may update its entry (new datasets, a new URL) without a new approval.

Entries persist in the network node's settings store (``network.domain.<key>``); the search index
lives in memory and never contacts a domain, so searches stay fast when domains go offline.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from unseen.errors import AuthError, NotFound, UsageError
from unseen.network._search import Entry, index_catalog, matches, parse_query
from unseen.node import (
    CLOCK_SKEW_S,
    HEARTBEAT,
    REGISTER,
    TUNNEL,
    check_models,
    verify_document,
)

PREFIX = "network.domain."
PERSIST_SEEN_S = 30.0
MAX_DATASETS = 10_000


@dataclass
class Domain:
    """What the network knows of one domain (by key)."""

    key: str
    signed: dict[str, Any]
    status: str = "pending"  # pending | approved | rejected
    reason: str = ""
    registered_at: float = field(default_factory=time.time)
    decided_at: float | None = None
    last_seen: float | None = None
    last_issued: dict[str, float] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    persisted_seen: float = 0.0

    @property
    def document(self) -> dict[str, Any]:
        return self.signed["document"]  # type: ignore[no-any-return]

    def stored(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "status": self.status,
            "reason": self.reason,
            "registered_at": self.registered_at,
            "decided_at": self.decided_at,
            "last_seen": self.last_seen,
            "last_issued": self.last_issued,
        }


class Registry:
    """Registrations of one network node, thread-safe."""

    def __init__(
        self,
        settings: Any,
        network_id: str,
        *,
        auto_approve: bool = False,
        offline_after: float = 30.0,
    ) -> None:
        self.settings = settings
        self.network_id = network_id
        self.auto_approve = auto_approve
        self.offline_after = offline_after
        self.tunnels: set[str] = set()  # keys with an open reverse tunnel (set by the hub)
        self._lock = threading.Lock()
        self._domains: dict[str, Domain] = {}
        for key, value in settings.items().items():
            if key.startswith(PREFIX) and isinstance(value, dict):
                domain = Domain(key[len(PREFIX) :], value["signed"])
                for name in ("status", "reason", "registered_at", "decided_at", "last_seen"):
                    setattr(domain, name, value.get(name, getattr(domain, name)))
                domain.last_issued = dict(value.get("last_issued") or {})
                _index(domain)
                self._domains[domain.key] = domain

    # -- checks --------------------------------------------------------------------------
    def _fresh(self, domain: Domain | None, document: dict[str, Any], kind: str) -> float:
        issued = float(document["issued_at"])
        if document.get("network_id") != self.network_id:
            raise AuthError("this document was signed for another network: refused")
        if abs(issued - time.time()) > CLOCK_SKEW_S:
            raise AuthError(
                f"this document was issued {issued - time.time():+.0f} s from the network's "
                f"clock (more than {CLOCK_SKEW_S:.0f} s): refused (a replay, or a wrong clock)"
            )
        if domain is not None and issued <= domain.last_issued.get(kind, float("-inf")):
            raise AuthError("this document is not newer than the last one accepted: a replay")
        return issued

    def _check_claims(self, key: str, document: dict[str, Any]) -> None:
        name, node_id = document.get("name"), document.get("node_id")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise UsageError("a registration needs a name of 1 to 200 characters")
        if not isinstance(node_id, str) or not 8 <= len(node_id) <= 64 or not node_id.isalnum():
            raise UsageError("a registration needs a node id of 8 to 64 letters or digits")
        for other in self._domains.values():
            if other.key == key or other.status == "rejected":
                continue
            if other.document["name"].strip().lower() == name.strip().lower():
                raise AuthError(f"the name {name!r} belongs to another domain's key: refused")
            if other.document["node_id"] == node_id:
                raise AuthError(f"the node id {node_id!r} belongs to another domain's key: refused")
        url = document.get("url")
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("http://", "https://"))
        ):
            raise UsageError("a registration's url must be an http(s) URL or null")
        if not isinstance(document.get("datasets"), list):
            raise UsageError("a registration lists its public datasets (a list)")
        if len(document["datasets"]) > MAX_DATASETS:
            raise UsageError(f"a registration may list at most {MAX_DATASETS} datasets")
        check_models(document.get("models"))

    def _save(self, domain: Domain) -> None:
        self.settings.set(PREFIX + domain.key, domain.stored())

    # -- domains' side -----------------------------------------------------------------
    def register(self, signed: Any) -> dict[str, Any]:
        """Accept a signed registration (new, or an update from a known key)."""
        document = verify_document(signed, REGISTER)
        key = document["public_key"]
        with self._lock:
            domain = self._domains.get(key)
            issued = self._fresh(domain, document, REGISTER)
            self._check_claims(key, document)
            if domain is not None and domain.status == "rejected":
                raise AuthError(
                    f"the network owner rejected this domain ({domain.reason or 'no reason'})"
                )
            if domain is None:
                domain = Domain(key, signed)
                if self.auto_approve:
                    domain.status, domain.decided_at = "approved", time.time()
            domain.signed = {"document": document, "signature": signed["signature"]}
            domain.last_issued[REGISTER] = issued
            domain.last_seen = time.time()
            _index(domain)
            self._save(domain)
            self._domains[key] = domain
            return {"status": domain.status, "id": document["node_id"], "key": key}

    def heartbeat(self, signed: Any) -> dict[str, Any]:
        document = verify_document(signed, HEARTBEAT)
        with self._lock:
            domain = self._domains.get(document["public_key"])
            if domain is None:
                return {"status": "unknown"}
            domain.last_issued[HEARTBEAT] = self._fresh(domain, document, HEARTBEAT)
            now = domain.last_seen = time.time()
            if now - domain.persisted_seen > PERSIST_SEEN_S:
                domain.persisted_seen = now
                self._save(domain)
            return {"status": domain.status, "digest": domain.document.get("digest")}

    def check_tunnel(self, signed: Any) -> str:
        """The key of an approved domain opening a tunnel with a fresh signed hello."""
        document = verify_document(signed, TUNNEL)
        with self._lock:
            domain = self._domains.get(document["public_key"])
            if domain is None or domain.status != "approved":
                raise AuthError("only approved domains may open a tunnel")
            domain.last_issued[TUNNEL] = self._fresh(domain, document, TUNNEL)
            domain.last_seen = time.time()
            return domain.key

    def seen(self, key: str) -> None:
        domain = self._domains.get(key)
        if domain is not None:
            domain.last_seen = time.time()

    # -- the owner's side ----------------------------------------------------------------
    def registrations(self) -> list[dict[str, Any]]:
        with self._lock:
            domains = sorted(self._domains.values(), key=lambda d: d.registered_at)
        return [self._summary(d, full=True) for d in domains]

    def _find(self, ident: str) -> Domain:
        for domain in self._domains.values():
            if ident in (domain.key, domain.document["node_id"], domain.document["name"]):
                return domain
        raise NotFound(f"no registration {ident!r}")

    def decide(self, ident: str, action: str, reason: str = "") -> dict[str, Any]:
        if action not in ("approve", "reject"):
            raise UsageError("action must be 'approve' or 'reject'")
        with self._lock:
            domain = self._find(ident)
            domain.status = "approved" if action == "approve" else "rejected"
            domain.reason, domain.decided_at = reason, time.time()
            self._save(domain)
        return self._summary(domain, full=True)

    def remove(self, ident: str) -> None:
        with self._lock:
            domain = self._find(ident)
            del self._domains[domain.key]
            self.settings.delete(PREFIX + domain.key)

    # -- everyone's side -------------------------------------------------------------------
    def online(self, domain: Domain, now: float | None = None) -> bool:
        if domain.key in self.tunnels:
            return True
        now = time.time() if now is None else now
        return domain.last_seen is not None and now - domain.last_seen <= self.offline_after

    def _summary(self, domain: Domain, full: bool = False) -> dict[str, Any]:
        doc = domain.document
        view = {
            "id": doc["node_id"],
            "name": doc["name"],
            "url": doc.get("url"),
            "tunnel": bool(doc.get("tunnel")),
            "description": doc.get("description", ""),
            "datasets": len(doc["datasets"]),
            "models": len(domain.models),
            "public_key": domain.key,
            "online": self.online(domain),
            "last_seen": domain.last_seen,
        }
        if full:
            view.update(
                status=domain.status,
                reason=domain.reason,
                registered_at=domain.registered_at,
                decided_at=domain.decided_at,
            )
        return view

    def _approved(self) -> list[Domain]:
        with self._lock:
            return [d for d in self._domains.values() if d.status == "approved"]

    def domains(self) -> list[dict[str, Any]]:
        return [self._summary(d) for d in sorted(self._approved(), key=lambda d: d.key)]

    def approved(self, ident: str) -> Domain:
        """An approved domain by node id, name or key; NotFound otherwise."""
        with self._lock:
            domain = self._find(ident)
        if domain.status != "approved":
            raise NotFound(f"no approved domain {ident!r}")
        return domain

    def search(self, query: str, limit: int = 500) -> dict[str, Any]:
        """Assets of every approved domain matching a tag or words; the total count and tag
        profile cover every match, the results list the first ``limit``."""
        terms = parse_query(query)
        total, profile = 0, Counter[str]()
        results: list[dict[str, Any]] = []
        domains: dict[str, dict[str, Any]] = {}
        for domain in sorted(self._approved(), key=lambda d: d.document["name"]):
            node_id = domain.document["node_id"]
            for entry in domain.entries:
                if not matches(entry, terms):
                    continue
                total += 1
                profile.update(entry.view["tags"])
                if len(results) < limit:
                    if node_id not in domains:
                        domains[node_id] = self._summary(domain)
                    results.append({**entry.view, "domain": node_id})
        return {
            "query": query,
            "total": total,
            "tags": dict(profile.most_common()),
            "domains": domains,  # by node id: each summary is sent once
            "results": results,
        }

    def models(self, query: str = "") -> list[dict[str, Any]]:
        terms = parse_query(query) if query.strip() else []
        out = []
        for domain in sorted(self._approved(), key=lambda d: d.document["name"]):
            for model in domain.models:
                entry = Entry.of(model, model.get("tags") or [])
                if not terms or matches(entry, terms):
                    out.append({**model, "domain": self._summary(domain)})
        return out


def _index(domain: Domain) -> None:
    domain.entries = index_catalog(domain.document.get("datasets") or [])
    domain.models = check_models(domain.document.get("models"))
