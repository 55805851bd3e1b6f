"""MPC sessions on nodes, behind ``unseen.share``, ``tensor.share`` and ``pointer.share``.

The scientist's process is the orchestrator (:class:`NodeCluster`, an engine
:class:`~unseen.mpc.Cluster`); each party is a runtime hosted by its node, the crypto
provider's node hosts the dealer (``mpc.join``). A pointer is shared by its own node: the
node loads the object as a plaintext input (``mpc.input``) and sends its shares party to
party, so private data never passes through here. Revealing asks every party first
(``may_reveal``); if a source node has not released, nothing is reconstructed and
:class:`~unseen.errors.CannotRequestPrivateData` names the nodes to ask with
``.request(name=..., reason=...)``.

Sharing with the same parties and crypto provider reuses one session, so everything shared
with them combines.
"""

from __future__ import annotations

import atexit
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from unseen.errors import CannotRequestPrivateData, RequestTimeout, UsageError
from unseen.messages.mpc import (
    MPC_INPUT,
    MPC_JOIN,
    MPC_LEAVE,
    MPC_REQUEST,
    MPCInputRequest,
    MPCJoinRequest,
    MPCLeaveRequest,
    MPCLink,
    MPCReleaseRequest,
)
from unseen.mpc import Cluster, MPCTensor, share_module
from unseen.mpc.comm import Comm
from unseen.mpc.comm_local import close_hub, open_hub

if TYPE_CHECKING:
    from unseen.client._client import Client
    from unseen.client._pointer import Pointer
    from unseen.client._views import Request
    from unseen.mpc import EncryptedModule

__all__ = ["NodeCluster", "MPCRequest", "share_value", "session_for", "close_sessions"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float32}


def _check_parties(parties: Sequence[Any], dealer: Any) -> None:
    from unseen.client._client import Client

    if len(parties) < 2:
        raise UsageError(f"secret sharing needs at least 2 parties, got {len(parties)}")
    for who in [*parties, dealer]:
        if who is None:
            raise UsageError("a crypto_provider (a node client, e.g. a VirtualWorker) is required")
        if not isinstance(who, Client):
            raise UsageError(
                f"parties and the crypto provider are node clients (VirtualWorker or "
                f"unseen.login(...)), not {type(who).__name__}"
            )
    seen: dict[str, Client] = {}
    for p in parties:
        if p.node_id in seen:
            raise UsageError(f"the parties must be distinct nodes: {p.node_name!r} appears twice")
        seen[p.node_id] = p
    if dealer.node_id in seen:
        raise UsageError(
            f"the crypto provider {dealer.node_name!r} is also a party: the dealer knows every "
            "party's randomness, so it must be a distinct node"
        )


