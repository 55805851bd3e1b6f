"""A domain's memberships: its signed registration, heartbeats, and (behind NAT) its tunnel.

``owner.join_network(url)`` reaches :meth:`Agents.join` through the domain's ``network.join``
route. The domain signs with its node key (``identity.json`` in its data directory, the key
``GET /api/v1/info`` shows), posts the registration, then a thread sends a signed heartbeat
every ``heartbeat_s`` seconds and registers again when the published datasets change. With
``tunnel=True`` it also keeps a reverse tunnel open (:mod:`unseen.network._tunnel`). The
threads stop with :meth:`Agents.leave`, or when the domain's store is closed (its server
stopped), or with the process.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import httpx

from unseen.errors import TransportError, UnseenError, UsageError, error_from_wire
from unseen.node import Node
from unseen.node._network import (
    DOC_VERSION,
    HEARTBEAT,
    REGISTER,
    catalog_digest,
    public_catalog,
    sign_document,
)

TIMEOUT_S = 10.0


def signing_seed(node: Node) -> bytes:
    """The node's ed25519 seed, from the identity file of its data directory; checked against
    the public key the node shows."""
    from unseen.server._identity import FILE_NAME, load_or_create

    blobs = getattr(node.stores, "blobs", None)
    root = getattr(blobs, "root", None)
    if root is None or not (Path(root).parent / FILE_NAME).exists():
        raise UsageError(
            "only a launched domain (unseen launch domain / unseen.launch_domain) has a node key "
            "to sign a registration with; an in-process node cannot join a network"
        )
    identity, _ = load_or_create(Path(root).parent)
    if identity.public_key != node.public_key:
        raise UsageError("the identity file does not match this node's public key: refused")
    return identity.signing_seed


def domain_closed(node: Node) -> bool:
    """True once the domain's SQL store was closed (its server stopped)."""
    return getattr(node.stores, "_lock", "open") is None


class Membership:
    """One domain in one network."""

    def __init__(self, node: Node, seed: bytes, options: dict[str, Any]) -> None:
        self.node = node
        self.seed = seed
        self.options = options
        self.url: str = options["url"]
        self.http = httpx.Client(base_url=self.url, timeout=TIMEOUT_S)
        try:
            info = self.http.get("/network/v1/info")
            info.raise_for_status()
            self.network: dict[str, Any] = info.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.http.close()
            raise UsageError(f"could not reach a network at {self.url}: {exc}") from None
        self.status = "new"
        self.digest = ""
        self.last_error: str | None = None
        self.last_beat: float | None = None
        self._issued = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tunnel: Any = None

    # -- documents -----------------------------------------------------------------------
    def document(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._issued = max(time.time(), self._issued + 1e-3)
        return {
            "type": kind,
            "version": DOC_VERSION,
            "network_id": self.network["id"],
            "public_key": self.node.public_key,
            "issued_at": self._issued,
            "nonce": secrets.token_hex(16),
            **fields,
        }

    def _post(self, path: str, document: dict[str, Any]) -> dict[str, Any]:
        signed = sign_document(document, self.seed)
        try:
            response = self.http.post(path, json=signed)
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach the network at {self.url}: {exc}") from None
        data = response.json() if response.content else {}
        if response.status_code != 200:
            wire = {"kind": data.get("kind", "UsageError"), "message": data.get("detail", "")}
            raise error_from_wire(wire)
        return dict(data)

    def register(self) -> dict[str, Any]:
        publish = self.options["publish"]
        digest = catalog_digest(self.node, publish)
        document = self.document(
            REGISTER,
            node_id=self.node.id,
            name=self.node.name,
            url=self.options["domain_url"],
            tunnel=bool(self.options["tunnel"]),
            description=self.options["description"],
            datasets=public_catalog(self.node, publish),
            models=self.options["models"],
            digest=digest,
        )
        result = self._post("/network/v1/register", document)
        self.status, self.digest = str(result["status"]), digest
        return result

    def beat(self) -> None:
        if catalog_digest(self.node, self.options["publish"]) != self.digest:
            self.register()
            return
        result = self._post("/network/v1/heartbeat", self.document(HEARTBEAT))
        if result.get("status") == "unknown":  # the network forgot us: register again
            self.register()
        else:
            self.status = str(result["status"])
        self.last_beat = time.time()

    # -- threads -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"unseen-heartbeat-{self.url}", daemon=True
        )
        self._thread.start()
        if self.options["tunnel"]:
            from unseen.network._tunnel import TunnelClient

            self.tunnel = TunnelClient(self)
            self.tunnel.start()

    def alive(self) -> bool:
        return not self._stop.is_set() and not domain_closed(self.node)

    def _run(self) -> None:
        while not self._stop.wait(self.options["heartbeat_s"]):
            if domain_closed(self.node):
                break
            try:
                self.beat()
                self.last_error = None
            except UnseenError as exc:
                self.last_error = exc.message
            except Exception as exc:  # never let the heartbeat thread die
                self.last_error = f"{type(exc).__name__}: {exc}"
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self.tunnel is not None:
            self.tunnel.stop()
        self.http.close()

    def view(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "network": self.network.get("name"),
            "status": self.status,
            "tunnel": bool(self.options["tunnel"]),
            "tunnel_open": bool(self.tunnel is not None and self.tunnel.connected.is_set()),
            "heartbeat_s": self.options["heartbeat_s"],
            "last_beat": self.last_beat,
            "last_error": self.last_error,
            "running": self.alive(),
        }


class Agents:
    """The memberships of every domain in this process (installed into ``unseen.node``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: weakref.WeakKeyDictionary[Node, dict[str, Membership]] = (
            weakref.WeakKeyDictionary()
        )

    def join(self, node: Node, options: dict[str, Any]) -> dict[str, Any]:
        seed = signing_seed(node)
        membership = Membership(node, seed, options)
        try:
            membership.register()
        except BaseException:
            membership.stop()
            raise
        with self._lock:
            mine = self._nodes.setdefault(node, {})
            old = mine.pop(membership.url, None)
            mine[membership.url] = membership
        if old is not None:
            old.stop()
        membership.start()
        if membership.tunnel is not None and membership.status == "approved":
            membership.tunnel.connected.wait(5.0)  # so that the domain is reachable at once
        return membership.view()

    def leave(self, node: Node, url: str) -> bool:
        with self._lock:
            membership = self._nodes.get(node, {}).pop(url, None)
        if membership is None:
            return False
        membership.stop()
        return True

    def memberships(self, node: Node) -> list[dict[str, Any]]:
        with self._lock:
            mine = list(self._nodes.get(node, {}).values())
        return [m.view() for m in mine]

    def of(self, node: Node) -> list[Membership]:
        """The live membership objects of a node (tests and benchmarks)."""
        with self._lock:
            return list(self._nodes.get(node, {}).values())


AGENTS = Agents()
