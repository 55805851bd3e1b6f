"""Handlers for objects: send, info, mocks, tags, drops, running graphs and plain gets.

Typed kinds (:mod:`unseen.messages.objects`): each handler takes its request type and returns
its reply type; the route converts from and to the wire.
"""

from __future__ import annotations

import logging
import mmap
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen import ops, serde
from unseen.errors import (
    CannotRequestPrivateData,
    NotFound,
    OperationNotAllowed,
    PermissionDenied,
    RemoteError,
    UsageError,
)
from unseen.messages.objects import (
    GRAPH_RUN,
    OBJECT_DROP,
    OBJECT_GET,
    OBJECT_INFO,
    OBJECT_MOCK,
    OBJECT_SEND,
    OBJECT_TAG,
    GraphRunReply,
    GraphRunRequest,
    ObjectDropRequest,
    ObjectIdRequest,
    ObjectSendRequest,
    ObjectTagRequest,
    ObjectView,
)
from unseen.node._meta import public_meta
from unseen.node._policy import (
    CODE_OUTPUT,
    Lineage,
    check_release,
    check_use,
    may_read,
    spend_grant,
)
from unseen.node._principal import ANYONE, MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.store import ObjectRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

log = logging.getLogger("unseen.node")


def new_id() -> str:
    return uuid.uuid4().hex


def check_id(object_id: Any) -> str:
    if not isinstance(object_id, str) or not (8 <= len(object_id) <= 64) or not object_id.isalnum():
        raise UsageError("object ids must be 8 to 64 letters or digits")
    return object_id


def check_new_id(node: Node, object_id: Any) -> str:
    if node.stores.objects.exists(check_id(object_id)):
        raise UsageError(f"an object with id {object_id!r} exists already: use a fresh id")
    return object_id


def check_new_ids(node: Node, object_ids: list[Any]) -> None:
    """:func:`check_new_id` of many ids, with one store lookup for all of them."""
    for object_id in object_ids:
        check_id(object_id)
    taken = node.stores.objects.existing(object_ids)
    if taken:
        first = next(i for i in object_ids if i in taken)
        raise UsageError(f"an object with id {first!r} exists already: use a fresh id")


def object_view(record: ObjectRecord, principal: Principal) -> ObjectView:
    """What a caller who may use the object sees of it. Results derived from data the caller
    may not read show no shape: even a result's size can leak (a filter's row count)."""
    readable = not record.parents or may_read(principal, record)
    return ObjectView(
        id=record.id,
        tags=list(record.tags),
        description=record.description,
        dataset=record.dataset,
        mock_id=record.mock_id,
        created_at=record.created_at,
        meta=dict(record.public_meta) if readable else {},
    )


# -- streamed uploads -----------------------------------------------------------------------
#: a staged upload not used by an object.send or dataset.upload within this time is dropped
UPLOAD_TTL_S = 600.0


class StagedUpload:
    """A value streamed to the node ahead of the message that uses it (a large ``object.send``
    or ``dataset.upload``): its serde encoding goes straight into the object store's writer
    (``begin_put``) while it arrives, so that receiving and writing overlap, and that write
    becomes the object, or the dataset's asset: the value is written once. Nothing is
    visible until :meth:`commit` (one fsync, then the row); :meth:`abort` leaves nothing."""

    def __init__(self, node: Node, principal: Principal) -> None:
        begin_put = getattr(node.stores.objects, "begin_put", None)
        if begin_put is None:
            raise UsageError("this node's object store does not take streamed uploads")
        self.id = new_id()
        self.user_id = principal.user_id
        self.record = ObjectRecord(
            id=self.id,
            family="value",
            creator=principal.user_id,
            sources=frozenset({principal.user_id}),
        )
        self._writer = begin_put(self.record)
        self.meta: dict[str, Any] | None = None
        self.expires = time.monotonic() + UPLOAD_TTL_S

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """The next chunk of the value's serde encoding."""
        self._writer.write(chunk)

    def contents(self) -> bytearray | mmap.mmap:
        """The encoding written (writable), to :meth:`finish` with; no writes after it."""
        return self._writer.contents()

    def finish(self, node: Node, encoded: bytes | bytearray | memoryview) -> dict[str, Any]:
        """Check that ``encoded`` (the bytes written, whole) decodes to a value the node
        keeps (``DecodeError`` or ``UsageError`` otherwise, and the upload is dropped); then
        stage the upload for the caller's next message. Only the value's public meta is
        kept: the value is in the store's writer, and ``encoded`` can be freed."""
        try:
            self.meta = public_meta(serde.decode(encoded))
        except BaseException:
            self.abort()
            raise
        node.uploads.add(self)
        return {"upload": self.id, "meta": dict(self.meta)}

    def commit(self, record: ObjectRecord) -> None:
        """Make the value visible as the object of ``record`` (whose id is this upload's)."""
        self._writer.commit(record)

    def abort(self) -> None:
        """Drop the value (a no-op after commit)."""
        self._writer.abort()


