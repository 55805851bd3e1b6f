"""The typed ``dataset.*`` kinds: an owner uploads a dataset of private assets with their
mocks, everyone lists the datasets, the owner deletes one.

An asset's ``data`` and ``mock`` are values (arrays, frames, tensors) decoded by serde; on a
server, one streamed ahead arrives as ``{"upload": id}`` and is resolved to the staged
upload before the handler reads the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "AssetUpload",
    "AssetView",
    "DatasetView",
    "DatasetUploadRequest",
    "DatasetListRequest",
    "DatasetDeleteRequest",
    "DATASET_UPLOAD",
    "DATASET_LIST",
    "DATASET_DELETE",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class AssetUpload:
    """One asset of an upload: the private ``data`` and its public ``mock``, with metadata
    the owner declares (never computed from the data): ``bounds`` is ``(L, U)`` or a list of
    ``(L, U)`` per column; the differential privacy fields are those of docs/dp.md."""

    name: str
    data: Any
    mock: Any = None
    description: str = ""
    bounds: Any = None  # (L, U) or [(L, U), ...], checked by the node
    tags: list[str] = field(default_factory=list)
    nullable: Any = None  # one flag, or one per column
    privacy_id: Any = None  # a column name (or position)
    max_rows_per_id: int = 1
    public_rows: int | None = None
    categories: dict[str, list[Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetUploadRequest:
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    citation: str = ""
    assets: list[AssetUpload]


@dataclass(frozen=True, kw_only=True)
class DatasetListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class DatasetDeleteRequest:
    name: str  # a dataset's name or id


@dataclass(frozen=True, kw_only=True)
class AssetView:
    """An asset as the node lists it: the ids of its private object and its mock (``None``
    without one) and the metadata its owner declared; every field is on the wire, ``None``
    included (protocol 1.0)."""

    name: str
    object_id: str
    mock_id: str | None
    description: str = ""
    bounds: list[Any] | None  # [(L, U), ...]
    nullable: list[bool] | None
    privacy_id: str | None
    max_rows_per_id: int = 1
    public_rows: int | None
    categories: dict[str, list[Any]] | None


@dataclass(frozen=True, kw_only=True)
class DatasetView:
    """A dataset as the node lists it; ``uploader`` is the owner's user id."""

    id: str
    name: str
    description: str = ""
    tags: list[str]
    citation: str = ""
    assets: list[AssetView]
    uploader: str = ""
    created_at: float


DATASET_UPLOAD: Kind[DatasetUploadRequest, DatasetView] = Kind(
    "dataset.upload", DatasetUploadRequest, DatasetView
)
DATASET_LIST: Kind[DatasetListRequest, list[DatasetView]] = Kind(
    "dataset.list", DatasetListRequest, list[DatasetView]
)
DATASET_DELETE: Kind[DatasetDeleteRequest, None] = Kind(
    "dataset.delete", DatasetDeleteRequest, None
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (DATASET_UPLOAD, DATASET_LIST, DATASET_DELETE)
