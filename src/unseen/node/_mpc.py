"""MPC on nodes: a node hosts a party (or the dealer) of a scientist's MPC session.

The scientist's process orchestrates (``unseen.share``); each party is a
:class:`NodeParty` kept by its node, and the crypto provider's node keeps the
:class:`~unseen.mpc.Dealer`. Shares and openings go party to party, never through the
scientist. A node loads an object the caller may use as a plaintext input by its id
(``mpc.input``): private data never leaves the node, only its shares do.

The release rule, MPC edition: each party tracks the lineage of every share id (the
private objects it derives from, as ``(owner rank, object id)``), through every command.
A party releases its share of a value to the orchestrator only if, for every source that
lives on ITS node, the session's principal may read it, or the owner accepted a request
for this very MPC result (``mpc.request``, a stand-in object under the usual request
routes). Reconstruction needs every share, so it needs every source node's release.

Private data is shared only with parties and a dealer that the node's owner trusts, by node
key (:mod:`unseen.node._mpc_trust`): ``mpc.join`` carries the session's node keys, the links
are bound to them, and ``mpc.input`` checks the owner's policy before anything is loaded.

Nodes of one process link through the session's in-process hub; domain servers reached over
the network join an encrypted TCP mesh (``comm = {"kind": "tcp", ...}`` in ``mpc.join``, then
``mpc.mesh`` with the addresses; see :mod:`unseen.node._mpc_mesh`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unseen.errors import NotFound, PermissionDenied, RemoteError, UnseenError, UsageError
from unseen.messages.mpc import (
    MPC_INPUT,
    MPC_JOIN,
    MPC_LEAVE,
    MPC_MESH,
    MPC_REQUEST,
    MPCInputLoaded,
    MPCInputRequest,
    MPCJoined,
    MPCJoinRequest,
    MPCLeaveRequest,
    MPCLink,
    MPCMeshRequest,
    MPCReleaseRequest,
)
from unseen.node._policy import check_use, may_read
from unseen.node._principal import MEMBERS, Principal
from unseen.node._routes import route_of, typed_route
from unseen.store import ObjectRecord

if TYPE_CHECKING:
    import torch

    from unseen.mpc import Dealer
    from unseen.mpc.comm import Comm
    from unseen.node._mpc_mesh import PendingMesh
    from unseen.node._mpc_party import NodeParty
    from unseen.node._node import Node

MAX_PARTIES = 64

log = logging.getLogger("unseen.node")


@dataclass
class Runtime:
    """What a node keeps for one MPC session it takes part in."""

    user_id: str
    role: str
    thread: threading.Thread
    party: NodeParty | None = None
    dealer: Dealer | None = None
    mesh: PendingMesh | None = None  # remote sessions: the node's place in the TCP mesh
    keys: tuple[str, ...] = ()  # node keys of the parties (by rank), then the dealer
    names: tuple[str, ...] = ()  # their names, for messages
    endpoint: int = 0
    hub_identities: dict[int, str] | None = None  # in-process sessions: who joined the hub


_RUNTIMES: weakref.WeakKeyDictionary[Node, dict[str, Runtime]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


_HOSTS: weakref.WeakKeyDictionary[Node, str] = weakref.WeakKeyDictionary()


def serve_mesh_on(node: Node, host: str) -> None:
    """Open this node's MPC mesh listeners on ``host`` (a server calls it with its own host;
    without it a node listens on loopback only)."""
    _HOSTS[node] = host


def listen_host(node: Node) -> str:
    return _HOSTS.get(node, "127.0.0.1")


def _sessions(node: Node) -> dict[str, Runtime]:
    with _LOCK:
        return _RUNTIMES.setdefault(node, {})


def _runtime(node: Node, principal: Principal, session: str) -> Runtime:
    found = _sessions(node).get(session)
    if found is None or found.user_id != principal.user_id:
        raise NotFound(f"this node takes part in no MPC session {session!r} of yours")
    return found


def _identities(request: MPCJoinRequest) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The session description's node keys and names: parties by rank, then the dealer."""
    from unseen.node._mpc_trust import check_key

    n, keys, names = request.n, request.keys, request.names
    if len(keys) != n + 1:
        raise UsageError(
            f"mpc.join needs 'keys': the node keys of the {n} parties and the dealer "
            "(upgrade the client)"
        )
    if len(names) != n + 1:
        names = [k[:12] for k in keys]
    checked = tuple(check_key(k) for k in keys)
    if len(set(checked)) != len(checked):
        raise UsageError("the parties and the dealer of an MPC session must be distinct nodes")
    return checked, tuple(str(x)[:100] for x in names)