class NodeCluster(Cluster):
    """An MPC session whose parties and dealer are hosted by nodes.

    In-process nodes (VirtualWorkers) link through the session's in-process hub; domain
    servers (``unseen.login``) through an encrypted TCP mesh (:mod:`._mpc_remote`)."""

    def __init__(
        self,
        parties: Sequence[Client],
        dealer: Client,
        *,
        frac_bits: int = 16,
        timeout: float = 60.0,
    ) -> None:
        from unseen.client._mpc_remote import join_remote, link_kind

        _check_parties(parties, dealer)
        clients = [*parties, dealer]
        self.link = link_kind(clients)
        n = len(parties)
        self.clients = list(parties)
        self.dealer_client = dealer
        self.session = secrets.token_hex(16)
        self._joined: list[Client] = []
        keys, names = [c.node_key for c in clients], [c.node_name for c in clients]

        def join_request(endpoint: int, link: MPCLink | None) -> MPCJoinRequest:
            """The ``mpc.join`` of a party (by rank) or, at endpoint ``n``, the dealer."""
            return MPCJoinRequest(
                session=self.session, n=n, frac_bits=frac_bits, timeout=timeout,
                keys=keys, names=names, role="party" if endpoint < n else "dealer",
                rank=endpoint if endpoint < n else None, comm=link,
            )  # fmt: skip

        try:
            if self.link == "tcp":
                comm: Comm = join_remote(clients, join_request, self._joined, timeout)
            else:
                comm = self._join_local(clients, join_request, timeout)
        except BaseException:
            self._leave()
            raise
        super().__init__(comm, n, frac_bits=frac_bits, timeout=timeout)

    def _join_local(
        self,
        clients: list[Client],
        join_request: Callable[[int, MPCLink | None], MPCJoinRequest],
        timeout: float,
    ) -> Comm:
        n = len(clients) - 1
        hub = open_hub(self.session, n, timeout)
        labels = {i: c.node_name for i, c in enumerate(clients)}
        labels[n + 1] = "me"
        for ep in range(n + 2):
            hub.comm(ep).names.update(labels)
        for ep, c in enumerate(clients):  # the parties by rank, then the dealer
            c.ask(MPC_JOIN, join_request(ep, None))
            self._joined.append(c)
        return hub.comm(n + 1)

    def matches(self, parties: Sequence[Client], dealer: Client) -> bool:
        return (
            self.failed is None
            and not self.closed
            and dealer is self.dealer_client
            and len(parties) == len(self.clients)
            and all(a is b for a, b in zip(parties, self.clients))
        )

    # -- inputs ---------------------------------------------------------------------------
    def share_pointer(self, pointer: Pointer) -> MPCTensor:
        """Share the value behind ``pointer``; its node is the party that inputs it."""
        where = pointer.client
        rank = next((r for r, c in enumerate(self.clients) if c.node_id == where.node_id), None)
        if rank is None:
            names = ", ".join(repr(c.node_name) for c in self.clients)
            raise UsageError(
                f"this pointer lives on {where.node_name!r}, which is not among the parties "
                f"({names}): a node shares only its own data, so make it one of the parties"
            )
        party = self.clients[rank]
        if party.user_id != where.user_id:
            raise UsageError(
                f"share the pointer through the same login as the party for {where.node_name!r}"
            )
        if not pointer._vertex.materialized:
            pointer.compute()
        request = MPCInputRequest(
            session=self.session, object_id=pointer.id, name=pointer.id, shape=list(pointer.shape)
        )
        loaded = party.ask(MPC_INPUT, request)
        dtype = _DTYPES.get(loaded.dtype, torch.float32)
        return self.share_from(rank, pointer.id, loaded.shape, dtype)

    # -- release ----------------------------------------------------------------------------
    def _holdouts(self, x: MPCTensor) -> list[int]:
        seq = self.command("may_reveal", (x.sid,), (), None, want_reply=True)
        try:
            self.wait(seq)
            flags = [int(self._replies.pop((seq, r))[0][0]) for r in self.parties]
        finally:
            self._want_replies.discard(seq)
            for r in self.parties:
                self._replies.pop((seq, r), None)
        return [r for r, ok in enumerate(flags) if not ok]

    def reveal(self, x: MPCTensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Reconstruct ``x`` if every party releases its share; else reveal nothing."""
        self._check_usable()
        holdouts = self._holdouts(x)
        if holdouts:
            names = ", ".join(repr(self.clients[r].node_name) for r in holdouts)
            raise CannotRequestPrivateData(
                f"This MPC result derives from private data on {names}: reconstructing it "
                "needs the release of every node whose data it derives from. Call "
                ".request(name=..., reason=...) on the shared tensor to ask their owners, "
                "then .get() again once every one accepted."
            )
        return super().reveal(x, dtype)

    def request_release(self, x: MPCTensor, name: str = "", reason: str = "") -> MPCRequest:
        """A request on each node whose private data ``x`` derives from."""
        from unseen.client._views import Request

        self.sync()
        request = MPCReleaseRequest(session=self.session, sid=x.sid, name=name, reason=reason)
        found = []
        for c in self.clients:
            record = c.ask(MPC_REQUEST, request)
            if record is not None:
                found.append(Request(c, record))
        return MPCRequest(found)

    # -- display and lifecycle ----------------------------------------------------------------
    def tensor_repr(self, x: MPCTensor) -> str:
        sid = x._sid or "(not computed yet)"
        lines = [
            f"(Wrapper)>[AdditiveSharingTensor] shape={tuple(x.shape)} dtype={x.dtype}"
            + (" requires_grad=True" if x.requires_grad else "")
        ]
        lines += [f"\t-> [PointerTensor | me:{sid} -> {c.node_name}:{sid}]" for c in self.clients]
        lines.append(f"\t*crypto provider: {self.dealer_client.node_name}*")
        return "\n".join(lines)

    def _leave(self) -> None:
        for c in self._joined:
            try:
                c.ask(MPC_LEAVE, MPCLeaveRequest(session=self.session))
            except Exception:  # best effort: the node may be gone
                pass
        self._joined = []
        close_hub(self.session)

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self._leave()
        if self.link == "tcp":
            self.comm.close()

    def __repr__(self) -> str:
        names = ", ".join(c.node_name for c in self.clients)
        return f"<MPC session on [{names}], crypto provider {self.dealer_client.node_name}>"


class MPCRequest:
    """The requests for one MPC result, one per node whose private data it derives from."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests = requests

    @property
    def status(self) -> str:
        """'accepted' once every node accepted, 'denied' if any denied, else 'pending'."""
        states = {r.refresh().status for r in self.requests}
        if "denied" in states:
            return "denied"
        return "pending" if "pending" in states else "accepted"

    def wait(self, timeout_secs: float | None = None) -> MPCRequest:
        """Block until every owner decided (RequestTimeout otherwise)."""
        for r in self.requests:
            try:
                r.wait(timeout_secs)
            except RequestTimeout:
                raise RequestTimeout(
                    f"no decision from {r._client.node_name!r} within the timeout; the request "
                    "stays pending"
                ) from None
        return self

    def __iter__(self) -> Iterator[Request]:
        return iter(self.requests)

    def __len__(self) -> int:
        return len(self.requests)

    def __getitem__(self, i: int) -> Request:
        return self.requests[i]

    def __repr__(self) -> str:
        each = ", ".join(f"{r._client.node_name}: {r.status}" for r in self.requests)
        return f"<MPCRequest [{each or 'nothing to ask: no private sources'}]>"


_SESSIONS: list[NodeCluster] = []
_AT_EXIT: list[bool] = []


def session_for(parties: Sequence[Client], dealer: Client, **options: Any) -> NodeCluster:
    """The open session with exactly these parties (in order) and dealer, or a new one."""
    for c in _SESSIONS:
        if c.matches(parties, dealer):
            return c
    _check_parties(parties, dealer)
    cluster = NodeCluster(parties, dealer, **options)
    if not _AT_EXIT:
        # while the nodes' threads still run: at finalization no party could answer a goodbye
        atexit.register(close_sessions)
        _AT_EXIT.append(True)
    _SESSIONS[:] = [c for c in _SESSIONS if not c.closed and c.failed is None] + [cluster]
    return cluster


def close_sessions() -> None:
    """Close every MPC session this process opened (the nodes' runtimes stop)."""
    while _SESSIONS:
        _SESSIONS.pop().close()


def share_value(
    value: Any,
    *parties: Any,
    crypto_provider: Any = None,
    requires_grad: bool = False,
    **options: Any,
) -> Any:
    """``unseen.share`` (see :func:`unseen.client._mpc.share`)."""
    from unseen.client._pointer import Pointer

    if len(parties) == 1 and isinstance(parties[0], (list, tuple)):
        parties = tuple(parties[0])
    cluster = session_for(list(parties), crypto_provider, **options)
    if isinstance(value, Pointer):
        out = cluster.share_pointer(value)
        return out.requires_grad_(True) if requires_grad else out
    if isinstance(value, torch.nn.Module):
        module: EncryptedModule = share_module(value, cluster)
        return module
    if isinstance(value, MPCTensor):
        raise UsageError("this tensor is secret-shared already")
    return cluster.share(value, requires_grad=requires_grad)
