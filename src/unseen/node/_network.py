"""A domain's side of networks: signed documents, public catalogs, and the ``network.*`` routes.

A domain joins a network by sending a *registration*: a plain JSON document (its name, node id,
ed25519 public key, URL, description and the public metadata of its datasets and models),
signed with the domain's node key. :func:`canonical` fixes the bytes that are signed, so that the
network (``unseen.network``) and scientists' clients verify exactly what the domain signed.

Only metadata leaves: dataset and asset names, descriptions, tags, citation, kind, shape and
dtypes. Never values, never mocks. Every dataset is published unless the owner names the ones to
publish (``join_network(url, publish=[...])``, or ``publish=[]`` for none).

The work of a membership (sending the registration, heartbeats, the reverse tunnel) needs HTTP
and WebSocket clients and the node's signing key, which live in a higher layer: the domain
server's app (``unseen.server.create_app``) installs its agents here with :func:`install_agents`.
These routes only check their input and hand over.

A membership outlives the domain's process: the agents keep each one that joined in the
domain's settings (:data:`MEMBERSHIP_PREFIX` + the network's URL) until it leaves, and the
domain server calls :func:`resume_memberships` once it serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any, Protocol

from unseen.errors import AuthError, NotFound, UsageError
from unseen.node._principal import ADMINS, Principal
from unseen.node._routes import field, route, str_list

if TYPE_CHECKING:
    from unseen.node._node import Node

#: version of the signed documents; the network refuses others
DOC_VERSION = 1
#: how far the issue time of a document may be from the receiver's clock (seconds)
CLOCK_SKEW_S = 300.0
MAX_TEXT = 4000
MAX_MODELS = 200

REGISTER = "unseen.network.register"
HEARTBEAT = "unseen.network.heartbeat"
TUNNEL = "unseen.network.tunnel"

#: a domain's settings key of one network membership it resumes when it starts (+ the URL)
MEMBERSHIP_PREFIX = "network.membership."

log = logging.getLogger("unseen.network")


# -- signed documents ---------------------------------------------------------------------
def canonical(document: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (floats as JSON writes them)."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def new_document(
    kind: str, public_key: str, *, issued_at: float | None = None, **fields: Any
) -> dict[str, Any]:
    """A document of ``public_key`` to sign with :func:`sign_document`: its ``kind``, the format
    version, when it was issued (now unless ``issued_at``), a fresh nonce, and ``fields``."""
    return {
        "type": kind,
        "version": DOC_VERSION,
        "public_key": public_key,
        "issued_at": time.time() if issued_at is None else issued_at,
        "nonce": secrets.token_hex(16),
        **fields,
    }


def sign_document(document: dict[str, Any], signing_seed: bytes) -> dict[str, Any]:
    """``{"document": ..., "signature": hex}`` signed with an ed25519 seed (32 bytes)."""
    from nacl.signing import SigningKey

    signature = SigningKey(signing_seed).sign(canonical(document)).signature
    return {"document": document, "signature": bytes(signature).hex()}


def check_key_hex(key: Any) -> str:
    """An ed25519 public key as 64 hex digits; UsageError otherwise."""
    if not isinstance(key, str) or len(key) != 64:
        raise UsageError("a node key is 64 hex digits (an ed25519 public key)")
    try:
        bytes.fromhex(key)
    except ValueError:
        raise UsageError("a node key is 64 hex digits (an ed25519 public key)") from None
    return key.lower()


def verify_document(signed: Any, kind: str) -> dict[str, Any]:
    """The document of a signed ``kind`` document whose signature verifies under the public
    key it names; ``AuthError`` for a bad signature, ``UsageError`` for a malformed one."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    if not isinstance(signed, dict) or not isinstance(signed.get("document"), dict):
        raise UsageError("a signed document is {'document': {...}, 'signature': hex}")
    document: dict[str, Any] = signed["document"]
    if document.get("type") != kind or document.get("version") != DOC_VERSION:
        raise UsageError(f"expected a {kind!r} document of version {DOC_VERSION}")
    key = check_key_hex(document.get("public_key"))
    signature = signed.get("signature")
    try:
        raw = bytes.fromhex(signature) if isinstance(signature, str) else b""
        VerifyKey(bytes.fromhex(key)).verify(canonical(document), raw)
    except (BadSignatureError, ValueError, TypeError):
        raise AuthError(
            "the signature does not verify under the key the document names: refused"
        ) from None
    issued = document.get("issued_at")
    if not isinstance(issued, (int, float)) or not math.isfinite(issued):
        raise UsageError("a signed document needs a numeric 'issued_at'")
    nonce = document.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise UsageError("a signed document needs a 'nonce' of 16 to 64 characters")
    return document


def curve_public_key(ed25519_hex: str) -> bytes:
    """The X25519 public key of a node, derived from its ed25519 key (for sealed tunnels)."""
    from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519

    return bytes(crypto_sign_ed25519_pk_to_curve25519(bytes.fromhex(check_key_hex(ed25519_hex))))


def curve_secret_key(signing_seed: bytes) -> bytes:
    """The X25519 secret key matching :func:`curve_public_key`, from the ed25519 seed."""
    from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519
    from nacl.signing import SigningKey

    signing = SigningKey(signing_seed)
    full = bytes(signing) + bytes(signing.verify_key)
    return bytes(crypto_sign_ed25519_sk_to_curve25519(full))


# -- the public catalog ---------------------------------------------------------------------
def _asset_meta(node: Node, object_id: str) -> dict[str, Any]:
    try:
        record = node.stores.objects.get(object_id)
    except NotFound:
        return {"tags": [], "meta": {}}
    meta = record.public_meta
    keep = {k: meta[k] for k in ("family", "shape", "dtype", "dtypes", "columns") if k in meta}
    if "shape" in keep:
        keep["shape"] = list(keep["shape"])
    return {"tags": list(record.tags), "meta": keep}