class Uploads:
    """Staged uploads by id, each usable once and only by its uploader."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, StagedUpload] = {}

    def add(self, upload: StagedUpload) -> None:
        with self._lock:
            self._items[upload.id] = upload
        self.expire()

    def take(self, principal: Principal, upload_id: Any) -> StagedUpload:
        if not isinstance(upload_id, str):
            raise UsageError("the field 'upload' must be an upload id string")
        with self._lock:
            item = self._items.get(upload_id)
            if item is None or item.user_id != principal.user_id:
                raise NotFound(
                    f"no upload {upload_id!r} of yours: uploads are used once, within "
                    f"{UPLOAD_TTL_S:.0f} seconds"
                )
            del self._items[upload_id]
        if item.expires < time.monotonic():
            item.abort()
            raise NotFound(f"the upload {upload_id!r} expired: send the value again")
        return item

    def expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [k for k, v in self._items.items() if v.expires < now]
            gone = [self._items.pop(k) for k in old]
        for item in gone:
            item.abort()

    def clear(self) -> None:
        with self._lock:
            gone = list(self._items.values())
            self._items.clear()
        for item in gone:
            item.abort()


def begin_upload(node: Node, principal: Principal) -> StagedUpload:
    """Start a streamed upload for a caller who may send objects or upload datasets."""
    kinds = ("object.send", "dataset.upload")
    if not any(k in node.routes and principal.role in node.routes[k].roles for k in kinds):
        raise PermissionDenied(f"uploads are not allowed for the role {principal.role!r}")
    return StagedUpload(node, principal)


def upload_ref(value: Any) -> str | None:
    """The upload id of a reference ``{"upload": id}`` in place of a value, else None."""
    if type(value) is dict and len(value) == 1 and isinstance(value.get("upload"), str):
        return str(value["upload"])
    return None


def resolve_dataset_uploads(node: Node, principal: Principal, body: dict[str, Any]) -> None:
    """Replace ``{"upload": id}`` references in the assets of a ``dataset.upload`` body by
    the staged uploads (checked when they arrived): the handler commits each as its asset's
    object, or aborts it. If a reference is unusable, the uploads taken already are aborted."""
    assets = body.get("assets")
    if not isinstance(assets, (list, tuple)):
        return
    taken: list[StagedUpload] = []
    try:
        for asset in assets:
            if not isinstance(asset, dict):
                continue
            for key in ("data", "mock"):
                upload_id = upload_ref(asset.get(key))
                if upload_id is not None:
                    taken.append(node.uploads.take(principal, upload_id))
                    asset[key] = taken[-1]
    except BaseException:
        for staged in taken:
            staged.abort()
        raise


def handler_tags(
    parents: list[tuple[frozenset[str], tuple[str, ...]]], caller: str
) -> tuple[str, ...]:
    """Tags of a result, which owner handlers match on. Only inputs holding someone else's
    data count, and a tag passes only if every one of them carries it: otherwise a scientist
    could steer private data into an auto-accepting handler with tags of her own uploads."""
    foreign = [set(tags) for sources, tags in parents if sources - {caller}]
    if not foreign:
        return tuple(sorted({t for _, tags in parents for t in tags}))
    return tuple(sorted(set.intersection(*foreign)))


@typed_route(OBJECT_SEND, MEMBERS)
def send(node: Node, principal: Principal, request: ObjectSendRequest) -> ObjectView:
    if request.upload is not None:  # the value was streamed ahead (StagedUpload)
        staged = node.uploads.take(principal, request.upload)
        record = staged.record
        assert staged.meta is not None
        try:
            record.family = staged.meta["family"]
            record.public_meta = staged.meta
            record.tags = tuple(request.tags)
            record.description = request.description
            record.searchable = request.searchable
        except BaseException:
            staged.abort()
            raise
        staged.commit(record)
        node.audit(principal, "object.send", record.id)
        return object_view(record, principal)
    object_id = check_new_id(node, request.id or new_id())
    value = request.value
    meta = public_meta(value)
    record = ObjectRecord(
        id=object_id,
        family=meta["family"],
        creator=principal.user_id,
        sources=frozenset({principal.user_id}),
        tags=tuple(request.tags),
        description=request.description,
        searchable=request.searchable,
        public_meta=meta,
    )
    node.stores.objects.put(record, value)
    node.audit(principal, "object.send", object_id)
    return object_view(record, principal)


def _usable(node: Node, principal: Principal, object_id: Any) -> ObjectRecord:
    if not isinstance(object_id, str):
        raise UsageError("the field 'id' must be an object id string")
    record = node.stores.objects.get(object_id)
    check_use(principal, record)
    return record


@typed_route(OBJECT_INFO, ANYONE)
def info(node: Node, principal: Principal, request: ObjectIdRequest) -> ObjectView:
    return object_view(_usable(node, principal, request.id), principal)


@typed_route(OBJECT_MOCK, ANYONE)
def mock(node: Node, principal: Principal, request: ObjectIdRequest) -> Any:
    record = _usable(node, principal, request.id)
    if record.mock_id is None:
        return None
    check_release(principal, node.stores.objects.get(record.mock_id))  # public: no sources
    return node.stores.objects.value(record.mock_id)


@typed_route(OBJECT_TAG, MEMBERS)
def tag(node: Node, principal: Principal, request: ObjectTagRequest) -> ObjectView:
    record = _usable(node, principal, request.id)
    if record.creator != principal.user_id and not principal.is_admin:
        raise NotFound(f"no object with id {record.id!r} of yours")
    if not may_read(principal, Lineage(record.sources)):
        # Tags steer owner handlers and searchable exposes the object to others: neither is
        # the scientist's to set on a value derived from someone else's data.
        raise PermissionDenied(
            "this value derives from data that is not yours: only the owner may tag it or "
            "make it searchable"
        )
    if request.tags is not None:
        record.tags = tuple(request.tags)
    if request.description is not None:
        record.description = request.description
    if request.searchable is not None:
        record.searchable = request.searchable
    node.stores.objects.update(record)
    return object_view(record, principal)


@typed_route(OBJECT_DROP, ANYONE)
def drop(node: Node, principal: Principal, request: ObjectDropRequest) -> int:
    return node.drop_objects(principal, request.ids)


def release_value(
    node: Node, principal: Principal, record: ObjectRecord, *, audit: bool = True
) -> Any:
    """The stored value of ``record`` if the release rule lets it go to the caller; a grant
    for one release is spent here (``_policy.spend_grant``), under a lock, so that two reads
    at once cannot both use it."""
    check_release(principal, record)
    if CODE_OUTPUT in record.public_meta:
        with node.release_lock:
            record = node.stores.objects.get(record.id)  # as it is now: spent meanwhile?
            check_release(principal, record)
            spent = spend_grant(principal, record)
            if spent is not None:
                node.stores.objects.update(spent)
    if audit:  # what derives from others' data must survive a power loss; one's own may not
        durable = bool(record.sources - {principal.user_id})
        node.audit(principal, "release", record.id, durable=durable)
    return node.stores.objects.value(record.id)


@typed_route(OBJECT_GET, ANYONE)
def get(node: Node, principal: Principal, request: ObjectIdRequest) -> Any:
    return release_value(node, principal, _usable(node, principal, request.id))


def _load_plan(
    node: Node, principal: Principal, plan_id: str, cache: dict[str, ops.PlanGraph]
) -> ops.PlanGraph:
    """The plan stored as object ``plan_id``: one the caller may read (a plan is the
    scientist's own upload), so that whether it decodes tells nothing private."""
    if plan_id not in cache:
        record = _usable(node, principal, plan_id)
        if not may_read(principal, record):
            raise UsageError(f"object {plan_id!r} is not a plan of yours")
        cache[plan_id] = ops.decode_plan(node.stores.objects.value(plan_id))
    return cache[plan_id]


def _plan_lines(origin: dict[str, ops.PlanGraph], ids: list[str]) -> list[str]:
    """For an owner's review: each plan the actions ``ids`` come from, with its hash (which
    an approval can pin) and its graph, above the actions themselves."""
    seen: dict[int, ops.PlanGraph] = {}
    for object_id in ids:
        plan = origin.get(object_id)
        if plan is not None:
            seen.setdefault(id(plan), plan)
    return [line for plan in seen.values() for line in ops.render_plan(plan)]


@typed_route(GRAPH_RUN, ANYONE)
def run_graph(node: Node, principal: Principal, request: GraphRunRequest) -> GraphRunReply:
    """Run actions, keep the results asked for, and release the ones in ``get`` if allowed.

    Lineage is known before anything runs, so a ``get`` that would not pass the release rule
    is refused without running. When a graph on data the caller may not read fails, the
    failure is recorded on its results and the reply is the same as for success: whether
    an operation failed can depend on private values.
    """
    node.drop_objects(principal, request.drop)
    plans: dict[str, ops.PlanGraph] = {}
    actions, origin = ops.expand_calls(
        request.actions, lambda i: _load_plan(node, principal, i, plans), node.limits.max_actions
    )
    if len(actions) > node.limits.max_actions:
        raise OperationNotAllowed(
            f"a graph of {len(actions)} actions is over this node's limit of "
            f"{node.limits.max_actions}: call .compute() on intermediate results"
        )
    keep = set(request.keep)
    wanted = request.get

    inputs: dict[str, ObjectRecord] = {}
    lineage: dict[str, tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {}
    if not all(isinstance(action, ops.Action) for action in actions):
        raise UsageError("'actions' must be a list of unseen actions")
    # An id a plan call derives is checked against the store only where it is stored: an id
    # that only lives in this graph can shadow nothing (a ref to it resolves to the graph's
    # own value). The others are looked up in one query (one per action was most of a
    # graph's cost on a SQL store).
    stored = [a.id for a in actions if a.id not in origin or a.id in keep or a.id in wanted]
    check_new_ids(node, stored)
    for action in actions:
        if action.id in origin and not action.id.isalnum():
            raise UsageError("object ids must be 8 to 64 letters or digits")
        if action.id in lineage:
            raise UsageError(f"the graph defines {action.id!r} twice")
        sources: set[str] = set()
        parent_tags: list[tuple[frozenset[str], tuple[str, ...]]] = []
        parents = tuple(ops.refs_of(action))
        for ref in parents:
            if ref in lineage:
                src, tg, _ = lineage[ref]
            else:
                if ref not in inputs:
                    inputs[ref] = _usable(node, principal, ref)
                src, tg = inputs[ref].sources, inputs[ref].tags
            sources.update(src)
            parent_tags.append((src, tg))
        tags = handler_tags(parent_tags, principal.user_id)
        lineage[action.id] = (frozenset(sources), tags, parents)

    for object_id in wanted:
        if object_id in lineage:
            if not may_read(principal, Lineage(lineage[object_id][0])):
                raise CannotRequestPrivateData()
        else:
            check_release(principal, _usable(node, principal, object_id))

    for object_id in keep:
        if object_id not in lineage:
            raise UsageError(f"the graph does not compute {object_id!r}")

    failure: tuple[str, str] | None = None
    env: dict[str, Any] = {}
    for i, record in inputs.items():
        env[i] = node.stores.objects.value(i)
        if record.error is not None:
            # A failed result holds a stand-in (below): computing on it fails what derives
            # from it, after the same work as on a value.
            if may_read(principal, Lineage(record.sources)):
                check_release(principal, record)  # raises the failure, with its detail
            failure = failure or (str(record.failed_op), record.error)
            if env[i] is None:  # failed before stand-ins were stored
                env[i] = 0.0
    keep_ids = (keep | set(wanted)) & set(lineage)
    # Training: both parts below share the graph's gradient leaves (unseen/ops/_autograd.py).
    tape = ops.GradTape.of(actions)
    if tape is not None:
        env = tape.load(env)
    # Actions on data the caller may read run first, on their own: whether they succeed, and
    # what they return, must not depend on how an action on private data fared.
    readable_ids = {i for i, (s, _, _) in lineage.items() if may_read(principal, Lineage(s))}
    public_part = [a for a in actions if a.id in readable_ids]
    private_part = [a for a in actions if a.id not in readable_ids]
    needed_later = {r for a in private_part for r in lineage[a.id][2] if r in readable_ids}
    results: dict[str, Any] = {}
    try:
        if public_part:
            results = ops.execute(
                public_part, env, keep=(keep_ids & readable_ids) | needed_later,
                limits=node.limits, tape=tape,
            )  # fmt: skip
        if private_part:
            later = {**env, **{i: results[i] for i in needed_later}}
            # A failure here goes on to the end on stand-ins: the time taken must not tell
            # whether (or where) a step on private data failed (docs/security.md, "Timing").
            results.update(
                ops.execute(
                    private_part, later, keep=keep_ids - readable_ids, limits=node.limits,
                    on_failure="continue", tape=tape,
                )
            )  # fmt: skip
    except (ops.ExecutionError, OperationNotAllowed) as exc:
        action = getattr(exc, "action", None)  # an OperationNotAllowed has one if run time
        if action is None or action.id in readable_ids:
            if isinstance(exc, OperationNotAllowed):
                raise
            detail = f"{type(exc.original).__name__}: {exc.original}"
            raise RemoteError(f"{exc.op} failed on the node: {detail}", operation=exc.op) from None
        assert action is not None
        if isinstance(exc, ops.ExecutionError):
            detail = f"{type(exc.original).__name__}: {exc.original}"
        else:
            detail = f"OperationNotAllowed: {exc}"
        log.info("graph of %s failed at %s: %s", principal.user_id, action.label, detail)
        failure = failure or (action.label, detail)
        results.update(getattr(exc, "results", {}))
    if tape is not None:
        results = {k: ops.without_grad(v) for k, v in results.items()}

    index = {a.id: i for i, a in enumerate(actions)}

    def recipe(object_id: str) -> tuple[str, ...]:
        """The rendered actions this object derives from, for an owner's review, after the
        recipes of the stored inputs they read (a fit's settings, say)."""
        needed: set[int] = set()
        stack = [object_id]
        earlier: dict[str, None] = {}
        while stack:
            i = index[stack.pop()]
            if i not in needed:
                needed.add(i)
                for p in lineage[actions[i].id][2]:
                    if p in index:
                        stack.append(p)
                    elif p in inputs:
                        earlier.update(dict.fromkeys(inputs[p].recipe))
        lines = ops.render([actions[i] for i in sorted(needed)])
        plans = _plan_lines(origin, [actions[i].id for i in sorted(needed)])
        return (*earlier, *plans, *lines)

    kept: dict[str, str | None] = {}
    for object_id in sorted(keep_ids):
        lineage_sources, lineage_tags, parent_ids = lineage[object_id]
        value = results.get(object_id)
        # Only results the caller may not read can become requests that an owner reviews.
        readable = object_id in readable_ids
        failed = failure if failure is not None and not readable else None
        record = ObjectRecord(
            id=object_id,
            family="failed" if failed else ops.family_of(value),
            creator=principal.user_id,
            sources=lineage_sources,
            parents=parent_ids,
            tags=lineage_tags,
            recipe=() if readable else recipe(object_id),
            error=failed[1] if failed else None,
            failed_op=failed[0] if failed else None,
        )
        # a computed result can be computed again: a power loss may take it (never half of it)
        node.stores.objects.put(record, value, durable=False)
        kept[object_id] = record.family if readable else None
    node.audit(principal, "graph.run", ",".join(sorted(inputs)) or "-", durable=False)
    values = []
    for object_id in wanted:
        if object_id in lineage:  # readable (checked above), so computed in the first part
            values.append(results[object_id])  # the release rule passed on its lineage above
            continue
        record = node.stores.objects.get(object_id)
        values.append(release_value(node, principal, record, audit=False))
    return GraphRunReply(kept=kept, values=values)
