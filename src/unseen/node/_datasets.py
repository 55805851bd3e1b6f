"""Handlers for datasets, search and the store listing (the Duet store).

An asset's ``data`` or ``mock`` streamed ahead (``{"upload": id}``, resolved to a
:class:`~unseen.node._objects.StagedUpload` by the server) becomes the asset's object as it
was written: its staged write is committed under the asset's record, not written again. A
dataset upload that fails leaves nothing: objects stored already are deleted and staged
writes aborted.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from unseen.dp import asset_dp_fields
from unseen.errors import UsageError
from unseen.messages import to_wire
from unseen.messages.datasets import (
    DATASET_DELETE,
    DATASET_LIST,
    DATASET_UPLOAD,
    AssetView,
    DatasetDeleteRequest,
    DatasetListRequest,
    DatasetUploadRequest,
    DatasetView,
)
from unseen.messages.objects import (
    SEARCH,
    STORE_LIST,
    ObjectView,
    SearchRequest,
    StoreListRequest,
)
from unseen.node._meta import public_meta
from unseen.node._objects import StagedUpload, object_view
from unseen.node._policy import may_use
from unseen.node._principal import ADMINS, ANYONE, Principal
from unseen.node._routes import typed_route
from unseen.store import AssetRecord, DatasetRecord, ObjectRecord

if TYPE_CHECKING:
    from unseen.node._node import Node


def _bounds(value: Any, asset: str) -> list[tuple[float, float]] | None:
    if value is None:
        return None
    pairs = (
        [value] if len(value) == 2 and all(isinstance(v, (int, float)) for v in value) else value
    )
    out = []
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise UsageError(
                f"bounds of asset {asset!r} must be (L, U) or a list of (L, U) per column"
            )
        low, high = float(pair[0]), float(pair[1])
        if not low <= high:
            raise UsageError(f"bounds of asset {asset!r}: L must not exceed U, got ({low}, {high})")
        out.append((low, high))
    return out


def _meta(value: Any) -> dict[str, Any]:
    if isinstance(value, StagedUpload):
        assert value.meta is not None  # set when the upload was checked
        return dict(value.meta)
    return public_meta(value)


def _new_id(value: Any) -> str:
    """A staged upload's blob is named after its id, so the object keeps it."""
    return value.id if isinstance(value, StagedUpload) else uuid.uuid4().hex


def _abort_staged(body: dict[str, Any]) -> None:
    """Abort the staged uploads of a ``dataset.upload`` body (a no-op for those committed):
    an upload that failed, even one whose request could not be read, leaves nothing."""
    assets = body.get("assets")
    for asset in assets if isinstance(assets, (list, tuple)) else ():
        if isinstance(asset, dict):
            for value in (asset.get("data"), asset.get("mock")):
                if isinstance(value, StagedUpload):
                    value.abort()


@typed_route(DATASET_UPLOAD, ADMINS, cleanup=_abort_staged)
def upload(node: Node, principal: Principal, request: DatasetUploadRequest) -> DatasetView:
    name = request.name
    if not name.strip():
        raise UsageError("a dataset needs a name")
    if any(d.name == name for d in node.stores.datasets.list()):
        raise UsageError(f"a dataset named {name!r} exists already: delete it or pick another name")
    tags = tuple(request.tags)
    description = request.description
    if not request.assets:
        raise UsageError(f"dataset {name!r} has no assets: call ds.add_asset(...) first")
    dataset = DatasetRecord(
        id=uuid.uuid4().hex,
        name=name,
        description=description,
        tags=tags,
        citation=request.citation,
        uploader=principal.user_id,
    )
    pending: list[tuple[ObjectRecord, Any]] = []
    for asset in request.assets:
        asset_name = asset.name
        data = asset.data
        meta = _meta(data)
        asset_tags = tuple(dict.fromkeys((*tags, f"#{asset_name}", *asset.tags)))
        mock_id = None
        if asset.mock is not None:
            mock_meta = _meta(asset.mock)
            if mock_meta["family"] != meta["family"]:
                raise UsageError(
                    f"the mock of asset {asset_name!r} is a {mock_meta['family']} but the data is a "
                    f"{meta['family']}: give a mock of the same kind"
                )
            mock = ObjectRecord(
                id=_new_id(asset.mock),
                family=mock_meta["family"],
                creator=principal.user_id,
                sources=frozenset(),
                dataset=name,
                public_meta={**mock_meta, "mock_of": asset_name},
            )
            mock_id = mock.id
            pending.append((mock, asset.mock))
        private = ObjectRecord(
            id=_new_id(data),
            family=meta["family"],
            creator=principal.user_id,
            sources=frozenset({principal.user_id}),
            tags=asset_tags,
            description=asset.description or description,
            dataset=name,
            mock_id=mock_id,
            public_meta=meta,
        )
        pending.append((private, data))
        dataset.assets.append(
            AssetRecord(
                name=asset_name,
                object_id=private.id,
                mock_id=mock_id,
                description=private.description,
                bounds=_bounds(asset.bounds, asset_name),
                **asset_dp_fields(to_wire(asset), meta, asset_name),
            )
        )
    stored: list[str] = []
    try:
        for record, value in pending:
            if isinstance(value, StagedUpload):
                value.commit(record)
            else:
                node.stores.objects.put(record, value)
            stored.append(record.id)
        node.stores.datasets.add(dataset)
    except BaseException:
        for object_id in stored:
            node.stores.objects.delete(object_id)
        raise
    node.audit(principal, "dataset.upload", dataset.id)
    return dataset_view(dataset)


