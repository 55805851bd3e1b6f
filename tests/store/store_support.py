"""Helpers of the store tests: records with every field set away from its default, and the
backends (memory, SQLite, PostgreSQL) that the fixtures in conftest.py open."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from unseen.store import (
    AssetRecord,
    AuditRecord,
    DatasetRecord,
    HandlerRecord,
    LedgerRecord,
    ObjectRecord,
    RequestRecord,
    Stores,
    UserRecord,
)

PG_URL = os.environ.get("UNSEEN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_connect(**kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(PG_URL, connect_timeout=3, **kwargs)


class Backend:
    """Opens (and re-opens) the stores of one backend over one data directory/database."""

    def __init__(self, kind: str, data_dir: Path, url: str | None) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.url = url
        self.opened: list[Any] = []

    def open(self) -> Any:
        if self.kind == "memory":
            return Stores()
        from unseen.store import open_stores

        stores = open_stores(self.url, self.data_dir, fsync=False)
        self.opened.append(stores)
        return stores

    def close_all(self) -> None:
        for stores in self.opened:
            stores.close()
        self.opened.clear()


def an_object(i: int = 0, **changes: object) -> ObjectRecord:
    fields: dict[str, object] = dict(
        id=f"obj{i:05d}",
        family="ndarray",
        creator="alice",
        sources=frozenset({"alice", "bob"}),
        parents=("p1", "p2"),
        tags=("#a", "#b"),
        description="a described object",
        searchable=True,
        public_meta={
            "family": "ndarray",
            "shape": (3, 4),
            "dtype": "float64",
            "columns": ["x", "y"],
            "nested": {"t": (1, (2.5, None)), "fs": frozenset({1, 2}), 3: "int key"},
            "inf": float("inf"),
            "bytes": b"\x00\x01",
            "~t": "a key that looks like a tag",
        },
        mock_id="mock1",
        dataset="ds1",
        readers=frozenset({"carol"}),
        error="it failed",
        failed_op="mean",
        recipe=("x = a + b", "y = x.mean()"),
        created_at=1000.0 + i,
    )
    fields.update(changes)
    return ObjectRecord(**fields)  # type: ignore[arg-type]


def a_request(i: int = 0, **changes: object) -> RequestRecord:
    fields: dict[str, object] = dict(
        id=f"req{i:05d}",
        object_id=f"obj{i:05d}",
        requester="alice",
        requester_name="Alice",
        name="my result",
        reason="for the paper",
        status="pending",
        graph=("a = load()", "b = a.sum()"),
        tags=("#t",),
        deny_reason="",
        decided_by="",
        created_at=2000.0 + i,
        decided_at=None,
    )
    fields.update(changes)
    return RequestRecord(**fields)  # type: ignore[arg-type]


def a_handler(i: int = 0, **changes: object) -> HandlerRecord:
    fields: dict[str, object] = dict(
        id=f"h{i:05d}",
        action="accept",
        name="my result",
        requester=None,
        tags=("#x", "#y"),
        created_at=3000.0 + i,
    )
    fields.update(changes)
    return HandlerRecord(**fields)  # type: ignore[arg-type]


def a_dataset(i: int = 0, **changes: object) -> DatasetRecord:
    fields: dict[str, object] = dict(
        id=f"ds{i:05d}",
        name=f"Diabetes {i}",
        description="40 patients",
        tags=("#diabetes",),
        citation="doi:1",
        assets=[
            AssetRecord(
                name="data",
                object_id="o1",
                mock_id="m1",
                description="features",
                bounds=[(-0.2, 0.2), (0.0, float("inf"))],
            ),
            AssetRecord(name="target", object_id="o2", mock_id=None),
        ],
        uploader="owner",
        created_at=4000.0 + i,
    )
    fields.update(changes)
    return DatasetRecord(**fields)  # type: ignore[arg-type]


def a_user(i: int = 0, **changes: object) -> UserRecord:
    fields: dict[str, object] = dict(
        id=f"user{i:05d}",
        email=f"user{i}@example.org",
        name=f"User {i}",
        role="data_scientist",
        password_hash="$argon2id$...",
        budget=10.0,
        created_at=5000.0 + i,
    )
    fields.update(changes)
    return UserRecord(**fields)  # type: ignore[arg-type]


def a_ledger_entry(user: int = 0, seq: int = 0, **changes: object) -> LedgerRecord:
    fields: dict[str, object] = dict(
        id=f"led{user:03d}-{seq:05d}",
        user_id=f"user{user:05d}",
        seq=seq,
        epsilon=0.5,
        delta=1e-7,
        mechanism="laplace+gaussian",
        components=[("laplace", 0.25), ("gaussian", 0.0125)],
        charge=0.375,
        spent=0.375 * (seq + 1),
        datasets=("Diabetes", "Census"),
        query="mean(age)",
        created_at=6000.0 + seq,
    )
    fields.update(changes)
    return LedgerRecord(**fields)  # type: ignore[arg-type]


def an_audit_entry(i: int = 0, **changes: object) -> AuditRecord:
    fields: dict[str, object] = dict(
        id=f"aud{i:05d}",
        at=7000.0 + i,
        user_id=f"user{i % 3:05d}",
        action="graph.run",
        target=f"obj{i:05d},obj{i + 1:05d}",
    )
    fields.update(changes)
    return AuditRecord(**fields)  # type: ignore[arg-type]
