"""SQL implementations of the request, handler, dataset and user stores.

Plain CRUD with the in-memory stores' errors. Budget charges are compare-and-set in one
statement (``UPDATE users SET spent = spent + :amount WHERE id = :id AND spent + :amount <=
budget + slack``), so that concurrent charges can never overspend, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from unseen.errors import BudgetExhausted, NotFound, UsageError
from unseen.store import _sql_engine as eng
from unseen.store._records import (
    BUDGET_RTOL,
    DatasetRecord,
    HandlerRecord,
    JobRecord,
    RequestRecord,
    UserRecord,
    check_charge,
)
from unseen.store._sql_schema import datasets, handlers, jobs, requests, to_record, to_row, users
from unseen.store._sql_tables import SQLTable, unwrapped

__all__ = [
    "SQLDatasetStore",
    "SQLHandlerStore",
    "SQLJobStore",
    "SQLRequestStore",
    "SQLUserStore",
]


class SQLRequestStore(SQLTable[RequestRecord]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, requests, RequestRecord, "request")

    def add(self, record: RequestRecord) -> None:
        self._add(record)

    def get(self, request_id: str) -> RequestRecord:
        return self._get(request_id)

    def update(self, record: RequestRecord) -> None:
        """Replace the stored request (one atomic statement); ``NotFound`` if absent."""
        self._update(record)

    def for_object(self, object_id: str) -> list[RequestRecord]:
        """The requests for one object, oldest first (an indexed lookup)."""
        stmt = select(requests).where(requests.c.object_id == object_id).order_by(*self._order)
        with eng.read(self.engine) as conn:
            rows = conn.execute(stmt).all()
        return [to_record(RequestRecord, row._mapping) for row in rows]

    def list(self) -> list[RequestRecord]:
        return self._list()


class SQLJobStore(SQLTable[JobRecord]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, jobs, JobRecord, "job")

    def add(self, record: JobRecord) -> None:
        self._add(record)

    def get(self, job_id: str) -> JobRecord:
        return self._get(job_id)

    def update(self, record: JobRecord) -> None:
        self._update(record)

    def list(self) -> list[JobRecord]:
        return self._list()


class SQLHandlerStore(SQLTable[HandlerRecord]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, handlers, HandlerRecord, "handler")

    def add(self, record: HandlerRecord) -> None:
        self._add(record)

    def remove(self, handler_id: str) -> None:
        self._delete(handler_id)

    def list(self) -> list[HandlerRecord]:
        return self._list()


class SQLDatasetStore(SQLTable[DatasetRecord]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, datasets, DatasetRecord, "dataset")

    def add(self, record: DatasetRecord) -> None:
        self._add(record)

    def get(self, dataset_id: str) -> DatasetRecord:
        return self._get(dataset_id)

    def delete(self, dataset_id: str) -> None:
        self._delete(dataset_id)

    def list(self) -> list[DatasetRecord]:
        return self._list()


class SQLUserStore(SQLTable[UserRecord]):
    """Users, unique by id and by email. ``spent`` changes only through
    :meth:`charge_budget`: ``add`` stores the record's value, ``update`` keeps the stored one
    (so that an update from a stale copy can never undo a charge)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, users, UserRecord, "user")

    def _email_taken(self, email: str, other_than: str | None = None) -> bool:
        stmt = select(users.c.id).where(users.c.email == email)
        if other_than is not None:
            stmt = stmt.where(users.c.id != other_than)
        with eng.read(self.engine) as conn:
            return conn.execute(stmt).first() is not None

    def add(self, record: UserRecord) -> None:
        try:
            with unwrapped(), eng.write(self.engine) as conn:
                conn.execute(users.insert(), to_row(record))
        except IntegrityError:
            if self._email_taken(record.email, other_than=record.id):
                raise UsageError(f"a user with email {record.email!r} exists already") from None
            raise UsageError(f"a user with id {record.id!r} exists already") from None

    def get(self, user_id: str) -> UserRecord:
        return self._get(user_id)

    def by_email(self, email: str) -> UserRecord:
        with eng.read(self.engine) as conn:
            row = conn.execute(select(users).where(users.c.email == email)).first()
        if row is None:
            raise NotFound(f"no user with email {email!r}")
        return UserRecord(**row._mapping)

    def update(self, record: UserRecord) -> None:
        """Replace the stored user but its ``spent``; ``UsageError`` if the new email is
        another user's, ``NotFound`` if there is no such user."""
        try:
            self._update(record, keep=("spent",))
        except IntegrityError:
            raise UsageError(f"a user with email {record.email!r} exists already") from None

    def delete(self, user_id: str) -> None:
        self._delete(user_id)

    def list(self) -> list[UserRecord]:
        return self._list()

    def charge_budget(self, user_id: str, amount: float, limit_check: bool = True) -> float:
        """Add ``amount`` to the user's spent budget and return what remains, atomically.

        With ``limit_check`` the charge happens only if it fits the budget (up to a relative
        slack of ``BUDGET_RTOL`` for float rounding); otherwise nothing is charged and
        ``BudgetExhausted`` is raised. ``amount`` must be finite and not negative.
        """
        amount = check_charge(amount)
        stmt = update(users).where(users.c.id == user_id)
        if limit_check:
            stmt = stmt.where(
                users.c.spent + amount <= users.c.budget + BUDGET_RTOL * users.c.budget
            )
        stmt = stmt.values(spent=users.c.spent + amount)
        now = select(users.c.budget, users.c.spent).where(users.c.id == user_id)
        with eng.write(self.engine) as conn:  # the row stays locked until the commit
            charged = conn.execute(stmt).rowcount == 1
            row = conn.execute(now).first()
        if row is None:
            raise NotFound(f"no user with id {user_id!r}")
        if charged:
            return float(row.budget - row.spent)
        raise BudgetExhausted(
            f"privacy budget exhausted: {amount:g} asked for, {row.budget - row.spent:g} left "
            "of the budget; nothing was charged: ask the owner for more"
        )
