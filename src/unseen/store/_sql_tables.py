"""The CRUD steps that every SQL store shares: one short transaction per call.

Each call runs in its own connection and transaction (safe from many threads at once). Errors
match the in-memory stores: a duplicate id is a ``UsageError``, a missing one ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from unseen.errors import NotFound, UnseenError, UsageError
from unseen.store import _sql_engine as eng
from unseen.store._sql_schema import to_record, to_row

__all__ = ["SQLTable", "unwrapped"]

R = TypeVar("R")
#: ids per `IN (...)` query: well under SQLite's and PostgreSQL's parameter limits
_IN_CHUNK = 500


@contextmanager
def unwrapped() -> Iterator[None]:
    """Re-raise our own errors that SQLAlchemy wrapped while binding a parameter (such as a
    ``UsageError`` for a value a JSON column cannot hold), and turn values that the database
    refuses into a ``UsageError``."""
    try:
        yield
    except IntegrityError:
        raise
    except DataError as exc:  # such as a NUL character, which PostgreSQL text cannot hold
        raise UsageError(f"the database cannot hold a value of this record: {exc.orig}") from None
    except StatementError as exc:
        if isinstance(exc.orig, UnseenError):
            raise exc.orig from None
        raise


class SQLTable(Generic[R]):
    """Records of type ``cls`` in ``table``, keyed by the ``id`` column."""

    def __init__(self, engine: Engine, table: Table, cls: type[R], what: str) -> None:
        self.engine = engine
        self.table = table
        self.cls = cls
        self.what = what
        self._order = (table.c.created_at, table.c.id)
        self._insert_stmt = insert(table)

    def _exists(self, key: str) -> bool:
        with eng.read(self.engine) as conn:
            found = conn.execute(select(self.table.c.id).where(self.table.c.id == key)).first()
        return found is not None

    def _existing(self, keys: Collection[str]) -> set[str]:
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        with eng.read(self.engine) as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                rows = conn.execute(select(self.table.c.id).where(self.table.c.id.in_(chunk)))
                found.update(row[0] for row in rows)
        return found

    def _add(self, record: Any) -> None:
        try:
            with unwrapped(), eng.write(self.engine) as conn:
                conn.execute(self._insert_stmt, to_row(record))  # a cached statement
        except IntegrityError:
            raise UsageError(f"a {self.what} with id {record.id!r} exists already") from None

    def _get(self, key: str) -> R:
        with eng.read(self.engine) as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == key)).first()
        if row is None:
            raise NotFound(f"no {self.what} with id {key!r}")
        return to_record(self.cls, row._mapping)

    def _update(self, record: Any, keep: tuple[str, ...] = ()) -> None:
        values = {k: v for k, v in to_row(record).items() if k != "id" and k not in keep}
        stmt = update(self.table).where(self.table.c.id == record.id).values(values)
        with unwrapped(), eng.write(self.engine) as conn:
            count = conn.execute(stmt).rowcount
        if count == 0:
            raise NotFound(f"no {self.what} with id {record.id!r}")

    def _delete(self, key: str) -> None:
        with eng.write(self.engine) as conn:
            count = conn.execute(delete(self.table).where(self.table.c.id == key)).rowcount
        if count == 0:
            raise NotFound(f"no {self.what} with id {key!r}")

    def _list(self) -> list[R]:
        with eng.read(self.engine) as conn:
            rows = conn.execute(select(self.table).order_by(*self._order)).all()
        return [to_record(self.cls, row._mapping) for row in rows]

    def _ids(self) -> list[str]:
        with eng.read(self.engine) as conn:
            return list(conn.execute(select(self.table.c.id)).scalars())
