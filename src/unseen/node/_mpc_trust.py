"""The node's ed25519 key and its owner's MPC trust policy: who may deal, who may hold shares.

Every node has a long-term ed25519 signing key: a domain server's comes from its identity
file (``Node(signing_seed=...)``), any other node's is created on its first start and kept in
its settings store. Its public key (``node.public_key``, ``client.node_key``) names the node
in MPC sessions, and the node proves it on every mesh link (:mod:`unseen.mpc.secure_link`).

The owner's policy (settings key ``mpc.trust``) lists trusted dealers (crypto providers) and
trusted peer parties by public key, each with a label. Default deny: a party shares a private
object (one the session's principal may not read) only if every other party and the dealer of
the session are in the policy. Mock and public values, and the scientist's own, need none.
Routes ``mpc.policy``, ``mpc.trust`` and ``mpc.untrust`` are for owners and admins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from unseen.errors import PermissionDenied, UsageError
from unseen.messages.mpc import (
    MPC_POLICY,
    MPC_TRUST,
    MPC_UNTRUST,
    MPCPolicy,
    MPCPolicyRequest,
    MPCTrustRequest,
    MPCUntrustRequest,
    TrustedNode,
)
from unseen.node._network import check_key_hex
from unseen.node._principal import ADMINS, Principal
from unseen.node._routes import typed_route

if TYPE_CHECKING:
    from unseen.node._node import Node
    from unseen.store import Stores

__all__ = ["signing_seed", "verify_key_hex", "policy", "check_trusted"]

SEED_KEY = "node.signing_seed"
POLICY_KEY = "mpc.trust"
ROLES = ("dealer", "party")
MAX_LABEL = 200


def verify_key_hex(seed: bytes) -> str:
    """The ed25519 public key of a 32-byte seed, as 64 hex digits ("" when neither PyNaCl nor
    cryptography is installed: such a node cannot take part in MPC)."""
    try:
        from nacl.signing import SigningKey

        return bytes(SigningKey(seed).verify_key).hex()
    except ImportError:
        pass
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    except ImportError:
        return ""
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signing_seed(stores: Stores, given: bytes | None) -> bytes:
    """``given``, or the seed kept in the settings store (created on the first start)."""
    if given is not None:
        if not isinstance(given, bytes) or len(given) != 32:
            raise UsageError("a node's signing_seed is 32 bytes (an ed25519 seed)")
        return given
    stored = stores.settings.get(SEED_KEY)
    if stored is None:
        stored = stores.settings.setdefault(SEED_KEY, os.urandom(32).hex())
    seed = bytes.fromhex(str(stored))
    if len(seed) != 32:
        raise UsageError(f"the node's stored {SEED_KEY!r} is damaged: it must be 32 bytes")
    return seed


def check_key(value: Any) -> str:
    """A node public key as 64 lower-case hex digits; UsageError otherwise."""
    return check_key_hex(value)


def policy(node: Node) -> dict[str, dict[str, str]]:
    """``{"dealer": {key: label}, "party": {key: label}}`` (copies)."""
    raw = node.stores.settings.get(POLICY_KEY) or {}
    return {role: dict(raw.get(role) or {}) for role in ROLES}


def _view(node: Node) -> MPCPolicy:
    current = policy(node)

    def listed(role: str) -> list[TrustedNode]:
        return [TrustedNode(key=k, label=v) for k, v in sorted(current[role].items())]

    return MPCPolicy(node_key=node.public_key, dealers=listed("dealer"), parties=listed("party"))


def _role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"an MPC trust role is 'dealer' or 'party', not {role!r}")
    return role


@typed_route(MPC_POLICY, ADMINS)
def show(node: Node, principal: Principal, request: MPCPolicyRequest) -> MPCPolicy:
    """This node's key and the MPC peers and dealers its owner trusts."""
    return _view(node)


@typed_route(MPC_TRUST, ADMINS)
def trust(node: Node, principal: Principal, request: MPCTrustRequest) -> MPCPolicy:
    role = _role(request.role)
    key = check_key(request.key)
    if key == node.public_key:
        raise UsageError("this is the node's own key: a node always trusts itself")
    label = request.label or key[:12]
    if len(label) > MAX_LABEL:
        raise UsageError(f"a trust label has at most {MAX_LABEL} characters")
    current = policy(node)
    current[role][key] = label
    node.stores.settings.set(POLICY_KEY, current)
    node.audit(principal, f"mpc.trust.{role}", f"{key} ({label})")
    return _view(node)


@typed_route(MPC_UNTRUST, ADMINS)
def untrust(node: Node, principal: Principal, request: MPCUntrustRequest) -> MPCPolicy:
    role = _role(request.role)
    key = check_key(request.key)
    current = policy(node)
    if current[role].pop(key, None) is not None:
        node.stores.settings.set(POLICY_KEY, current)
        node.audit(principal, f"mpc.untrust.{role}", key)
    return _view(node)


def check_trusted(node: Node, keys: Sequence[str], names: Sequence[str], me: int) -> None:
    """PermissionDenied unless every other endpoint of the session (parties ``0..n-1``, the
    dealer ``n``) is in this node's policy; the error names the first untrusted one."""
    current = policy(node)
    n = len(keys) - 1
    for ep, key in enumerate(keys):
        if ep == me:
            continue
        role = "dealer" if ep == n else "party"
        if key not in current[role]:
            what = "crypto provider (dealer)" if role == "dealer" else "party"
            raise PermissionDenied(
                f"the {what} {names[ep]!r} (node key {key[:12]}...) is not trusted by "
                f"{node.name!r} for MPC on its private data, so nothing was shared. Its owner "
                f"decides: owner.mpc.trust({role}=<client of that node, or its node key>, "
                "label=...); a scientist cannot pick the dealer or the parties of private data"
            )
