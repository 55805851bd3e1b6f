"""Handlers for objects: send, info, mocks, tags, drops, running graphs and plain gets."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from unseen import ops
from unseen.errors import (
    CannotRequestPrivateData,
    NotFound,
    OperationNotAllowed,
    RemoteError,
    UsageError,
)
from unseen.node._meta import public_meta
from unseen.node._policy import check_release, check_use, may_read
from unseen.node._principal import ANYONE, MEMBERS, Principal
from unseen.node._routes import field, route, str_list
from unseen.store import ObjectRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

log = logging.getLogger("unseen.node")


def new_id() -> str:
    return uuid.uuid4().hex


def check_new_id(node: Node, object_id: Any) -> str:
    if not isinstance(object_id, str) or not (8 <= len(object_id) <= 64) or not object_id.isalnum():
        raise UsageError("object ids must be 8 to 64 letters or digits")
    if node.stores.objects.exists(object_id):
        raise UsageError(f"an object with id {object_id!r} exists already: use a fresh id")
    return object_id


def object_view(record: ObjectRecord, principal: Principal) -> dict[str, Any]:
    """What a caller who may use the object sees of it. Results derived from data the caller
    may not read show no shape: even a result's size can leak (a filter's row count)."""
    view: dict[str, Any] = {
        "id": record.id,
        "tags": list(record.tags),
        "description": record.description,
        "dataset": record.dataset,
        "mock_id": record.mock_id,
        "created_at": record.created_at,
    }
    if not record.parents or may_read(principal, record):
        view["meta"] = dict(record.public_meta)
    else:
        view["meta"] = {}
    return view


@route("object.send", MEMBERS)
def send(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    object_id = check_new_id(node, body.get("id") or new_id())
    value = body.get("value")
    meta = public_meta(value)
    record = ObjectRecord(
        id=object_id,
        family=meta["family"],
        creator=principal.user_id,
        sources=frozenset({principal.user_id}),
        tags=tuple(str_list(body, "tags")),
        description=field(body, "description", str, default=""),
        searchable=field(body, "searchable", bool, default=False),
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


@route("object.info", ANYONE)
def info(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    return object_view(_usable(node, principal, body.get("id")), principal)


@route("object.mock", ANYONE)
def mock(node: Node, principal: Principal, body: dict[str, Any]) -> Any:
    record = _usable(node, principal, body.get("id"))
    if record.mock_id is None:
        return None
    return node.stores.objects.value(record.mock_id)


@route("object.tag", MEMBERS)
def tag(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    record = _usable(node, principal, body.get("id"))
    if record.creator != principal.user_id and not principal.is_admin:
        raise NotFound(f"no object with id {record.id!r} of yours")
    if "tags" in body:
        record.tags = tuple(str_list(body, "tags"))
    if "description" in body:
        record.description = field(body, "description", str)
    if "searchable" in body:
        record.searchable = field(body, "searchable", bool)
    node.stores.objects.update(record)
    return object_view(record, principal)


@route("object.drop", ANYONE)
def drop(node: Node, principal: Principal, body: dict[str, Any]) -> int:
    return node.drop_objects(principal, str_list(body, "ids"))


@route("object.get", ANYONE)
def get(node: Node, principal: Principal, body: dict[str, Any]) -> Any:
    record = _usable(node, principal, body.get("id"))
    check_release(principal, record)
    node.audit(principal, "release", record.id)
    return node.stores.objects.value(record.id)


@route("graph.run", ANYONE)
def run_graph(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Run actions, keep the results asked for, and release the ones in ``get`` if allowed.

    Lineage is known before anything runs, so a ``get`` that would not pass the release rule
    is refused without running. When a graph on data the caller may not read fails, the
    failure is recorded on its results and the reply is the same as for success: whether
    an operation failed can depend on private values.
    """
    node.drop_objects(principal, str_list(body, "drop"))
    actions = field(body, "actions", (list, tuple))
    if len(actions) > node.limits.max_actions:
        raise OperationNotAllowed(
            f"a graph of {len(actions)} actions is over this node's limit of "
            f"{node.limits.max_actions}: call .compute() on intermediate results"
        )
    keep = set(str_list(body, "keep"))
    wanted = str_list(body, "get")

    inputs: dict[str, ObjectRecord] = {}
    lineage: dict[str, tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {}
    for action in actions:
        if not isinstance(action, ops.Action):
            raise UsageError("'actions' must be a list of unseen actions")
        check_new_id(node, action.id)
        if action.id in lineage:
            raise UsageError(f"the graph defines {action.id!r} twice")
        sources: set[str] = set()
        tags: set[str] = set()
        parents = tuple(ops.refs_of(action))
        for ref in parents:
            if ref in lineage:
                sources.update(lineage[ref][0])
                tags.update(lineage[ref][1])
            else:
                if ref not in inputs:
                    inputs[ref] = _usable(node, principal, ref)
                sources.update(inputs[ref].sources)
                tags.update(inputs[ref].tags)
        lineage[action.id] = (frozenset(sources), tuple(sorted(tags)), parents)

    for object_id in wanted:
        if object_id in lineage:
            readable = lineage[object_id][0] <= {principal.user_id} or principal.is_admin
            if not readable:
                raise CannotRequestPrivateData()
        else:
            check_release(principal, _usable(node, principal, object_id))

    for object_id in keep:
        if object_id not in lineage:
            raise UsageError(f"the graph does not compute {object_id!r}")

    env = {i: node.stores.objects.value(i) for i in inputs}
    keep_ids = (keep | set(wanted)) & set(lineage)
    failure: tuple[str, str] | None = None
    results: dict[str, Any] = {}
    try:
        results = ops.execute(actions, env, keep=keep_ids, limits=node.limits)
    except ops.ExecutionError as exc:
        detail = f"{type(exc.original).__name__}: {exc.original}"
        private = lineage[exc.action.id][0] - {principal.user_id}
        if not private or principal.is_admin:
            raise RemoteError(f"{exc.op} failed on the node: {detail}", operation=exc.op) from None
        log.info("graph of %s failed at %s: %s", principal.user_id, exc.op, detail)
        failure = (exc.op, detail)

    index = {a.id: i for i, a in enumerate(actions)}

    def recipe(object_id: str) -> tuple[str, ...]:
        """The rendered actions this object derives from, for an owner's review."""
        needed: set[int] = set()
        stack = [object_id]
        while stack:
            i = index[stack.pop()]
            if i not in needed:
                needed.add(i)
                stack.extend(p for p in lineage[actions[i].id][2] if p in index)
        return tuple(ops.render([actions[i] for i in sorted(needed)]))

    kept: dict[str, str | None] = {}
    for object_id in sorted(keep_ids):
        lineage_sources, lineage_tags, parent_ids = lineage[object_id]
        value = results.get(object_id)
        # Only results the caller may not read can become requests that an owner reviews.
        readable = principal.is_admin or lineage_sources <= {principal.user_id}
        record = ObjectRecord(
            id=object_id,
            family="failed" if failure else ops.family_of(value),
            creator=principal.user_id,
            sources=lineage_sources,
            parents=parent_ids,
            tags=lineage_tags,
            recipe=() if readable else recipe(object_id),
            error=failure[1] if failure else None,
            failed_op=failure[0] if failure else None,
        )
        node.stores.objects.put(record, value)
        kept[object_id] = record.family if readable else None
    node.audit(principal, "graph.run", ",".join(sorted(inputs)) or "-")
    values = []
    for object_id in wanted:
        if object_id in lineage and failure is None:
            values.append(results[object_id])  # the release rule passed on its lineage above
            continue
        check_release(principal, node.stores.objects.get(object_id))
        values.append(node.stores.objects.value(object_id))
    return {"kept": kept, "values": values}
