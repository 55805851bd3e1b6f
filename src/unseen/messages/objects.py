"""The typed object kinds: send, info, mock, tag, drop, get, ``graph.run``, and the store's
listing and search, whose replies show objects as :class:`ObjectView`.

``graph.run`` and ``object.send`` are the hot path of every computation: their kinds read a
request and a reply with hand-written functions (:class:`_GraphRun`, :class:`_ObjectSend`)
that check the same types as :func:`~unseen.messages.from_wire` and name the same fields in
their errors, without its generic walk over the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.errors import UsageError
from unseen.messages._typed import Kind, from_wire

__all__ = [
    "ObjectView",
    "ObjectSendRequest",
    "ObjectIdRequest",
    "ObjectTagRequest",
    "ObjectDropRequest",
    "GraphRunRequest",
    "GraphRunReply",
    "StoreListRequest",
    "SearchRequest",
    "OBJECT_SEND",
    "OBJECT_INFO",
    "OBJECT_MOCK",
    "OBJECT_TAG",
    "OBJECT_DROP",
    "OBJECT_GET",
    "GRAPH_RUN",
    "STORE_LIST",
    "SEARCH",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class ObjectView:
    """An object as a caller who may use it sees it: its public metadata only. ``meta``
    holds the value's public family, shape and dtype (or columns); it is empty for a
    result derived from data the caller may not read (even a size can leak)."""

    id: str
    tags: list[str]
    description: str
    dataset: str | None  # the dataset of an asset; None otherwise (on the wire too)
    mock_id: str | None  # the object id of an asset's public mock, if it has one
    created_at: float
    meta: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ObjectSendRequest:
    """A value to store: ``value`` inline, or ``upload``, the id of a value streamed ahead
    (``/api/v1/upload``). ``id`` may name the new object (8 to 64 letters or digits)."""

    id: str | None = None
    value: Any = None  # any value serde carries: an array, a frame, a tensor, a scalar
    tags: list[str] = field(default_factory=list)
    description: str = ""
    searchable: bool = False
    upload: str | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectIdRequest:
    """One object, by id (``object.info``, ``object.mock``, ``object.get``)."""

    id: str


@dataclass(frozen=True, kw_only=True)
class ObjectTagRequest:
    """What to change on an object one sent; a field left ``None`` stays as it is."""

    id: str
    tags: list[str] | None = None
    description: str | None = None
    searchable: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectDropRequest:
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class GraphRunRequest:
    """Actions to run; results in ``keep`` stay on the node, those in ``get`` come back
    through the release rule; ``drop`` forgets objects first (pointers the client lost)."""

    #: unseen.ops Actions (typed Any: importing messages must not import unseen.ops; the
    #: node checks each is an Action)
    actions: list[Any]
    keep: list[str] = field(default_factory=list)
    get: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class GraphRunReply:
    """``kept``: each kept id and its family (None for a result the caller may not read);
    ``values``: the values of ``get``, in order."""

    kept: dict[str, str | None]
    values: list[Any]


@dataclass(frozen=True, kw_only=True)
class StoreListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class SearchRequest:
    query: str  # a tag ("#diabetes") or words of names and descriptions


# -- the hot kinds' hand-written reads ------------------------------------------------------
def _map(body: Any, cls: type) -> dict[str, Any]:
    if type(body) is not dict:
        if isinstance(body, dict):
            return dict(body)
        raise UsageError(f"{cls.__name__} must be a map of fields, not {type(body).__name__}")
    return body


def _strs(body: dict[str, Any], name: str) -> list[str]:
    """A ``list[str]`` field with default ``[]``, as from_wire reads it."""
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)) and all(type(v) is str for v in value):
        return list(value)
    if isinstance(value, (list, tuple)):
        raise UsageError(f"the field {name!r} must be a list of str")
    raise UsageError(f"the field {name!r} must be a list of str, not {type(value).__name__}")


class _GraphRun(Kind[GraphRunRequest, GraphRunReply]):
    """``graph.run``, read without the generic field walk (the same checks and errors)."""

    def read_request(self, body: Any) -> GraphRunRequest:
        body = _map(body, GraphRunRequest)
        actions = body.get("actions")
        if actions is None:
            raise UsageError("the message needs the field 'actions'")
        if not isinstance(actions, (list, tuple)):
            raise UsageError(
                f"the field 'actions' must be a list of Any, not {type(actions).__name__}"
            )
        return GraphRunRequest(
            actions=list(actions),
            keep=_strs(body, "keep"),
            get=_strs(body, "get"),
            drop=_strs(body, "drop"),
        )

    def request_to_wire(self, request: GraphRunRequest) -> dict[str, Any]:
        return {
            "actions": request.actions,
            "keep": request.keep,
            "get": request.get,
            "drop": request.drop,
        }

    def reply_to_wire(self, reply: GraphRunReply) -> Any:
        return {"kept": reply.kept, "values": reply.values}

    def read_reply(self, body: Any) -> GraphRunReply:
        if type(body) is dict and type(body.get("kept")) is dict:
            values = body.get("values")
            if isinstance(values, (list, tuple)):
                return GraphRunReply(kept=body["kept"], values=list(values))
        reply: GraphRunReply = from_wire(GraphRunReply, body)  # names what is wrong
        return reply


class _ObjectSend(Kind[ObjectSendRequest, ObjectView]):
    """``object.send``, its request written and read without the generic field walk."""

    def request_to_wire(self, request: ObjectSendRequest) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if request.id is not None:
            wire["id"] = request.id
        if request.value is not None:
            wire["value"] = request.value
        wire["tags"] = request.tags
        wire["description"] = request.description
        wire["searchable"] = request.searchable
        if request.upload is not None:
            wire["upload"] = request.upload
        return wire

    def read_request(self, body: Any) -> ObjectSendRequest:
        body = _map(body, ObjectSendRequest)
        object_id, upload = body.get("id"), body.get("upload")
        description, searchable = body.get("description"), body.get("searchable")
        if object_id is not None and type(object_id) is not str:
            raise UsageError(f"the field 'id' must be str, not {type(object_id).__name__}")
        if upload is not None and type(upload) is not str:
            raise UsageError(f"the field 'upload' must be str, not {type(upload).__name__}")
        if description is not None and type(description) is not str:
            raise UsageError(
                f"the field 'description' must be str, not {type(description).__name__}"
            )
        if searchable is not None and type(searchable) is not bool:
            raise UsageError(
                f"the field 'searchable' must be bool, not {type(searchable).__name__}"
            )
        return ObjectSendRequest(
            id=object_id,
            value=body.get("value"),
            tags=_strs(body, "tags"),
            description=description or "",
            searchable=bool(searchable),
            upload=upload,
        )


OBJECT_SEND: Kind[ObjectSendRequest, ObjectView] = _ObjectSend(
    "object.send", ObjectSendRequest, ObjectView
)
OBJECT_INFO: Kind[ObjectIdRequest, ObjectView] = Kind("object.info", ObjectIdRequest, ObjectView)
#: the asset's public mock (any value), or None when it has none
OBJECT_MOCK: Kind[ObjectIdRequest, Any] = Kind("object.mock", ObjectIdRequest, Any)
OBJECT_TAG: Kind[ObjectTagRequest, ObjectView] = Kind("object.tag", ObjectTagRequest, ObjectView)
#: how many of the ids were dropped
OBJECT_DROP: Kind[ObjectDropRequest, int] = Kind("object.drop", ObjectDropRequest, int)
#: the value, through the release rule
OBJECT_GET: Kind[ObjectIdRequest, Any] = Kind("object.get", ObjectIdRequest, Any)
GRAPH_RUN: Kind[GraphRunRequest, GraphRunReply] = _GraphRun(
    "graph.run", GraphRunRequest, GraphRunReply
)
STORE_LIST: Kind[StoreListRequest, list[ObjectView]] = Kind(
    "store.list", StoreListRequest, list[ObjectView]
)
SEARCH: Kind[SearchRequest, list[ObjectView]] = Kind("search", SearchRequest, list[ObjectView])

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    OBJECT_SEND,
    OBJECT_INFO,
    OBJECT_MOCK,
    OBJECT_TAG,
    OBJECT_DROP,
    OBJECT_GET,
    GRAPH_RUN,
    STORE_LIST,
    SEARCH,
)
