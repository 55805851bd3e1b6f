"""Handlers for the request queue: create, list, decide, wait, collect, and owner handlers.

Typed kinds (:mod:`unseen.messages.requests`): each handler takes its request type and returns
its reply type; the route converts from and to the wire.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen.errors import NotFound, RequestDenied, UsageError
from unseen.messages.requests import (
    HANDLER_ADD,
    HANDLER_LIST,
    HANDLER_REMOVE,
    REQUEST_CREATE,
    REQUEST_DECIDE,
    REQUEST_LIST,
    REQUEST_RESULT,
    REQUEST_WAIT,
    CodeInput,
    CodeView,
    GrantView,
    HandlerAddRequest,
    HandlerListRequest,
    HandlerRemoveRequest,
    HandlerView,
    RequestCreateRequest,
    RequestDecideRequest,
    RequestListRequest,
    RequestResultRequest,
    RequestView,
    RequestWaitRequest,
)
from unseen.node._objects import release_value
from unseen.node._policy import check_use, may_read
from unseen.node._principal import ADMINS, ANYONE, Principal
from unseen.node._routes import typed_route
from unseen.store import HandlerRecord, RequestRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

MAX_WAIT_SECS = 3600.0


def request_view(record: RequestRecord) -> RequestView:
    return RequestView(
        id=record.id,
        object_id=record.object_id,
        requester=record.requester,
        requester_name=record.requester_name,
        name=record.name,
        reason=record.reason,
        status=record.status,
        graph=list(record.graph),
        tags=list(record.tags),
        deny_reason=record.deny_reason,
        decided_by=record.decided_by,
        created_at=record.created_at,
        decided_at=record.decided_at,
        code=None if record.code is None else code_view(record.code),
        standing=None if record.standing is None else GrantView(**record.standing),
    )


def code_view(code: dict[str, Any]) -> CodeView:
    return CodeView(
        function=code["function"],
        source=code["source"],
        inputs=[CodeInput(**i) for i in code["inputs"]],
        output=code["output"],
        hash=code["hash"],
        diff=code.get("diff", ""),
    )


def handler_view(handler: HandlerRecord) -> HandlerView:
    return HandlerView(
        id=handler.id,
        action=handler.action,
        name=handler.name,
        requester=handler.requester,
        tags=list(handler.tags),
        created_at=handler.created_at,
    )


def _own_request(node: Node, principal: Principal, request_id: str) -> RequestRecord:
    record = node.stores.requests.get(request_id)
    if record.requester != principal.user_id and not principal.is_admin:
        raise NotFound(f"no request with id {request_id!r}")
    return record


def _matches(handler: HandlerRecord, request: RequestRecord) -> bool:
    return (
        request.code is None  # code is read by a person: no handler approves it
        and (handler.name is None or handler.name == request.name)
        and (
            handler.requester is None
            or handler.requester in (request.requester, request.requester_name)
        )
        and set(handler.tags) <= set(request.tags)
    )


def matching_handler(node: Node, request: RequestRecord) -> HandlerRecord | None:
    """The owner's first handler that decides this pending request, if any."""
    for handler in node.stores.handlers.list():
        if _matches(handler, request):
            return handler
    return None


def decide(
    node: Node, record: RequestRecord, action: str, by: str, reason: str = ""
) -> RequestRecord:
    """Record a decision and grant read access on accept; wakes waiting callers."""
    if record.status != "pending":
        raise UsageError(f"request {record.name!r} was {record.status} already")
    if action not in ("accept", "deny"):
        raise UsageError(f"a decision is 'accept' or 'deny', not {action!r}")
    record.status = "accepted" if action == "accept" else "denied"
    record.deny_reason = reason if action == "deny" else ""
    record.decided_by = by
    record.decided_at = time.time()
    # The decision is written first: a node killed before the grant below finishes it on
    # restart (repair_grants); the other order could release a value nobody accepted.
    node.stores.requests.update(record)
    if action == "accept":
        _grant(node, record)
    node.audit_id(by, f"request.{action}", record.id)
    node.notify_decision()
    return record


def _grant(node: Node, record: RequestRecord) -> None:
    if record.code is not None or record.standing is not None:
        return  # approves running a hash or fits of a configuration: no object to grant
    obj = node.stores.objects.get(record.object_id)
    if record.requester not in obj.readers:
        obj.readers = obj.readers | {record.requester}
        node.stores.objects.update(obj)


def repair_grants(node: Node) -> None:
    """Give every accepted request its read grant (finishes a decision cut short by a crash)."""
    for record in node.stores.requests.list():
        if record.status == "accepted" and node.stores.objects.exists(record.object_id):
            _grant(node, record)