def check_own_key(node: Node, keys: tuple[str, ...], endpoint: int) -> None:
    """UsageError unless the session names this node's own key at its endpoint."""
    if not node.public_key:
        raise UsageError(
            f"{node.name!r} has no node key: install unseen[mpc] (cryptography) or PyNaCl "
            "on the node to take part in MPC"
        )
    if keys[endpoint] != node.public_key:
        raise UsageError(
            f"the MPC session names another node key for {node.name!r} "
            f"({keys[endpoint][:12]}...; this node's is {node.public_key[:12]}...)"
        )


def _comm(
    node: Node, link: MPCLink, session: str, endpoint: int, n: int, timeout: float,
    keys: tuple[str, ...],
) -> tuple[Comm, PendingMesh | None, dict[int, str] | None]:  # fmt: skip
    """The endpoint's comm: the in-process hub's, or a mesh endpoint for a remote session."""
    from unseen.mpc.comm_local import find_hub
    from unseen.node._mpc_mesh import PendingMesh

    if link.kind == "tcp":
        mesh = PendingMesh(node, link.token, endpoint, n, timeout, keys)
        return mesh.comm, mesh, None
    if link.kind != "local":
        raise UsageError(
            f"unknown MPC link kind {link.kind!r}; this node supports 'local' and 'tcp'"
        )
    hub = find_hub(session)
    if hub.n_parties != n:
        raise UsageError("the session's hub has another number of parties")
    if endpoint in hub.identities:
        raise UsageError("this endpoint of the session's hub is taken")
    hub.identities[endpoint] = node.public_key
    return hub.comm(endpoint), None, hub.identities


def _thread(mesh: PendingMesh | None, serve: Callable[[], None], name: str) -> threading.Thread:
    target = serve if mesh is None else (lambda: mesh.run(serve))
    return threading.Thread(target=target, daemon=True, name=name)


@typed_route(MPC_JOIN, MEMBERS)
def join(node: Node, principal: Principal, request: MPCJoinRequest) -> MPCJoined:
    session, role, n = request.session, request.role, request.n
    if len(session) < 16:
        raise UsageError("an MPC session id must be at least 16 characters (make it random)")
    if not 2 <= n <= MAX_PARTIES:
        raise UsageError(f"an MPC session has 2 to {MAX_PARTIES} parties, not {n}")
    from unseen.mpc import Dealer, FixedPoint
    from unseen.node._mpc_party import NodeParty

    frac_bits, timeout = request.frac_bits, request.timeout
    FixedPoint(frac_bits)  # range check
    sessions = _sessions(node)
    if session in sessions:
        raise UsageError("this node takes part in this MPC session already: one role per node")
    if role not in ("party", "dealer"):
        raise UsageError(f"an MPC role is 'party' or 'dealer', not {role!r}")
    endpoint = n
    if role == "party":
        if request.rank is None:
            raise UsageError("the message needs the field 'rank'")
        endpoint = request.rank
        if not 0 <= endpoint < n:
            raise UsageError(f"party rank {endpoint} out of range for {n} parties")
    keys, names = _identities(request)
    check_own_key(node, keys, endpoint)
    link = request.comm or MPCLink()
    comm, mesh, hub_ids = _comm(node, link, session, endpoint, n, timeout, keys)
    party: NodeParty | None = None
    dealer: Dealer | None = None
    if role == "party":
        party = NodeParty(node, principal.user_id, session, comm, endpoint, n, frac_bits, names)
        thread = _thread(mesh, party.serve, f"mpc-{node.name}-{endpoint}")
    else:
        dealer = Dealer(comm, n)
        thread = _thread(mesh, dealer.serve, f"mpc-{node.name}-dealer")
    runtime = Runtime(
        principal.user_id, role, thread, party=party, dealer=dealer, mesh=mesh, keys=keys,
        names=names, endpoint=endpoint, hub_identities=hub_ids,
    )  # fmt: skip
    with _LOCK:
        sessions[session] = runtime
    thread.start()
    node.audit(principal, f"mpc.join.{role}", session)
    address = None if mesh is None else mesh.address()
    return MPCJoined(node=node.name, node_id=node.id, role=role, address=address)