def public_catalog(node: Node, publish: list[str] | None) -> list[dict[str, Any]]:
    """Public metadata of the datasets to publish (all when ``publish`` is None): no values,
    no mocks."""
    out = []
    for dataset in sorted(node.stores.datasets.list(), key=lambda d: d.created_at):
        if publish is not None and dataset.name not in publish:
            continue
        assets = []
        for asset in dataset.assets:
            found = _asset_meta(node, asset.object_id)
            assets.append(
                {
                    "name": asset.name,
                    "object_id": asset.object_id,
                    "description": asset.description,
                    "tags": found["tags"],
                    **found["meta"],
                }
            )
        out.append(
            {
                "name": dataset.name,
                "description": dataset.description,
                "tags": list(dataset.tags),
                "citation": dataset.citation,
                "assets": assets,
            }
        )
    return out


def catalog_digest(node: Node, publish: list[str] | None) -> str:
    """A digest of what a catalog would hold, cheap to compute (ids and names only)."""
    items = sorted(
        (d.id, d.name) for d in node.stores.datasets.list() if publish is None or d.name in publish
    )
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:32]


def check_models(value: Any) -> list[dict[str, Any]]:
    """Model metadata to publish: a list of maps of short strings (and lists of strings)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or len(value) > MAX_MODELS:
        raise UsageError(f"models must be a list of at most {MAX_MODELS} maps")
    out = []
    for model in value:
        if not isinstance(model, dict) or not isinstance(model.get("name"), str):
            raise UsageError("each model is a map with at least a 'name'")
        clean: dict[str, Any] = {}
        for key, item in model.items():
            if isinstance(item, str) and len(item) <= MAX_TEXT:
                clean[str(key)] = item
            elif isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item):
                clean[str(key)] = [str(t) for t in item][:100]
            elif isinstance(item, bool) or (isinstance(item, (int, float)) and math.isfinite(item)):
                clean[str(key)] = item
            else:
                raise UsageError(
                    f"model {model['name']!r}: {key!r} must be text, a number or a list of text "
                    "(models are published as metadata only)"
                )
        out.append(clean)
    return out


# -- the hand-over to the domain server ---------------------------------------------------------
class NetworkAgents(Protocol):
    """What the domain server (``unseen.server``) provides to a domain: join, leave, list and (when the domain
    starts) resume its networks."""

    def join(self, node: Node, options: dict[str, Any]) -> dict[str, Any]: ...
    def leave(self, node: Node, url: str) -> bool: ...
    def memberships(self, node: Node) -> list[dict[str, Any]]: ...
    def resume(self, node: Node) -> int: ...


_AGENTS: list[NetworkAgents] = []


def install_agents(agents: NetworkAgents) -> None:
    """Called by the domain server's ``create_app``: from then on, domains may join networks."""
    _AGENTS[:] = [agents]


def _agents() -> NetworkAgents:
    if not _AGENTS:
        raise UsageError(
            "this domain's process cannot join networks: only a launched domain can "
            "(`unseen launch domain`, or unseen.launch_domain(...))"
        )
    return _AGENTS[0]


def resume_memberships(node: Node) -> int:
    """Resume, in the background, every network membership the domain kept (called by the
    domain server once it serves; never blocks on a network). The number being resumed."""
    try:
        if _AGENTS:
            return _AGENTS[0].resume(node)
        kept = [key for key in node.stores.settings.items() if key.startswith(MEMBERSHIP_PREFIX)]
    except Exception:  # a domain serves even when its memberships cannot be read
        log.exception("could not resume this domain's network memberships")
        return 0
    if kept:
        log.warning(
            "%d network membership(s) of this domain are not resumed: this process cannot join "
            "networks (only a launched domain can: unseen.launch_domain(...))",
            len(kept),
        )
    return 0


def _url(body: dict[str, Any], name: str = "url") -> str:
    url = field(body, name, str).strip().rstrip("/")
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
        raise UsageError(f"{name} must be an http:// or https:// URL, not {url!r}")
    return url


@route("network.join", ADMINS)
def join(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    url = _url(body)
    domain_url = _url(body, "domain_url") if body.get("domain_url") else None
    publish = None if body.get("publish") is None else str_list(body, "publish")
    heartbeat = float(field(body, "heartbeat_s", (int, float), default=10.0))
    if not 0.05 <= heartbeat <= 3600:
        raise UsageError("heartbeat_s must be between 0.05 and 3600 seconds")
    options = {
        "url": url,
        "domain_url": domain_url,
        "description": field(body, "description", str, default="")[:MAX_TEXT],
        "publish": publish,
        "models": check_models(body.get("models")),
        "tunnel": field(body, "tunnel", bool, default=False),
        "heartbeat_s": heartbeat,
    }
    if domain_url is None and not options["tunnel"]:
        raise UsageError(
            "the network needs this domain's public URL (domain_url=...), or tunnel=True for a "
            "domain behind NAT that scientists reach through the network"
        )
    result = _agents().join(node, options)
    node.audit(principal, "network.join", url)
    return result


@route("network.leave", ADMINS)
def leave(node: Node, principal: Principal, body: dict[str, Any]) -> bool:
    url = _url(body)
    left = _agents().leave(node, url)
    if left:
        node.audit(principal, "network.leave", url)
    return left


@route("network.list", ADMINS)
def memberships(node: Node, principal: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
    return _agents().memberships(node) if _AGENTS else []
