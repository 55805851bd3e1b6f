"""The SQL schema of a node's records: one table per record type, one column per field.

(The ``audit`` table adds a ``seq`` column, its key: the order in which entries were added.
``settings`` holds one row per key. ``object_values`` holds the encoded values of small
objects, keyed by object id, in place of a blob file. ``revoked_tokens`` holds the ids of
tokens logged out before their expiry. ``jobs`` holds the runs of approved code requests.)

Column names are the record's field names, so that a row converts to its record with
``Record(**row)`` (see :func:`to_row` and :func:`to_record`). Containers are JSON columns of the
types in :mod:`unseen.store._sql_json`. There are no foreign keys between tables: the stores are
plain CRUD and, like the in-memory ones, do not enforce references (the node does).

Every change here needs a new Alembic revision in ``unseen/store/migrations/versions`` (the
test suite checks that the migrated schema equals this metadata).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import RowMapping

from unseen.store._sql_json import Assets, StrSet, StrTuple, Tagged

__all__ = [
    "metadata",
    "objects",
    "object_values",
    "requests",
    "jobs",
    "handlers",
    "datasets",
    "users",
    "ledger",
    "settings",
    "audit",
    "revoked_tokens",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[Any]:
    return Column("id", String, primary_key=True)


def _created_at() -> Column[Any]:
    return Column("created_at", Double, nullable=False, index=True)


objects = Table(
    "objects",
    metadata,
    _id(),
    Column("family", String, nullable=False),
    Column("creator", String, nullable=False, index=True),
    Column("sources", StrSet, nullable=False),
    Column("parents", StrTuple, nullable=False),
    Column("tags", StrTuple, nullable=False),
    Column("description", Text, nullable=False),
    Column("searchable", Boolean, nullable=False),
    Column("public_meta", Tagged, nullable=False),
    Column("mock_id", String, nullable=True),
    Column("dataset", String, nullable=True),
    Column("readers", StrSet, nullable=False),
    Column("error", Text, nullable=True),
    Column("failed_op", String, nullable=True),
    Column("recipe", StrTuple, nullable=False),
    _created_at(),
    Column("size", BigInteger, nullable=False, server_default="0"),
)

object_values = Table(
    "object_values",
    metadata,
    _id(),
    Column("data", LargeBinary, nullable=False),
)

requests = Table(
    "requests",
    metadata,
    _id(),
    Column("object_id", String, nullable=False, index=True),
    Column("requester", String, nullable=False, index=True),
    Column("requester_name", String, nullable=False),
    Column("name", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String, nullable=False),
    Column("graph", StrTuple, nullable=False),
    Column("tags", StrTuple, nullable=False),
    Column("deny_reason", Text, nullable=False),
    Column("decided_by", String, nullable=False),
    _created_at(),
    Column("decided_at", Double, nullable=True),
    Column("code", Tagged, nullable=True),
    Column("standing", Tagged, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("requester", String, nullable=False, index=True),
    Column("request_id", String, nullable=False),
    Column("function", String, nullable=False),
    Column("code_hash", String, nullable=False),
    Column("status", String, nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("result_id", String, nullable=True),
    Column("logs_id", String, nullable=True),
    Column("cpu_seconds", Double, nullable=False),
    Column("wall_seconds", Double, nullable=False),
    _created_at(),
    Column("finished_at", Double, nullable=True),
)

handlers = Table(
    "handlers",
    metadata,
    _id(),
    Column("action", String, nullable=False),
    Column("name", String, nullable=True),
    Column("requester", String, nullable=True),
    Column("tags", StrTuple, nullable=False),
    _created_at(),
)

datasets = Table(
    "datasets",
    metadata,
    _id(),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", StrTuple, nullable=False),
    Column("citation", Text, nullable=False),
    Column("assets", Assets, nullable=False),
    Column("uploader", String, nullable=False),
    _created_at(),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("email", String, nullable=False, unique=True),
    Column("name", String, nullable=False),
    Column("role", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("budget", Double, nullable=False),
    Column("spent", Double, nullable=False),
    _created_at(),
)

ledger = Table(
    "ledger",
    metadata,
    _id(),
    Column("user_id", String, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("epsilon", Double, nullable=False),
    Column("delta", Double, nullable=False),
    Column("mechanism", String, nullable=False),
    Column("components", Tagged, nullable=False),
    Column("charge", Double, nullable=False),
    Column("spent", Double, nullable=False),
    Column("datasets", StrTuple, nullable=False),
    Column("query", Text, nullable=False),
    _created_at(),
    # the compare-and-set of appends: two entries can never share a user's sequence number
    UniqueConstraint("user_id", "seq"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Tagged, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that is an auto-numbered rowid
    Column(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("id", String, nullable=False, unique=True),
    Column("at", Double, nullable=False, index=True),
    Column("user_id", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target", Text, nullable=False),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    _id(),
    Column("user_id", String, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
)

R = TypeVar("R")


def to_row(record: Any) -> dict[str, Any]:
    """A record's fields by name, ready to insert (the containers are not copied)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def to_record(cls: type[R], row: RowMapping) -> R:
    """The record of type ``cls`` that ``row`` holds."""
    return cls(**row)
