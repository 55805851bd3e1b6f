"""Client: one user's session with one node, over any transport."""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from unseen import ops
from unseen.client._graph import Vertex, ancestry, new_id, pending, regrow, ship
from unseen.client._mock import sample_rows, synthesize
from unseen.client._pointer import Pointer
from unseen.client._waiting import waiting
from unseen.errors import UsageError
from unseen.messages import Kind
from unseen.messages.datasets import DATASET_LIST, DATASET_UPLOAD, DatasetListRequest
from unseen.messages.dp import (
    DP_BUDGET,
    DP_GET,
    DP_HISTORY,
    DP_SETTINGS,
    DP_SPEND,
    DPBalance,
    DPBudgetRequest,
    DPGetRequest,
    DPHistoryRequest,
    DPRelease,
    DPSettingsRequest,
    DPSpendRequest,
    DPSpendRow,
)
from unseen.messages.info import NODE_INFO, NodeInfoRequest
from unseen.messages.objects import (
    GRAPH_RUN,
    OBJECT_MOCK,
    OBJECT_SEND,
    OBJECT_TAG,
    SEARCH,
    STORE_LIST,
    GraphRunRequest,
    ObjectIdRequest,
    ObjectSendRequest,
    ObjectTagRequest,
    ObjectView,
    SearchRequest,
    StoreListRequest,
)
from unseen.messages.quotas import (
    QUOTA_SETTINGS,
    QUOTA_USAGE,
    QuotaSettingsRequest,
    QuotaUsageRequest,
)
from unseen.messages.requests import (
    REQUEST_CREATE,
    REQUEST_LIST,
    RequestCreateRequest,
    RequestListRequest,
)
from unseen.messages.users import USER_ME, UserMeRequest, UserView

if TYPE_CHECKING:
    from unseen.client._code import CodeRequests
    from unseen.client._dataset import Dataset
    from unseen.client._mpc_trust import MPCTrust
    from unseen.client._users import UserList
    from unseen.client._views import DatasetList, Request, RequestList, SearchResults, StoreView
    from unseen.dp import DPTable
    from unseen.transport import Connection

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class TorchModule(Protocol):
    """What ``Client.send`` takes as a torch model (a ``torch.nn.Module``)."""

    def named_parameters(self, *args: Any, **kwargs: Any) -> Any: ...

    def named_buffers(self, *args: Any, **kwargs: Any) -> Any: ...