def dataset_view(dataset: DatasetRecord) -> DatasetView:
    return DatasetView(
        id=dataset.id,
        name=dataset.name,
        description=dataset.description,
        tags=list(dataset.tags),
        citation=dataset.citation,
        assets=[
            AssetView(
                name=a.name,
                object_id=a.object_id,
                mock_id=a.mock_id,
                description=a.description,
                bounds=a.bounds,
                nullable=a.nullable,
                privacy_id=a.privacy_id,
                max_rows_per_id=a.max_rows_per_id,
                public_rows=a.public_rows,
                categories=a.categories,
            )
            for a in dataset.assets
        ],
        uploader=dataset.uploader,
        created_at=dataset.created_at,
    )


@typed_route(DATASET_LIST, ANYONE)
def list_datasets(
    node: Node, principal: Principal, request: DatasetListRequest
) -> list[DatasetView]:
    return [
        dataset_view(d) for d in sorted(node.stores.datasets.list(), key=lambda d: d.created_at)
    ]


@typed_route(DATASET_DELETE, ADMINS)
def delete_dataset(node: Node, principal: Principal, request: DatasetDeleteRequest) -> None:
    name = request.name
    for dataset in node.stores.datasets.list():
        if name in (dataset.name, dataset.id):
            node.stores.datasets.delete(dataset.id)
            for asset in dataset.assets:
                for object_id in (asset.object_id, asset.mock_id):
                    if object_id and node.stores.objects.exists(object_id):
                        node.stores.objects.delete(object_id)
            node.audit(principal, "dataset.delete", dataset.id)
            return
    raise UsageError(f"no dataset named {name!r}")


def _listed(node: Node, principal: Principal) -> list[ObjectRecord]:
    """Leaf objects the caller may use, except mocks (they come with their assets)."""
    return [
        r
        for r in sorted(node.stores.objects.list(), key=lambda r: r.created_at)
        if not r.parents
        and "mock_of" not in r.public_meta
        and r.family != "failed"
        and may_use(principal, r)
        and (
            r.searchable
            or r.dataset is not None
            or r.creator == principal.user_id
            or principal.is_admin
        )
    ]


@typed_route(STORE_LIST, ANYONE)
def store_list(node: Node, principal: Principal, request: StoreListRequest) -> list[ObjectView]:
    return [object_view(r, principal) for r in _listed(node, principal)]


@typed_route(SEARCH, ANYONE)
def search(node: Node, principal: Principal, request: SearchRequest) -> list[ObjectView]:
    query = request.query.strip()
    if not query:
        raise UsageError("search needs a tag such as '#diabetes' or some words")
    terms = query.lower().split()
    found = []
    for record in _listed(node, principal):
        tags = {t.lower() for t in record.tags}
        text = " ".join((record.description, record.dataset or "", *record.tags)).lower()
        if all(term in tags or term in text for term in terms):
            found.append(object_view(record, principal))
    return found