@typed_route(REQUEST_CREATE, ANYONE)
def create(node: Node, principal: Principal, request: RequestCreateRequest) -> RequestView:
    object_id = request.object_id
    obj = node.stores.objects.get(object_id)
    check_use(principal, obj)
    # a failed operation's name only where the caller may read it: whether an operation on
    # private data failed is private too
    failed_op = obj.failed_op if may_read(principal, obj) else None
    name = request.name or failed_op or "request"
    for existing in node.stores.requests.list():
        if (
            existing.object_id == object_id
            and existing.requester == principal.user_id
            and existing.status == "pending"
        ):
            return request_view(existing)
    record = RequestRecord(
        id=uuid.uuid4().hex,
        object_id=object_id,
        requester=principal.user_id,
        requester_name=principal.name,
        name=name,
        reason=request.reason,
        graph=obj.recipe,
        tags=obj.tags,
    )
    if may_read(principal, obj):
        record.status = "accepted"
        record.decided_by = "release rule"
        record.decided_at = time.time()
    node.stores.requests.add(record)
    node.audit(principal, "request.create", record.id)
    if record.status == "pending":
        handler = matching_handler(node, record)
        if handler is not None:
            record = decide(node, record, handler.action, by=f"handler {handler.id}")
    return request_view(record)


@typed_route(REQUEST_LIST, ANYONE)
def list_requests(
    node: Node, principal: Principal, request: RequestListRequest
) -> list[RequestView]:
    records = sorted(node.stores.requests.list(), key=lambda r: r.created_at)
    if not principal.is_admin:
        records = [r for r in records if r.requester == principal.user_id]
    return [request_view(r) for r in records]


@typed_route(REQUEST_DECIDE, ADMINS)
def decide_request(node: Node, principal: Principal, request: RequestDecideRequest) -> RequestView:
    record = _own_request(node, principal, request.id)
    record = decide(node, record, request.action, by=principal.user_id, reason=request.reason)
    return request_view(record)


@typed_route(REQUEST_WAIT, ANYONE)
def wait(node: Node, principal: Principal, request: RequestWaitRequest) -> RequestView:
    timeout = request.timeout
    if not 0 <= timeout <= MAX_WAIT_SECS:
        raise UsageError(f"timeout must be between 0 and {MAX_WAIT_SECS:.0f} seconds")
    deadline = time.monotonic() + timeout
    while True:
        seen = node.decisions  # read before the record, so no decision slips in between
        record = _own_request(node, principal, request.id)
        left = deadline - time.monotonic()
        if record.status != "pending" or left <= 0:
            return request_view(record)
        node.wait_for_decision(seen, left)


@typed_route(REQUEST_RESULT, ANYONE)
def result(node: Node, principal: Principal, request: RequestResultRequest) -> Any:
    record = _own_request(node, principal, request.id)
    if record.status == "denied":
        why = f": {record.deny_reason}" if record.deny_reason else ""
        raise RequestDenied(f"the data owner denied request {record.name!r}{why}")
    if record.status == "pending":
        raise UsageError(f"request {record.name!r} is still pending: wait for the owner's decision")
    if record.code is not None:
        raise UsageError(
            f"request {record.name!r} approves code, it holds no value: run it with "
            "client.code.run(fn); the job's .result is the value"
        )
    if record.standing is not None:
        raise UsageError(
            f"request {record.name!r} approves federated fits, it holds no value: each "
            "covered fit's weights are yours to read (unseen.fl.fit reads them)"
        )
    return release_value(node, principal, node.stores.objects.get(record.object_id))


@typed_route(HANDLER_ADD, ADMINS)
def add_handler(node: Node, principal: Principal, request: HandlerAddRequest) -> HandlerView:
    action = request.action
    if action not in ("accept", "deny"):
        raise UsageError(f"a handler's action is 'accept' or 'deny', not {action!r}")
    handler = HandlerRecord(
        id=uuid.uuid4().hex,
        action=action,  # type: ignore[arg-type]
        name=request.name,
        requester=request.requester,
        tags=tuple(request.tags),
    )
    node.stores.handlers.add(handler)
    for record in node.stores.requests.list():
        if record.status == "pending" and _matches(handler, record):
            decide(node, record, handler.action, by=f"handler {handler.id}")
    return handler_view(handler)


@typed_route(HANDLER_LIST, ADMINS)
def list_handlers(
    node: Node, principal: Principal, request: HandlerListRequest
) -> list[HandlerView]:
    return [
        handler_view(h) for h in sorted(node.stores.handlers.list(), key=lambda h: h.created_at)
    ]


@typed_route(HANDLER_REMOVE, ADMINS)
def remove_handler(node: Node, principal: Principal, request: HandlerRemoveRequest) -> None:
    node.stores.handlers.remove(request.id)
