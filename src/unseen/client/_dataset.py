"""Dataset: what an owner prepares for upload: private assets, their mocks, and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.errors import UsageError
from unseen.messages.datasets import AssetUpload, DatasetUploadRequest

Bounds = tuple[float, float] | list[tuple[float, float]]


@dataclass
class Asset:
    name: str
    data: Any
    mock: Any = None
    description: str = ""
    bounds: Bounds | None = None
    tags: list[str] = field(default_factory=list)
    nullable: bool | list[bool] | None = None
    privacy_id: str | int | None = None
    max_rows_per_id: int = 1
    public_rows: int | None = None
    categories: dict[Any, list[Any]] | None = None


class Dataset:
    """A named collection of assets, each a private value with a public mock.

    >>> ds = Dataset(name="Diabetes", description="442 patients", tags=["#diabetes"])
    >>> ds.add_asset(name="data", data=X, mock=X_mock, bounds=(-0.2, 0.2))
    """

    def __init__(
        self,
        name: str,
        description: str = "",
        tags: list[str] | tuple[str, ...] = (),
        citation: str = "",
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise UsageError("a dataset needs a name")
        self.name = name
        self.description = description
        self.tags = list(tags)
        self.citation = citation
        self.assets: list[Asset] = []

    def add_asset(
        self,
        name: str,
        data: Any,
        mock: Any = None,
        *,
        description: str = "",
        bounds: Bounds | None = None,
        tags: list[str] | tuple[str, ...] = (),
        nullable: bool | list[bool] | None = None,
        privacy_id: str | int | None = None,
        max_rows_per_id: int = 1,
        public_rows: int | None = None,
        categories: dict[Any, list[Any]] | None = None,
    ) -> Dataset:
        """Add a private value and its public twin. ``bounds`` is (L, U) for every column or
        a list of (L, U) per column; it is declared, never computed from the data.

        For differentially private answers (docs/dp.md) also declare: ``nullable`` (one flag,
        or one per column: may a value be missing?), ``privacy_id`` (the column naming the
        person a row belongs to) with ``max_rows_per_id`` (the most rows one person has;
        1 means one row per person), ``public_rows`` (the row count, if it is public) and
        ``categories`` (public keys of categorical columns, for histograms and group-by).
        """
        if any(a.name == name for a in self.assets):
            raise UsageError(f"dataset {self.name!r} has an asset named {name!r} already")
        self.assets.append(
            Asset(
                name,
                data,
                mock,
                description,
                bounds,
                list(tags),
                nullable,
                privacy_id,
                max_rows_per_id,
                public_rows,
                categories,
            )
        )
        return self

    def __repr__(self) -> str:
        names = ", ".join(a.name for a in self.assets) or "no assets yet"
        return f"<Dataset {self.name!r}: {names}>"

    def _to_request(self) -> DatasetUploadRequest:
        """The ``dataset.upload`` request: bounds as tuples, category keys as strings."""
        return DatasetUploadRequest(
            name=self.name,
            description=self.description,
            tags=self.tags,
            citation=self.citation,
            assets=[
                AssetUpload(
                    name=a.name,
                    data=a.data,
                    mock=a.mock,
                    description=a.description,
                    bounds=None
                    if a.bounds is None
                    else [tuple(b) for b in a.bounds]
                    if isinstance(a.bounds, list)
                    else tuple(a.bounds),
                    tags=a.tags,
                    nullable=a.nullable,
                    privacy_id=a.privacy_id,
                    max_rows_per_id=a.max_rows_per_id,
                    public_rows=a.public_rows,
                    categories=None
                    if a.categories is None
                    else {str(k): list(v) for k, v in a.categories.items()},
                )
                for a in self.assets
            ],
        )
