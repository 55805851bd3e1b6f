"""Search over published metadata: tags (``#diabetes``) and words in names and descriptions.

The same rule as a domain's own search: every term of the query must be one of an entry's
tags or appear in its text (names, descriptions, tags, citation), case-insensitive. Entries are
prepared once per registration, so a query is a scan over short lowercase strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.errors import UsageError

MAX_QUERY = 500


@dataclass(frozen=True)
class Entry:
    tags: frozenset[str]
    text: str
    view: dict[str, Any]

    @classmethod
    def of(cls, view: dict[str, Any], tags: list[str], *extra: str) -> Entry:
        words = [str(view.get(k) or "") for k in ("name", "description", "dataset", "citation")]
        lowered = [str(t).lower() for t in tags]
        return cls(frozenset(lowered), " ".join((*words, *extra, *lowered)).lower(), view)


def parse_query(query: Any) -> list[str]:
    if not isinstance(query, str) or not query.strip():
        raise UsageError("search needs a tag such as '#diabetes' or some words")
    if len(query) > MAX_QUERY:
        raise UsageError(f"a search query has at most {MAX_QUERY} characters")
    return query.lower().split()


def matches(entry: Entry, terms: list[str]) -> bool:
    return all(term in entry.tags or term in entry.text for term in terms)


def _text(value: Any, limit: int = 4000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [str(v)[:200] for v in value][:100] if isinstance(value, list) else []


def index_catalog(datasets: list[Any]) -> list[Entry]:
    """One entry per published asset (the seed's search finds assets), carrying its
    dataset's metadata."""
    entries = []
    for dataset in datasets:
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            continue
        ds_tags = _strings(dataset.get("tags"))
        for asset in dataset.get("assets") or []:
            if not isinstance(asset, dict) or not isinstance(asset.get("name"), str):
                continue
            tags = _strings(asset.get("tags")) or ds_tags
            view: dict[str, Any] = {
                "kind": "asset",
                "name": asset["name"][:200],
                "dataset": dataset["name"][:200],
                "description": _text(asset.get("description")) or _text(dataset.get("description")),
                "dataset_description": _text(dataset.get("description")),
                "citation": _text(dataset.get("citation")),
                "tags": tags,
                "object_id": str(asset.get("object_id") or "")[:64],
            }
            for key in ("family", "shape", "dtype", "dtypes", "columns"):
                if key in asset:
                    view[key] = asset[key]
            entries.append(Entry.of(view, tags, view["dataset_description"]))
    return entries
