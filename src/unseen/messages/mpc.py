"""The typed ``mpc.*`` kinds: a node's part in an MPC session, and its owner's trust policy.

Session kinds (``mpc.join``, ``mpc.mesh``, ``mpc.input``, ``mpc.request``, ``mpc.leave``) are
sent by the scientist's process, the orchestrator; the trust kinds (``mpc.policy``,
``mpc.trust``, ``mpc.untrust``) by a node's owners and admins. Node keys are ed25519 public
keys, 64 hex digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "MPCLink",
    "MPCJoinRequest",
    "MPCJoined",
    "MPCMeshRequest",
    "MPCInputRequest",
    "MPCInputLoaded",
    "MPCReleaseRequest",
    "MPCLeaveRequest",
    "MPCPolicyRequest",
    "MPCTrustRequest",
    "MPCUntrustRequest",
    "TrustedNode",
    "MPCPolicy",
    "MPC_JOIN",
    "MPC_MESH",
    "MPC_INPUT",
    "MPC_REQUEST",
    "MPC_LEAVE",
    "MPC_POLICY",
    "MPC_TRUST",
    "MPC_UNTRUST",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class MPCLink:
    """How an endpoint links with the others: ``"local"`` (the session's in-process hub) or
    ``"tcp"`` (the encrypted mesh of domain servers, authenticated by ``token``)."""

    kind: str = "local"
    token: str | None = None


@dataclass(frozen=True, kw_only=True)
class MPCJoinRequest:
    """Take part in session ``session`` of ``n`` parties as ``role`` ("party", with its
    ``rank``, or "dealer"). ``keys`` and ``names`` describe the session's nodes: the parties by
    rank, then the dealer."""

    session: str
    n: int
    frac_bits: int = 16
    timeout: float = 60.0
    keys: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    role: str
    rank: int | None = None
    comm: MPCLink | None = None  # None: the in-process hub


@dataclass(frozen=True, kw_only=True)
class MPCJoined:
    """A node's runtime started; ``address`` (``[host or None, port]``) is its mesh listener
    in a remote session (a None host: use the node's URL's)."""

    node: str
    node_id: str
    role: str
    address: list[Any] | None = None


@dataclass(frozen=True, kw_only=True)
class MPCMeshRequest:
    """Every other endpoint's mesh address: ``{str(endpoint): [host, port]}``."""

    session: str
    peers: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class MPCInputRequest:
    """Load object ``object_id`` as the party's input ``name``; ``shape`` is its public shape."""

    session: str
    object_id: str
    name: str
    shape: list[int]


@dataclass(frozen=True, kw_only=True)
class MPCInputLoaded:
    shape: list[int]
    dtype: str  # "float64", "float32", ...


@dataclass(frozen=True, kw_only=True)
class MPCReleaseRequest:
    """Ask the node's owner to release share ``sid`` (an MPC result) of the session."""

    session: str
    sid: str
    name: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MPCLeaveRequest:
    session: str


@dataclass(frozen=True, kw_only=True)
class MPCPolicyRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class MPCTrustRequest:
    """Trust the node of ``key`` as ``role`` ("dealer" or "party"); ``label`` names it."""

    role: str
    key: str
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class MPCUntrustRequest:
    role: str
    key: str


@dataclass(frozen=True, kw_only=True)
class TrustedNode:
    key: str
    label: str


@dataclass(frozen=True, kw_only=True)
class MPCPolicy:
    """A node's key and the dealers (crypto providers) and parties its owner trusts."""

    node_key: str
    dealers: list[TrustedNode]
    parties: list[TrustedNode]

    def __repr__(self) -> str:
        def listed(nodes: list[TrustedNode]) -> str:
            return ", ".join(f"{t.label!r} ({t.key[:12]}...)" for t in nodes) or "none"

        return (
            f"MPC trust policy of node {self.node_key[:12]}...\n"
            f"  dealers: {listed(self.dealers)}\n"
            f"  parties: {listed(self.parties)}"
        )


MPC_JOIN: Kind[MPCJoinRequest, MPCJoined] = Kind("mpc.join", MPCJoinRequest, MPCJoined)
MPC_MESH: Kind[MPCMeshRequest, None] = Kind("mpc.mesh", MPCMeshRequest, None)
MPC_INPUT: Kind[MPCInputRequest, MPCInputLoaded] = Kind(
    "mpc.input", MPCInputRequest, MPCInputLoaded
)
#: the reply is the created request's view (as ``request.create`` answers it), or None when
#: the result derives from nothing on the node
MPC_REQUEST: Kind[MPCReleaseRequest, dict[str, Any] | None] = Kind(
    "mpc.request", MPCReleaseRequest, dict[str, Any] | None
)
MPC_LEAVE: Kind[MPCLeaveRequest, None] = Kind("mpc.leave", MPCLeaveRequest, None)
MPC_POLICY: Kind[MPCPolicyRequest, MPCPolicy] = Kind("mpc.policy", MPCPolicyRequest, MPCPolicy)
MPC_TRUST: Kind[MPCTrustRequest, MPCPolicy] = Kind("mpc.trust", MPCTrustRequest, MPCPolicy)
MPC_UNTRUST: Kind[MPCUntrustRequest, MPCPolicy] = Kind("mpc.untrust", MPCUntrustRequest, MPCPolicy)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    MPC_JOIN,
    MPC_MESH,
    MPC_INPUT,
    MPC_REQUEST,
    MPC_LEAVE,
    MPC_POLICY,
    MPC_TRUST,
    MPC_UNTRUST,
)
