"""The typed object kinds: send, info, mock, tag, drop, get, ``graph.run``, and the store's
listing and search, whose replies show objects as :class:`ObjectView`.

``graph.run`` and ``object.send`` are the hot path of every computation: they, and the
replies that are object views, are read and written by hand-written functions (below) that
check the declared types without :func:`~unseen.messages.from_wire`'s generic walk over the
fields, and leave any other body to it (so the result, or the error naming a field, is the
same).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
# Each takes a body whose fields have exactly the declared types (what this package's
# clients and nodes send) without the generic walk, and leaves anything else to from_wire,
# which converts it or names what is wrong: the result, or the error, is from_wire's.
Req = TypeVar("Req")
T = TypeVar("T")


def _checked(cls: type[T], values: dict[str, Any]) -> T:
    """A message of every field's value, checked already: made without the frozen
    ``__init__``, which sets each field through ``object.__setattr__`` (half the time of a
    small read). ``values`` must name every field (the tests compare with from_wire's)."""
    message = object.__new__(cls)
    message.__dict__.update(values)
    return message


def _strs(value: Any) -> list[str] | None:
    """A ``list[str]`` field with default ``[]`` as it is, or None if from_wire must say."""
    if value is None:
        return []
    if type(value) is list and all(type(v) is str for v in value):
        return value
    return None


def _str_or_none(value: Any) -> bool:
    return value is None or type(value) is str


_VIEW_FIELDS = frozenset(f.name for f in dataclasses.fields(ObjectView))


def _read_view(body: Any) -> ObjectView:
    if type(body) is dict and body.keys() == _VIEW_FIELDS:
        tags, dataset, mock_id = body["tags"], body["dataset"], body["mock_id"]
        if (
            type(body["id"]) is str
            and type(body["description"]) is str
            and type(body["created_at"]) is float
            and type(body["meta"]) is dict
            and (dataset is None or type(dataset) is str)
            and (mock_id is None or type(mock_id) is str)
            and type(tags) is list
            and (not tags or all(type(t) is str for t in tags))
        ):
            return _checked(ObjectView, body)
    view: ObjectView = from_wire(ObjectView, body)
    return view


def _view_wire(view: ObjectView) -> dict[str, Any]:
    return {
        "id": view.id, "tags": view.tags, "description": view.description,
        "dataset": view.dataset, "mock_id": view.mock_id, "created_at": view.created_at,
        "meta": view.meta,
    }  # fmt: skip


class _Viewed(Kind[Req, ObjectView]):
    """A kind whose reply is one :class:`ObjectView`."""

    def reply_to_wire(self, reply: ObjectView) -> Any:
        return _view_wire(reply)

    def read_reply(self, body: Any) -> ObjectView:
        return _read_view(body)


class _Listed(Kind[Req, list[ObjectView]]):
    """A kind whose reply is a list of :class:`ObjectView` (the store, search results)."""

    def reply_to_wire(self, reply: list[ObjectView]) -> Any:
        return [_view_wire(view) for view in reply]

    def read_reply(self, body: Any) -> list[ObjectView]:
        if type(body) is list:
            return [_read_view(view) for view in body]
        return super().read_reply(body)  # names what is wrong


class _GraphRun(Kind[GraphRunRequest, GraphRunReply]):
    """``graph.run``, read and written without the generic field walk."""

    def read_request(self, body: Any) -> GraphRunRequest:
        if type(body) is dict:
            actions = body.get("actions")
            keep, get, drop = (
                _strs(body.get("keep")),
                _strs(body.get("get")),
                _strs(body.get("drop")),
            )
            if type(actions) is list and keep is not None and get is not None and drop is not None:
                values = {"actions": actions, "keep": keep, "get": get, "drop": drop}
                return _checked(GraphRunRequest, values)
        request: GraphRunRequest = from_wire(GraphRunRequest, body)
        return request

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
        if type(body) is dict:
            kept, values = body.get("kept"), body.get("values")
            if type(kept) is dict and type(values) is list:
                return _checked(GraphRunReply, {"kept": kept, "values": values})
        reply: GraphRunReply = from_wire(GraphRunReply, body)
        return reply


class _ObjectSend(_Viewed[ObjectSendRequest]):
    """``object.send``, read and written without the generic field walk."""

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
        if type(body) is dict:
            get = body.get
            object_id, upload, tags = get("id"), get("upload"), _strs(get("tags"))
            description, searchable = get("description"), get("searchable")
            if (
                tags is not None
                and _str_or_none(object_id)
                and _str_or_none(upload)
                and _str_or_none(description)
                and (searchable is None or type(searchable) is bool)
            ):
                return _checked(ObjectSendRequest, {
                    "id": object_id, "value": get("value"), "tags": tags,
                    "description": description or "", "searchable": searchable or False,
                    "upload": upload,
                })  # fmt: skip
        request: ObjectSendRequest = from_wire(ObjectSendRequest, body)
        return request


OBJECT_SEND: Kind[ObjectSendRequest, ObjectView] = _ObjectSend(
    "object.send", ObjectSendRequest, ObjectView
)
OBJECT_INFO: Kind[ObjectIdRequest, ObjectView] = _Viewed("object.info", ObjectIdRequest, ObjectView)
#: the asset's public mock (any value), or None when it has none
OBJECT_MOCK: Kind[ObjectIdRequest, Any] = Kind("object.mock", ObjectIdRequest, Any)
OBJECT_TAG: Kind[ObjectTagRequest, ObjectView] = _Viewed("object.tag", ObjectTagRequest, ObjectView)
#: how many of the ids were dropped
OBJECT_DROP: Kind[ObjectDropRequest, int] = Kind("object.drop", ObjectDropRequest, int)
#: the value, through the release rule
OBJECT_GET: Kind[ObjectIdRequest, Any] = Kind("object.get", ObjectIdRequest, Any)
GRAPH_RUN: Kind[GraphRunRequest, GraphRunReply] = _GraphRun(
    "graph.run", GraphRunRequest, GraphRunReply
)
STORE_LIST: Kind[StoreListRequest, list[ObjectView]] = _Listed(
    "store.list", StoreListRequest, list[ObjectView]
)
SEARCH: Kind[SearchRequest, list[ObjectView]] = _Listed("search", SearchRequest, list[ObjectView])

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