@typed_route(MPC_MESH, MEMBERS)
def mesh(node: Node, principal: Principal, request: MPCMeshRequest) -> None:
    """A remote session's address table: the runtime joins the mesh in its own thread."""
    from unseen.node._mpc_mesh import parse_peers

    runtime = _runtime(node, principal, request.session)
    if runtime.mesh is None:
        raise UsageError("this MPC session is in-process: it has no mesh to join")
    me = runtime.mesh.me
    runtime.mesh.start(parse_peers(request.peers, me, runtime.mesh.n))


@typed_route(MPC_INPUT, MEMBERS)
def load_input(node: Node, principal: Principal, request: MPCInputRequest) -> MPCInputLoaded:
    """Load an object the caller may use into the party's plaintext inputs (it stays here).

    On data the caller may not read, whether the value can be loaded is private: a failed
    result, a shape other than the declared one, or a value outside the fixed-point range
    loads zeros of the declared shape instead, with the same reply and the same work, and
    poisons the input: nothing derived from it is released (``NodeParty.load``). The
    owner's log says what happened. On readable data the errors say what is wrong."""
    runtime = _runtime(node, principal, request.session)
    party = runtime.party
    if party is None:
        raise UsageError("the crypto provider holds no inputs: share from a party's node")
    object_id, name = request.object_id, request.name
    record = node.stores.objects.get(object_id)
    check_use(principal, record)
    private = not may_read(principal, record)
    if private:  # private data: only to nodes the owner trusts
        _check_members(node, runtime)
    declared = _declared_shape(node, request.shape)
    value, dtype, problem = _value(node, party, record, declared)
    if problem is not None:
        if not private:
            raise problem
        log.warning(
            "MPC input %s of user %s (session %s) loads as zeros of the declared shape %s: %s; "
            "nothing derived from it will be released",
            object_id, principal.user_id, party.session[:8], declared, problem.message,
        )  # fmt: skip
        import torch

        value = torch.zeros(declared, dtype=dtype)
        party.ctx.fp.encode(value, warn=False)  # the check a value gets, on the stand-in
    assert value is not None
    party.load(name, value, object_id, poisoned=problem is not None)
    node.audit(principal, "mpc.input", object_id)
    dtype_name = str(value.dtype).replace("torch.", "")
    return MPCInputLoaded(shape=list(value.shape), dtype=dtype_name)


def _declared_shape(node: Node, declared: list[int]) -> list[int]:
    """The public shape the client gives: non-negative sizes within the node's limits."""
    if not all(d >= 0 for d in declared):
        raise UsageError("'shape' must be a list of non-negative integers")
    if len(declared) > 32 or math.prod(declared) > node.limits.max_elements:
        raise UsageError(
            f"the declared shape {list(declared)} is larger than this node allows "
            f"({node.limits.max_elements} elements)"
        )
    return [int(d) for d in declared]


def _value(
    node: Node, party: NodeParty, record: ObjectRecord, declared: list[int]
) -> tuple[torch.Tensor | None, torch.dtype, UnseenError | None]:
    """The input's tensor and dtype, or the dtype it would have and why it cannot load.

    A failed result stores a stand-in of the value (docs/security.md, "Timing"): it is
    converted like a value, for the same work and the dtype a success would have had."""
    import torch

    from unseen.node._mpc_party import as_tensor

    value: torch.Tensor | None = None
    problem: UnseenError | None = None
    try:
        value = as_tensor(node.stores.objects.value(record.id))
    except UnseenError as exc:
        problem = exc
    except (TypeError, ValueError):  # a dtype torch has not (float128, ...)
        problem = UsageError("only numeric values (arrays, tensors, numeric columns) can be shared")
    dtype = value.dtype if value is not None else torch.float64
    if record.error is not None:
        failed = RemoteError(f"{record.failed_op} failed on the node: this result has no value")
        return None, dtype, failed
    if value is None or problem is not None:
        return None, dtype, problem
    if list(value.shape) != declared:
        return (
            None,
            dtype,
            UsageError(
                "the value's shape is not the public one you gave (a result computed from private "
                "data has no public shape; the mock's may differ): share an asset, or a "
                "reduction such as .sum()"
            ),
        )
    try:
        party.ctx.fp.encode(value, warn=False)
    except UnseenError:
        return (
            None,
            dtype,
            UsageError(
                "this value cannot be shared: it is outside the fixed-point range (or not finite)"
            ),
        )
    return value, dtype, None


