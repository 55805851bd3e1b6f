"""The typed ``request.*`` and ``handler.*`` kinds: asking the owner to release a value,
the owner's decisions, collecting the value, and the owner's automatic handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "CodeInput",
    "CodeView",
    "GrantView",
    "RequestView",
    "HandlerView",
    "RequestCreateRequest",
    "RequestListRequest",
    "RequestDecideRequest",
    "RequestWaitRequest",
    "RequestResultRequest",
    "HandlerAddRequest",
    "HandlerListRequest",
    "HandlerRemoveRequest",
    "REQUEST_CREATE",
    "REQUEST_LIST",
    "REQUEST_DECIDE",
    "REQUEST_WAIT",
    "REQUEST_RESULT",
    "HANDLER_ADD",
    "HANDLER_LIST",
    "HANDLER_REMOVE",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class CodeInput:
    """A declared input of a code request: the function's parameter ``name``, the node's
    ``object_id`` it is bound to, and a ``label`` for people (``"Diabetes/data"``)."""

    name: str
    object_id: str
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class CodeView:
    """What a code request asks to run: the function's ``source`` (its ``def``, dedented,
    without the decorator), its declared ``inputs`` and ``output``, and ``hash``: sha256 of
    all of them (:func:`unseen.messages.code.code_hash`), to which an approval is pinned.
    ``diff`` is a unified diff against the same scientist's previous request for a function
    of the same name ("" for the first)."""

    function: str
    source: str
    inputs: list[CodeInput]
    output: str
    hash: str
    diff: str = ""


@dataclass(frozen=True, kw_only=True)
class GrantView:
    """What a standing approval of federated fits covers (``train.approval``): the weights and
    training losses of ``rounds`` fits (``used`` so far) of the configuration ``config_hash`` (its public
    ``config``: architecture, loss, optimizer, lr, epochs, batch size) on ``data`` and
    ``target``, each from weights of the requester's own."""

    config_hash: str
    config: dict[str, Any]
    rounds: int
    used: int
    data: str
    target: str


@dataclass(frozen=True, kw_only=True)
class RequestView:
    """A request to release one object as the node shows it: ``requester`` is the user id
    (``requester_name`` their name), ``status`` is ``"pending"``, ``"accepted"`` or
    ``"denied"``, ``graph`` the recipe of the value for the owner to review. A code request
    (``code`` set) asks to run a function instead (:mod:`unseen.messages.code`)."""

    id: str
    object_id: str
    requester: str
    requester_name: str
    name: str
    reason: str
    status: str
    graph: list[str]
    tags: list[str]
    deny_reason: str = ""
    decided_by: str = ""
    created_at: float
    decided_at: float | None  # None while pending; on the wire as None too (protocol 1.0)
    code: CodeView | None = None  # a code request's submission; its object_id is ""
    standing: GrantView | None = None  # a standing approval of fits; its object_id is ""


@dataclass(frozen=True, kw_only=True)
class HandlerView:
    """An owner's policy: requests matching every given field (``None``: any) are decided
    with ``action`` (``"accept"`` or ``"deny"``) as they arrive."""

    id: str
    action: str
    name: str | None
    requester: str | None
    tags: list[str]
    created_at: float


@dataclass(frozen=True, kw_only=True)
class RequestCreateRequest:
    object_id: str
    name: str = ""  # "" names it after the failed operation, or "request"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RequestListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class RequestDecideRequest:
    id: str
    action: str  # "accept" or "deny"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RequestWaitRequest:
    id: str
    timeout: float = 30.0  # seconds, at most an hour


@dataclass(frozen=True, kw_only=True)
class RequestResultRequest:
    id: str


@dataclass(frozen=True, kw_only=True)
class HandlerAddRequest:
    action: str  # "accept" or "deny"
    name: str | None = None
    requester: str | None = None  # a user id or name
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class HandlerListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class HandlerRemoveRequest:
    id: str


REQUEST_CREATE: Kind[RequestCreateRequest, RequestView] = Kind(
    "request.create", RequestCreateRequest, RequestView
)
REQUEST_LIST: Kind[RequestListRequest, list[RequestView]] = Kind(
    "request.list", RequestListRequest, list[RequestView]
)
REQUEST_DECIDE: Kind[RequestDecideRequest, RequestView] = Kind(
    "request.decide", RequestDecideRequest, RequestView
)
REQUEST_WAIT: Kind[RequestWaitRequest, RequestView] = Kind(
    "request.wait", RequestWaitRequest, RequestView
)
#: the released value: an array, frame, tensor or scalar (decoded by serde)
REQUEST_RESULT: Kind[RequestResultRequest, Any] = Kind("request.result", RequestResultRequest, Any)
HANDLER_ADD: Kind[HandlerAddRequest, HandlerView] = Kind(
    "handler.add", HandlerAddRequest, HandlerView
)
HANDLER_LIST: Kind[HandlerListRequest, list[HandlerView]] = Kind(
    "handler.list", HandlerListRequest, list[HandlerView]
)
HANDLER_REMOVE: Kind[HandlerRemoveRequest, None] = Kind(
    "handler.remove", HandlerRemoveRequest, None
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    REQUEST_CREATE,
    REQUEST_LIST,
    REQUEST_DECIDE,
    REQUEST_WAIT,
    REQUEST_RESULT,
    HANDLER_ADD,
    HANDLER_LIST,
    HANDLER_REMOVE,
)
