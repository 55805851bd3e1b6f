"""A domain's memberships: its signed registration, heartbeats, and (behind NAT) its tunnel.

``owner.join_network(url)`` reaches :meth:`Agents.join` through the domain's ``network.join``
route. The domain signs with its node key (``identity.json`` in its data directory, the key
``GET /api/v1/info`` shows), posts the registration, then a thread sends a signed heartbeat
every ``heartbeat_s`` seconds and registers again when the published datasets change. With
``tunnel=True`` it also keeps a reverse tunnel open (:mod:`unseen.server._tunnel`). The
threads stop with :meth:`Agents.leave`, or when the domain's store is closed (its server
stopped), or with the process.

Memberships survive restarts. A successful join keeps, in the domain's settings
(``network.membership.<network URL>``), the join options and the network's identity (its id and
node key); :meth:`Agents.leave` deletes it. When the domain server starts it calls
:meth:`Agents.resume`, which resumes each kept membership on a thread of its own: it checks that
the network at the URL is the one joined, sends a fresh signed heartbeat, registers again and
starts the heartbeats (and the tunnel), trying again with backoff while the network cannot be
reached. Nothing secret is kept: the domain signs with its node key (``identity.json``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import httpx

from unseen.errors import NotFound, TransportError, UnseenError, UsageError, error_from_wire
from unseen.node import (
    HEARTBEAT,
    MEMBERSHIP_PREFIX,
    REGISTER,
    Node,
    catalog_digest,
    new_document,
    public_catalog,
    sign_document,
)

log = logging.getLogger("unseen.network")

TIMEOUT_S = 10.0
RESUME_FIRST_S = 0.5  # the first pause before trying to resume a membership again
RESUME_MAX_S = 30.0  # the pauses double up to this
STORED_VERSION = 1


def post_signed(
    http: httpx.Client, path: str, document: dict[str, Any], seed: bytes
) -> dict[str, Any]:
    """POST ``document`` signed with ``seed`` to a network node; its JSON answer, or the
    network's error raised as unseen's (TransportError when it cannot be reached)."""
    try:
        response = http.post(path, json=sign_document(document, seed))
    except httpx.HTTPError as exc:
        raise TransportError(f"could not reach the network at {http.base_url}: {exc}") from None
    data = response.json() if response.content else {}
    if response.status_code != 200:
        wire = {"kind": data.get("kind", "UsageError"), "message": data.get("detail", "")}
        raise error_from_wire(wire)
    return dict(data)


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


class Gone(Exception):
    """The network no longer has this domain (removed, rejected, or another network now)."""


class Membership:
    """One domain in one network. ``network`` (the network's kept identity) makes a membership
    to resume: nothing is sent until :meth:`reconnect`."""

    def __init__(
        self,
        node: Node,
        seed: bytes,
        options: dict[str, Any],
        network: dict[str, Any] | None = None,
    ) -> None:
        self.node = node
        self.seed = seed
        self.options = options
        self.url: str = options["url"]
        self.http = httpx.Client(base_url=self.url, timeout=TIMEOUT_S)
        if network is None:
            try:
                self.network: dict[str, Any] = self._info()
            except TransportError as exc:
                self.http.close()
                raise UsageError(
                    f"could not reach a network at {self.url}: {exc.message}"
                ) from None
            self.status = "new"
        else:
            self.network = dict(network)
            self.status = "resuming"
        self.digest = ""
        self.last_error: str | None = None
        self.last_beat: float | None = None
        self._issued = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # start and stop
        self._thread: threading.Thread | None = None
        self.tunnel: Any = None

    def _info(self) -> dict[str, Any]:
        try:
            response = self.http.get("/network/v1/info")
            response.raise_for_status()
            info = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TransportError(str(exc)) from None
        if not isinstance(info, dict) or not isinstance(info.get("id"), str):
            raise TransportError("its /network/v1/info is not a network's")
        return info

    def stored(self) -> dict[str, Any]:
        """What the domain keeps to resume this membership after a restart: the join options
        and the network's identity. No secret: documents are signed with the node key."""
        return {
            "version": STORED_VERSION,
            "options": self.options,
            "network": {k: self.network.get(k) for k in ("id", "public_key", "name")},
            "joined_at": time.time(),
        }

    def reconnect(self) -> None:
        """Resume a kept membership: the network at the URL must be the one joined (same id and
        key); a fresh signed heartbeat asks whether it still knows this domain; then register
        again (the catalog may have changed while the domain was down). ``Gone`` when the
        network no longer has this domain; other errors may pass (try again later)."""
        try:
            info = self._info()
        except TransportError as exc:
            raise TransportError(
                f"could not reach the network at {self.url}: {exc.message}"
            ) from None
        pinned = (self.network.get("id"), self.network.get("public_key"))
        if (info.get("id"), info.get("public_key")) != pinned:
            raise Gone(
                f"the network at {self.url} is not the one this domain joined (its id or key "
                "changed)"
            )
        self.network = info
        answer = self._post("/network/v1/heartbeat", self.document(HEARTBEAT))
        if answer.get("status") == "unknown":
            raise Gone("the network no longer knows this domain (its owner removed it)")
        if answer.get("status") == "rejected":
            raise Gone("the network's owner rejected this domain")
        self.register()
        self.last_beat = time.time()

    # -- documents -----------------------------------------------------------------------
    def document(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._issued = max(time.time(), self._issued + 1e-3)
        return new_document(
            kind,
            self.node.public_key,
            issued_at=self._issued,
            network_id=self.network["id"],
            **fields,
        )

    def _post(self, path: str, document: dict[str, Any]) -> dict[str, Any]:
        return post_signed(self.http, path, document, self.seed)

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
        with self._lock:
            if self._stop.is_set():  # left (or stopped) meanwhile
                return
            self._thread = threading.Thread(
                target=self._run, name=f"unseen-heartbeat-{self.url}", daemon=True
            )
            self._thread.start()
            if self.options["tunnel"]:
                from unseen.server._tunnel import tunnel_client

                self.tunnel = tunnel_client(self)
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
        with self._lock:
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
            with self._lock:
                node.stores.settings.set(MEMBERSHIP_PREFIX + membership.url, membership.stored())
                mine = self._nodes.setdefault(node, {})
                old = mine.pop(membership.url, None)
                mine[membership.url] = membership
        except BaseException:
            membership.stop()
            raise
        if old is not None:
            old.stop()
        membership.start()
        if membership.tunnel is not None and membership.status == "approved":
            membership.tunnel.connected.wait(5.0)  # so that the domain is reachable at once
        return membership.view()

    def leave(self, node: Node, url: str) -> bool:
        """Stop the membership and forget it (it is not resumed at the next start)."""
        with self._lock:
            membership = self._nodes.get(node, {}).pop(url, None)
            kept = _forget(node, url)
        if membership is not None:
            membership.stop()
        return membership is not None or kept

    def memberships(self, node: Node) -> list[dict[str, Any]]:
        with self._lock:
            mine = list(self._nodes.get(node, {}).values())
        return [m.view() for m in mine]

    def of(self, node: Node) -> list[Membership]:
        """The live membership objects of a node (tests and benchmarks)."""
        with self._lock:
            return list(self._nodes.get(node, {}).values())

    # -- after a restart -------------------------------------------------------------------
    def resume(self, node: Node) -> int:
        """Resume every membership the domain kept, each on a thread of its own (returns at
        once). They are listed at once, with the status ``resuming`` until the network answers."""
        kept = {
            key[len(MEMBERSHIP_PREFIX) :]: value
            for key, value in node.stores.settings.items().items()
            if key.startswith(MEMBERSHIP_PREFIX)
        }
        if not kept:
            return 0
        try:
            seed = signing_seed(node)
        except UsageError as exc:
            log.warning("the network memberships of this domain are not resumed: %s", exc.message)
            return 0
        count = 0
        for url, record in sorted(kept.items()):
            try:
                options, network = _read_kept(url, record)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning(
                    "not resuming the membership of this domain in the network at %s: its kept "
                    "record is malformed (%s); join again, or leave it",
                    url,
                    exc,
                )
                continue
            membership = Membership(node, seed, options, network=network)
            with self._lock:
                mine = self._nodes.setdefault(node, {})
                if url in mine:  # joined (or resumed) already
                    membership.stop()
                    continue
                mine[url] = membership
            threading.Thread(
                target=self._resume,
                args=(node, membership),
                name=f"unseen-resume-{url}",
                daemon=True,
            ).start()
            count += 1
        return count

    def _resume(self, node: Node, membership: Membership) -> None:
        url, pause, told = membership.url, RESUME_FIRST_S, False
        while membership.alive():
            try:
                membership.reconnect()
            except Gone as exc:
                membership.stop()
                if self._drop(node, membership):
                    log.warning(
                        "dropped this domain's membership in the network at %s: %s. Join it "
                        "again with owner.join_network(...) if it should be a member.",
                        url,
                        exc,
                    )
                return
            except Exception as exc:
                if not membership.alive():
                    break
                problem = exc.message if isinstance(exc, UnseenError) else f"{exc!r}"
                log.log(
                    logging.DEBUG if told else logging.WARNING,
                    "could not resume this domain's membership in the network at %s yet: %s "
                    "(trying again, up to every %.0f s)",
                    url,
                    problem,
                    RESUME_MAX_S,
                )
                membership.last_error, told = problem, True
            else:
                membership.last_error = None
                membership.start()
                log.info("resumed this domain's membership in the network at %s", url)
                return
            if membership._stop.wait(pause):
                break
            pause = min(pause * 2, RESUME_MAX_S)
        membership.stop()

    def _drop(self, node: Node, membership: Membership) -> bool:
        """Forget a membership the network no longer has, unless it was replaced meanwhile."""
        with self._lock:
            mine = self._nodes.get(node, {})
            if mine.get(membership.url) is not membership:
                return False
            del mine[membership.url]
            if not domain_closed(node):
                _forget(node, membership.url)
            return True


def _forget(node: Node, url: str) -> bool:
    """Delete a kept membership; whether there was one."""
    try:
        node.stores.settings.delete(MEMBERSHIP_PREFIX + url)
    except NotFound:
        return False
    return True


def _read_kept(url: str, record: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options and network identity of a kept membership, checked."""
    if not isinstance(record, dict) or record.get("version") != STORED_VERSION:
        raise ValueError(f"not a version {STORED_VERSION} membership")
    options, network = dict(record["options"]), dict(record["network"])
    if options["url"] != url:
        raise ValueError("its URL is not the one of its key")
    for name in ("id", "public_key"):
        if not isinstance(network[name], str):
            raise ValueError(f"the network's {name} is missing")
    heartbeat = options["heartbeat_s"]
    if not isinstance(heartbeat, (int, float)) or not 0.05 <= heartbeat <= 3600:
        raise ValueError("heartbeat_s out of range")
    if not isinstance(options["tunnel"], bool):
        raise ValueError("tunnel must be true or false")
    if options["domain_url"] is None and not options["tunnel"]:
        raise ValueError("neither a domain URL nor a tunnel")
    if options["publish"] is not None:
        options["publish"] = [str(name) for name in options["publish"]]
    options["models"] = list(options["models"])
    options["description"] = str(options["description"])
    return options, network


AGENTS = Agents()