class Client:
    """A logged-in session: send values, search, compute through pointers, make requests.

    ``unseen.login(...)`` returns one for a remote node; a :class:`VirtualWorker` is one
    for an in-process node that the caller owns.
    """

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._dropped: list[str] = []
        self._mocks: dict[str, Any] = {}
        info = self.ask(NODE_INFO, NodeInfoRequest())
        self.node_name: str = info.name
        self.node_id: str = info.id
        self.node_key: str = info.public_key  # the node's ed25519 key, hex
        self.user_id: str = info.user_id
        self.role: str = info.role

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.node_name!r} as {self.role}>"

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        """Send one raw message to the node (advanced use)."""
        return self._conn.call(kind, body or {})

    def ask(self, kind: Kind[Req, Rep], request: Req) -> Rep:
        """Send a typed request (``unseen.messages.TYPED``); returns the typed reply."""
        return kind.read_reply(self._conn.call(kind.name, kind.request_to_wire(request)))

    # -- values ------------------------------------------------------------------------
    @overload
    def send(
        self,
        value: TorchModule,
        *,
        tags: list[str] | tuple[str, ...] | None = None,
        description: str | None = None,
        searchable: bool = False,
        pointable: bool | None = None,
    ) -> Any: ...

    @overload
    def send(
        self,
        value: Any,
        *,
        tags: list[str] | tuple[str, ...] | None = None,
        description: str | None = None,
        searchable: bool = False,
        pointable: bool | None = None,
    ) -> Pointer: ...

    def send(
        self,
        value: Any,
        *,
        tags: list[str] | tuple[str, ...] | None = None,
        description: str | None = None,
        searchable: bool = False,
        pointable: bool | None = None,
    ) -> Any:
        """Upload a value you own; returns a pointer to it on the node. ``searchable=True``
        lets other users of the node find it (``pointable`` is PySyft's name for it). A torch
        model gives an ``unseen.ModulePointer`` (docs/training.md)."""
        if pointable is not None:
            searchable = searchable or pointable
        if isinstance(value, Pointer):
            raise UsageError("this is a pointer already: its value is on a node")
        if ops.is_torch_module(value):
            return self._send_module(value, tags=tags, description=description,
                                     searchable=searchable)  # fmt: skip
        if tags is None:
            tags = list(getattr(value, "tags", None) or [])
        if description is None:
            description = str(getattr(value, "description", "") or "")
        ops.family_of(value)
        request = ObjectSendRequest(
            value=value, tags=list(tags), description=description, searchable=searchable
        )
        return self._pointer_from_info(self.ask(OBJECT_SEND, request))

    def _send_module(self, module: Any, **options: Any) -> Any:
        """A torch model goes through the ``send`` that ``unseen.TorchHook`` puts on
        ``torch.nn.Module`` (unseen.train, a layer above this one)."""
        sender = type(module).__dict__.get("send") or getattr(type(module), "send", None)
        if sender is None:
            raise UsageError(
                "sending a torch model needs the torch hook: hook = unseen.TorchHook(torch), "
                "then node.send(model) or model.send(node) (or, without the hook, import "
                "unseen.train and call unseen.train.send_module(model, node))"
            )
        return sender(module, self, **options)

    def _pointer_from_info(self, info: ObjectView) -> Pointer:
        vertex = Vertex(info.id, info.meta.get("family", "value"), info=info)
        return self._wrap(vertex)

    def _wrap(self, vertex: Vertex) -> Pointer:
        pointer = Pointer(self, vertex)
        vertex.pointer = weakref.ref(pointer)
        return pointer

    def _arg(self, value: Any, parents: dict[int, Vertex]) -> Any:
        if isinstance(value, Pointer):
            if value._client is not self:
                if value._client.node_id == self.node_id:
                    raise UsageError("pointers from two sessions cannot be combined: use one login")
                raise UsageError(
                    f"this pointer lives on {value._client.node_name!r}, not on {self.node_name!r}: "
                    "values on different nodes combine only through MPC (.share(...))"
                )
            parents.setdefault(id(value._vertex), value._vertex)
            return ops.Ref(value._vertex.id)
        if isinstance(value, tuple):
            return tuple(self._arg(v, parents) for v in value)
        if isinstance(value, list):
            return [self._arg(v, parents) for v in value]
        if isinstance(value, dict):
            return {k: self._arg(v, parents) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(*(self._arg(v, parents) for v in (value.start, value.stop, value.step)))
        return value

    def _record(
        self,
        kind: ops.ActionKind,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        receiver: Pointer | None = None,
    ) -> Pointer:
        """Record one action lazily; check it now so that mistakes show before anything runs."""
        parents: dict[int, Vertex] = {}
        wire_args = tuple(self._arg(a, parents) for a in args)
        wire_kwargs = {k: self._arg(v, parents) for k, v in kwargs.items()}
        action = ops.Action(new_id(), kind, name, wire_args, wire_kwargs)
        families = {v.id: v.family for v in parents.values()}
        receiver_family = receiver.family if receiver is not None else None
        spec = ops.check_action(action, receiver_family)
        family = ops.infer_family(
            spec, receiver_family, wire_args, wire_kwargs, lambda r: families[r.id]
        )
        return self._wrap(Vertex(action.id, family, action, tuple(parents.values())))

    def _function(self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Pointer:
        return self._record("function", qualname, args, kwargs)

    def _drain_dropped(self) -> list[str]:
        dropped, self._dropped = self._dropped, []
        return dropped

    def _run(self, pointers: list[Pointer], get: bool) -> list[Any]:
        """Ship everything the pointers need in one message; return their values if asked."""
        vertices = [p._vertex for p in pointers]
        # a gradient through values computed in an earlier run computes them again
        order, shipped = regrow(vertices, pending(vertices))
        targets = {v.id for v in vertices}
        keep = sorted({v.id for v in order if v.alive()} | (targets & {v.id for v in order}))
        request = GraphRunRequest(
            actions=ship(shipped),
            keep=keep,
            get=[v.id for v in vertices] if get else [],
            drop=self._drain_dropped(),
        )
        with waiting(f"{self.node_name} is computing"):
            reply = self.ask(GRAPH_RUN, request)
        kept = reply.kept
        for vertex in order:
            if vertex.id in kept:
                vertex.materialized = True
                family = kept[vertex.id]
                if family:
                    vertex.family = family
                pointer = vertex.pointer() if vertex.pointer is not None else None
                if pointer is not None:
                    weakref.finalize(pointer, self._dropped.append, vertex.id)
        return reply.values

    def get_many(self, pointers: list[Pointer]) -> list[Any]:
        """Values of several pointers in one round trip (each through the release rule)."""
        return self._run(list(pointers), get=True)

    def _dp_get(self, pointer: Pointer, epsilon: float | None, delta: float | None) -> Any:
        """A differentially private answer: the node analyses the pointer's whole graph,
        charges ``epsilon`` (and ``delta``, for Gaussian noise) to your budget, and returns
        the noised value (docs/dp.md)."""
        _, order = ancestry(pointer._vertex)
        request = DPGetRequest(
            actions=[v.action for v in order if v.action is not None],
            target=pointer.id,
            epsilon=epsilon,
            delta=delta,
            drop=self._drain_dropped(),
        )
        with waiting(f"{self.node_name} is computing a DP answer"):
            answer = self.ask(DP_GET, request)
        return answer.value

    @property
    def budget(self) -> float:
        """Your remaining privacy budget (epsilon) on this node."""
        return self.ask(DP_BUDGET, DPBudgetRequest()).remaining

    @property
    def releases(self) -> DPTable[DPRelease]:
        """Your differentially private releases on this node, oldest first."""
        from unseen.dp import table

        columns = [("seq", "#"), ("query", "Query"), ("datasets", "Datasets"),
                   ("epsilon", "Epsilon"), ("delta", "Delta"), ("mechanism", "Noise"),
                   ("charged", "Charged"), ("spent", "Spent after")]  # fmt: skip
        history = self.ask(DP_HISTORY, DPHistoryRequest())
        return table(columns, history, "No DP releases yet.")

    @property
    def budgets(self) -> DPTable[DPBalance]:
        """Every scientist's privacy budget, spend and remaining epsilon (owners, admins)."""
        from unseen.dp import table

        columns = [("email", "Email"), ("name", "Name"), ("budget", "Budget"),
                   ("spent", "Spent"), ("remaining", "Remaining"),
                   ("releases", "Releases")]  # fmt: skip
        return table(columns, self.ask(DP_SPEND, DPSpendRequest()).users, "No users.")

    @property
    def dp_spend(self) -> DPTable[DPSpendRow]:
        """Privacy spend per scientist and dataset (owners, admins)."""
        from unseen.dp import table

        columns = [("email", "Email"), ("dataset", "Dataset"), ("releases", "Releases"),
                   ("epsilon_sum", "Epsilon asked"), ("charged", "Charged")]  # fmt: skip
        spend = self.ask(DP_SPEND, DPSpendRequest())
        return table(columns, spend.datasets, "No DP releases yet.")

    def dp_settings(self, delta: float | None = None) -> dict[str, Any]:
        """The node's DP settings (a map: ``{"delta": ...}``); the owner sets ``delta``
        before the first release."""
        return dataclasses.asdict(self.ask(DP_SETTINGS, DPSettingsRequest(delta=delta)))

    def quota_settings(self, **changes: Any) -> dict[str, Any]:
        """The node's per-user quotas (owners and admins), as a map: ``workers``,
        ``max_running``, ``max_waiting``, ``cpu_seconds_per_minute``, ``max_stored_bytes``.
        Keywords change them (None: back to the default); see docs/server.md."""
        names = [f.name for f in dataclasses.fields(QuotaSettingsRequest)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise UsageError(
                f"no quota setting {unknown[0]!r}: the settings are {', '.join(sorted(names))}"
            )
        request = QuotaSettingsRequest(**changes)
        return dataclasses.asdict(self.ask(QUOTA_SETTINGS, request))

    def quota_usage(self) -> dict[str, Any]:
        """Your own use on the node, as a map: graphs ``running`` and ``waiting``,
        ``cpu_seconds`` of the last minute, ``stored_bytes``, and the ``quotas`` that apply
        to you (None for owners and admins)."""
        return dataclasses.asdict(self.ask(QUOTA_USAGE, QuotaUsageRequest()))

    # -- mocks ---------------------------------------------------------------------------
    def _mock_value(self, vertex: Vertex) -> Any:
        if vertex.id not in self._mocks:
            info = vertex.info
            value = None
            if info is not None and info.mock_id:
                value = self.ask(OBJECT_MOCK, ObjectIdRequest(id=vertex.id))
            if value is None:
                meta = info.meta if info is not None else None
                value = synthesize(meta or {"family": vertex.family})
            self._mocks[vertex.id] = value
        return self._mocks[vertex.id]

    def _mock_eval(self, target: Vertex) -> Any:
        leaves, order = ancestry(target)
        if target.action is None:
            return self._mock_value(target)
        env = {leaf.id: self._mock_value(leaf) for leaf in leaves}
        actions = [v.action for v in order if v.action is not None]
        try:
            return ops.execute(actions, env, keep={target.id})[target.id]
        except ops.ExecutionError as exc:
            raise UsageError(
                f"{exc.op} fails on the mock ({type(exc.original).__name__}: {exc.original}); "
                "it would fail on the node too if the data has the mock's shape and types"
            ) from None

    def _sample(self, pointer: Pointer, n: int) -> Any:
        return sample_rows(pointer.mock, n)

    def _set_info(self, pointer: Pointer, **fields: Any) -> None:
        if not pointer._vertex.materialized or pointer._vertex.action is not None:
            raise UsageError("only values you sent can be tagged or described")
        pointer._vertex.info = self.ask(OBJECT_TAG, ObjectTagRequest(id=pointer.id, **fields))

    # -- requests, search, store, datasets ------------------------------------------------
    def _request(self, pointer: Pointer, name: str, reason: str) -> Request:
        from unseen.client._views import Request

        if pointer._vertex.action is not None:
            pointer.mock_result()  # a graph that fails on the mock: say so before filing it
        if not pointer._vertex.materialized:
            self._run([pointer], get=False)
        request = RequestCreateRequest(object_id=pointer.id, name=name, reason=reason)
        return Request(self, self.ask(REQUEST_CREATE, request))

    @property
    def requests(self) -> RequestList:
        """Requests: all of them for the node's owner, your own otherwise."""
        from unseen.client._views import RequestList

        return RequestList(self, self.ask(REQUEST_LIST, RequestListRequest()))

    @property
    def store(self) -> StoreView:
        """Objects you may use: searchable ones, dataset assets, and your own."""
        from unseen.client._views import StoreView

        listed = self.ask(STORE_LIST, StoreListRequest())
        return StoreView(self, [self._pointer_from_info(i) for i in listed])

    def search(self, query: str, *, verbose: bool = True) -> SearchResults:
        """Assets matching a tag (``"#diabetes"``) or words in names and descriptions."""
        from unseen.client._views import SearchResults

        listed = self.ask(SEARCH, SearchRequest(query=query))
        found = [self._pointer_from_info(i) for i in listed]
        results = SearchResults(found, query)
        if verbose:
            print(results.summary())
        return results

    @property
    def datasets(self) -> DatasetList:
        from unseen.client._views import DatasetList

        return DatasetList(self, self.ask(DATASET_LIST, DatasetListRequest()))

    @property
    def users(self) -> UserList:
        """Accounts on the node (owners and admins): ``.create(...)``, ``.update``, ``.delete``."""
        from unseen.client._users import UserList

        return UserList(self)

    @property
    def code(self) -> CodeRequests:
        """Code requests: ``.request(fn, reason=...)`` submits a function declared with
        ``@unseen.function(...)``, ``.run(fn)`` starts a job once it is approved, ``.jobs``
        lists jobs. See docs/code.md."""
        from unseen.client._code import CodeRequests

        return CodeRequests(self)

    @property
    def mpc(self) -> MPCTrust:
        """The node's MPC trust policy (owners and admins): ``.trust(dealer=..., party=...)``,
        ``.untrust(...)``, ``.policy``. See docs/mpc.md."""
        from unseen.client._mpc_trust import MPCTrust

        return MPCTrust(self)

    @property
    def me(self) -> UserView:
        """Your own account: email, name, role and privacy budget."""
        return self.ask(USER_ME, UserMeRequest())

    def upload_dataset(self, dataset: Dataset) -> None:
        """Upload a dataset's private assets and their mocks (owners and admins)."""
        self.ask(DATASET_UPLOAD, dataset._to_request())
        print(f"Uploaded dataset {dataset.name!r} with {len(dataset.assets)} asset(s).")

    # -- networks ----------------------------------------------------------------------------
    def join_network(self, url: str, **options: Any) -> dict[str, Any]:
        """Register this domain with the network at ``url`` (owners and admins); the
        registration is signed by the domain's node key. Options: ``domain_url`` (default: the
        URL of this session), ``description``, ``publish`` (dataset names; default all,
        ``[]`` none: only metadata is published), ``models`` (metadata maps), ``tunnel=True``
        (behind NAT: reached through the network), ``heartbeat_s``. See docs/network.md."""
        from unseen.client._network import join_network

        return join_network(self, url, **options)

    @property
    def registrations(self) -> Any:
        """On a network node: domains' registrations, ``[i].approve()`` / ``.reject(reason)``."""
        from unseen.client._network import RegistrationList

        return RegistrationList(self)

    def logout(self) -> None:
        """Log out: the node revokes this session's token (refused from now on, also after
        the node restarts), the password kept in memory is forgotten and the connection
        closed; later calls raise ``UsageError``. Log in again with ``unseen.login``."""
        logout = getattr(self._conn, "logout", None)
        if logout is not None:  # an in-process node has no tokens: closing is all
            logout()
        self._conn.close()

    def close(self) -> None:
        self._conn.close()
