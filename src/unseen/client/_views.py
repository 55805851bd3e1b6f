"""Views a user browses: requests, the store, search results and datasets, as tables."""

from __future__ import annotations

import dataclasses
import html
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from unseen.errors import NotFound, RequestTimeout, UsageError
from unseen.messages.code import CODE_MOCK, CodeMockRequest
from unseen.messages.datasets import AssetView, DatasetView
from unseen.messages.objects import OBJECT_INFO, ObjectIdRequest
from unseen.messages.requests import (
    HANDLER_ADD,
    HANDLER_LIST,
    HANDLER_REMOVE,
    REQUEST_DECIDE,
    REQUEST_LIST,
    REQUEST_RESULT,
    REQUEST_WAIT,
    HandlerAddRequest,
    HandlerListRequest,
    HandlerRemoveRequest,
    HandlerView,
    RequestDecideRequest,
    RequestListRequest,
    RequestResultRequest,
    RequestView,
    RequestWaitRequest,
)

if TYPE_CHECKING:
    import pandas

    from unseen.client._client import Client
    from unseen.client._pointer import Pointer

DEFAULT_WAIT_SECS = 3600.0


def _text_table(columns: list[str], rows: list[list[str]]) -> str:
    cells = [columns, *rows]
    widths = [min(40, max(len(str(r[i])) for r in cells)) for i in range(len(columns))]
    lines = ["  ".join(str(v)[:40].ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _frame(columns: list[str], rows: list[list[Any]]) -> pandas.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


class Request:
    """One request to release a value. Owners accept or deny it; the requester gets it.

    Its fields are those of the node's :class:`~unseen.messages.requests.RequestView`
    (``.view``), except ``requester``: the requester's name (``requester_id`` is their id)."""

    def __init__(self, client: Client, view: RequestView) -> None:
        self._client = client
        self._view = view

    @property
    def view(self) -> RequestView:
        """The request as the node last showed it."""
        return self._view

    @property
    def id(self) -> str:
        return self._view.id

    @property
    def object_id(self) -> str:
        return self._view.object_id

    @property
    def name(self) -> str:
        return self._view.name

    @property
    def reason(self) -> str:
        return self._view.reason

    @property
    def status(self) -> str:
        return self._view.status

    @property
    def requester(self) -> str:
        """Who asked: their name (``requester_id`` is their user id)."""
        return self._view.requester_name or self.requester_id[:8]

    @property
    def requester_id(self) -> str:
        return self._view.requester

    @property
    def requester_name(self) -> str:
        return self._view.requester_name

    @property
    def graph(self) -> list[str]:
        return list(self._view.graph)

    @property
    def plan_hashes(self) -> list[str]:
        """The sha256 of each plan (``unseen.plan``) the value was computed by, from the
        graph the node wrote: what an approval of a plan pins."""
        from unseen import ops

        return ops.plan_hashes(self._view.graph)

    @property
    def tags(self) -> list[str]:
        return list(self._view.tags)

    @property
    def deny_reason(self) -> str:
        return self._view.deny_reason

    @property
    def decided_by(self) -> str:
        return self._view.decided_by

    @property
    def created_at(self) -> float:
        return self._view.created_at

    @property
    def decided_at(self) -> float | None:
        return self._view.decided_at

    def refresh(self) -> Request:
        for view in self._client.ask(REQUEST_LIST, RequestListRequest()):
            if view.id == self.id:
                self._view = view
                return self
        raise NotFound(f"request {self.id!r} is gone")

    def accept(self) -> Request:
        """Release the value to the requester (owners and admins)."""
        self._view = self._client.ask(
            REQUEST_DECIDE, RequestDecideRequest(id=self.id, action="accept")
        )
        return self

    def deny(self, reason: str = "") -> Request:
        self._view = self._client.ask(
            REQUEST_DECIDE, RequestDecideRequest(id=self.id, action="deny", reason=reason)
        )
        return self

    def wait(self, timeout_secs: float | None = None) -> Request:
        """Block until the owner decides; raise RequestTimeout after ``timeout_secs``."""
        timeout = DEFAULT_WAIT_SECS if timeout_secs is None else float(timeout_secs)
        self._view = self._client.ask(REQUEST_WAIT, RequestWaitRequest(id=self.id, timeout=timeout))
        if self.status == "pending":
            raise RequestTimeout(
                f"no decision on request {self.name!r} within {timeout:g} s; it stays pending: "
                "collect the value later with client.requests[i].get()"
            )
        return self

    def get(self) -> Any:
        """The released value (raises RequestDenied if the owner said no)."""
        return self._client.ask(REQUEST_RESULT, RequestResultRequest(id=self.id))

    def __repr__(self) -> str:
        return (
            f"<Request {self.name!r} by {self.requester}: {self.status}"
            f"{' (' + self.deny_reason + ')' if self.deny_reason else ''}>"
        )

    @property
    def code(self) -> Any:
        """A code request's submission for review (:class:`unseen.client.CodeReview`:
        source, inputs, hash, diff against earlier versions); for a request to release a
        value, the operations that produced it (a str)."""
        if self._view.code is not None:
            from unseen.client._code import CodeReview

            return CodeReview(self._view.code)
        return "\n".join(self._view.graph)

    @property
    def standing(self) -> Any:
        """For a standing approval of federated fits (``unseen.fl.fit``), what it covers
        (:class:`unseen.messages.requests.GrantView`: the configuration and its hash, the
        rounds and those used, the data); None for any other request."""
        return self._view.standing

    def run_on_mock(self) -> Any:
        """Run a code request's function on the mocks of its inputs (owners and admins): in
        the node's job executor, isolated like a job; returns its value (public: mocks in)."""
        if self._view.code is None:
            raise UsageError("only a code request has a function to run on the mocks")
        return self._client.ask(CODE_MOCK, CodeMockRequest(request_id=self.id))


_REQUEST_COLUMNS = ["Request Name", "Reason", "Requester", "Status", "Request ID"]


class RequestList(Sequence[Request]):
    """Requests as a table; ``[i]`` gives a :class:`Request`; ``.pandas`` a DataFrame."""

    def __init__(self, client: Client, views: list[RequestView]) -> None:
        self._client = client
        self._items = [Request(client, v) for v in views]

    @overload
    def __getitem__(self, index: int) -> Request: ...
    @overload
    def __getitem__(self, index: slice) -> list[Request]: ...
    def __getitem__(self, index: int | slice) -> Request | list[Request]:
        if isinstance(index, int) and not -len(self._items) <= index < len(self._items):
            raise IndexError(
                f"there are {len(self._items)} requests; index {index} is out of range"
            )
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def pending(self) -> list[Request]:
        return [r for r in self._items if r.status == "pending"]

    def _rows(self) -> list[list[str]]:
        return [[r.name, r.reason, r.requester, r.status, r.id] for r in self._items]

    @property
    def pandas(self) -> pandas.DataFrame:
        return _frame(_REQUEST_COLUMNS, self._rows())

    def __repr__(self) -> str:
        if not self._items:
            return "No requests."
        return _text_table(_REQUEST_COLUMNS, self._rows())

    def _repr_html_(self) -> str:
        return _html_table(_REQUEST_COLUMNS, self._rows())

    def add_handler(
        self,
        action: str = "accept",
        name: str | None = None,
        requester: str | None = None,
        tags: list[str] | None = None,
    ) -> HandlerView:
        """A policy: decide matching requests (now pending and future) automatically."""
        request = HandlerAddRequest(
            action=action, name=name, requester=requester, tags=list(tags or [])
        )
        return self._client.ask(HANDLER_ADD, request)

    @property
    def handlers(self) -> list[HandlerView]:
        return self._client.ask(HANDLER_LIST, HandlerListRequest())

    def remove_handler(self, handler_id: str) -> None:
        self._client.ask(HANDLER_REMOVE, HandlerRemoveRequest(id=handler_id))


_STORE_COLUMNS = ["ID", "Tags", "Description"]


class StoreView(Sequence["Pointer"]):
    """The objects you may use; index by position, tag or id."""

    def __init__(self, client: Client, pointers: list[Pointer]) -> None:
        self._client = client
        self._pointers = pointers

    @overload
    def __getitem__(self, key: int | str) -> Pointer: ...
    @overload
    def __getitem__(self, key: slice) -> list[Pointer]: ...
    def __getitem__(self, key: int | str | slice) -> Pointer | list[Pointer]:
        if isinstance(key, str):
            for pointer in self._pointers:
                if key == pointer.id or key in pointer.tags:
                    return pointer
            raise NotFound(f"no object tagged or with id {key!r} in the store")
        if isinstance(key, int) and not -len(self._pointers) <= key < len(self._pointers):
            raise IndexError(
                f"the store holds {len(self._pointers)} objects; index {key} is out of range"
            )
        return self._pointers[key]

    def __len__(self) -> int:
        return len(self._pointers)

    def _rows(self) -> list[list[str]]:
        return [[p.id, " ".join(p.tags), p.description] for p in self._pointers]

    @property
    def pandas(self) -> pandas.DataFrame:
        return _frame(_STORE_COLUMNS, [[p.id, p.tags, p.description] for p in self._pointers])

    def __repr__(self) -> str:
        return (
            _text_table(_STORE_COLUMNS, self._rows()) if self._pointers else "The store is empty."
        )

    def _repr_html_(self) -> str:
        return _html_table(_STORE_COLUMNS, self._rows())


class SearchResults(list):  # type: ignore[type-arg]
    """Pointers found by a search, with the seed's summary: a count and a tag profile."""

    def __init__(self, pointers: list[Pointer], query: str) -> None:
        super().__init__(pointers)
        self.query = query

    def tag_profile(self) -> Counter[str]:
        return Counter(tag for p in self for tag in p.tags)

    def summary(self) -> str:
        lines = [
            f"Found {len(self)} result{'' if len(self) == 1 else 's'}"
            + (" in total." if self else ".")
        ]
        profile = self.tag_profile()
        if profile:
            lines.append("Tag Profile:")
            lines += [f"  {tag} found {count}" for tag, count in profile.most_common()]
        if not self:
            lines.append("Try fewer words, or a tag such as '#diabetes'.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary() + "".join(f"\n[{i}] {p!r}" for i, p in enumerate(self))


_DATASET_COLUMNS = ["Name", "Assets", "Tags", "Description"]


class DatasetList(Sequence["NodeDataset"]):
    """Datasets on the node; ``["name"]`` gives one, ``["name"]["asset"]`` a pointer."""

    def __init__(self, client: Client, views: list[DatasetView]) -> None:
        self._client = client
        self._views = views

    @overload
    def __getitem__(self, key: int | str) -> NodeDataset: ...
    @overload
    def __getitem__(self, key: slice) -> list[NodeDataset]: ...
    def __getitem__(self, key: int | str | slice) -> NodeDataset | list[NodeDataset]:
        if isinstance(key, str):
            for view in self._views:
                if key in (view.name, view.id):
                    return NodeDataset(self._client, view)
            raise NotFound(f"no dataset named {key!r}")
        if isinstance(key, slice):
            return [NodeDataset(self._client, v) for v in self._views[key]]
        return NodeDataset(self._client, self._views[key])

    def __len__(self) -> int:
        return len(self._views)

    def _rows(self) -> list[list[str]]:
        return [
            [v.name, ", ".join(a.name for a in v.assets), " ".join(v.tags), v.description]
            for v in self._views
        ]

    @property
    def pandas(self) -> pandas.DataFrame:
        return _frame(_DATASET_COLUMNS, self._rows())

    def __repr__(self) -> str:
        return _text_table(_DATASET_COLUMNS, self._rows()) if self._views else "No datasets."

    def _repr_html_(self) -> str:
        return _html_table(_DATASET_COLUMNS, self._rows())


class NodeDataset:
    """One dataset on the node: ``ds["asset name"]`` is a pointer to that asset; its
    metadata are attributes (``.name``, ``.assets``, ``.tags``, ...: those of
    :class:`~unseen.messages.datasets.DatasetView`), and ``ds["name"]`` reads one too."""

    def __init__(self, client: Client, view: DatasetView) -> None:
        self._client = client
        self.view = view

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def description(self) -> str:
        return self.view.description

    @property
    def tags(self) -> list[str]:
        return list(self.view.tags)

    @property
    def citation(self) -> str:
        return self.view.citation

    @property
    def assets(self) -> list[AssetView]:
        return list(self.view.assets)

    @property
    def uploader(self) -> str:
        return self.view.uploader

    @property
    def created_at(self) -> float:
        return self.view.created_at

    def __getitem__(self, key: str) -> Any:
        for asset in self.view.assets:
            if asset.name == key:
                info = self._client.ask(OBJECT_INFO, ObjectIdRequest(id=asset.object_id))
                return self._client._pointer_from_info(info)
        if key in _DATASET_FIELDS:
            return getattr(self.view, key)
        raise UsageError(f"dataset {self.view.name!r} has no asset {key!r}")

    def __repr__(self) -> str:
        assets = ", ".join(a.name for a in self.view.assets)
        return f"<Dataset {self.view.name!r}: {assets}>"


_DATASET_FIELDS = frozenset(f.name for f in dataclasses.fields(DatasetView))