def _check_members(node: Node, runtime: Runtime) -> None:
    """PermissionDenied unless the owner trusts every other party and the dealer, and the
    session's links are bound to those keys (mesh: the signed handshake; in-process hub: the
    nodes that joined it)."""
    from unseen.node._mpc_trust import check_trusted

    check_trusted(node, runtime.keys, runtime.names, runtime.endpoint)
    if runtime.hub_identities is not None:
        joined = dict(runtime.hub_identities)
        for ep, key in enumerate(runtime.keys):
            if joined.get(ep) != key:
                raise PermissionDenied(
                    f"{runtime.names[ep]!r} has not joined this MPC session as the node the "
                    "session names: nothing was shared"
                )


@typed_route(MPC_REQUEST, MEMBERS)
def request_release(
    node: Node, principal: Principal, request: MPCReleaseRequest
) -> dict[str, Any] | None:
    """Ask this node's owner to release share ``sid`` (a value derived from data here).

    Returns the request's view, or None when the value derives from nothing on this node."""
    from unseen.node import _requests

    runtime = _runtime(node, principal, request.session)
    party = runtime.party
    if party is None:
        return None
    sid = request.sid
    own = party.own_sources(sid)
    if not own:
        return None
    records = [node.stores.objects.get(o) for o in own]
    with party.lock:
        version = party.versions.get(sid)
    if version is None:
        raise NotFound(f"no share {sid!r} in this MPC session")
    described = ", ".join(f"{r.id[:8]} ({r.description or r.family})" for r in records)
    standin = ObjectRecord(
        id=uuid.uuid4().hex,
        family="mpc",
        creator=principal.user_id,
        sources=frozenset().union(*(r.sources for r in records)),
        parents=tuple(own),
        description=f"MPC result {sid} of session {party.session[:8]}",
        public_meta={"family": "mpc", "mpc_session": party.session, "sid": sid},
        recipe=(
            f"secure multi-party computation on {party.world} parties, result {sid!r}",
            f"derived from this node's objects: {described}",
            "accepting reveals the result to the requester once every source node accepted",
        ),
        created_at=time.time(),
    )
    node.stores.objects.put(
        standin, "MPC result: reveal it with .get() on the shared tensor once accepted"
    )
    with party.lock:
        if party.versions.get(sid) == version:
            party.approvals[sid] = (standin.id, version)
    name = request.name or f"MPC result {sid}"
    # request.create's route, on its wire body: the view the scientist's client reads
    create = route_of(_requests.create)
    assert create is not None
    body = {"object_id": standin.id, "name": name, "reason": request.reason}
    view: dict[str, Any] = create.handler(node, principal, body)
    return view


@typed_route(MPC_LEAVE, MEMBERS)
def leave(node: Node, principal: Principal, request: MPCLeaveRequest) -> None:
    """End this node's part in a session (the orchestrator stops the runtimes first)."""
    runtime = _runtime(node, principal, request.session)
    with _LOCK:
        _sessions(node).pop(request.session, None)
    _stop(runtime)


def _stop(runtime: Runtime) -> None:
    if runtime.dealer is not None:
        runtime.dealer.stop_event.set()
    if runtime.mesh is not None:
        runtime.thread.join(timeout=0.5)
        runtime.mesh.close()
    runtime.thread.join(timeout=2.0)


def close_sessions(node: Node) -> None:
    """Stop every MPC runtime of ``node`` (when its server stops): its links break, so its
    peers and the orchestrator get a ProtocolError at once instead of waiting."""
    with _LOCK:
        runtimes = list(_sessions(node).values())
        _sessions(node).clear()
    for runtime in runtimes:
        _stop(runtime)
