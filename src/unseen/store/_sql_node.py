"""SQL implementations of the ledger, settings, audit and revoked-token stores.

The ledger's ``append`` is a compare-and-set: in one write transaction it checks that the user
has exactly ``record.seq`` entries and inserts the entry; the unique key on ``(user_id, seq)``
makes the loser of two concurrent appends fail (PostgreSQL), and SQLite's ``BEGIN IMMEDIATE``
lets only one writer check and insert at a time. Either way the loser gets ``LedgerConflict``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from unseen.errors import NotFound, UsageError
from unseen.store import _sql_engine as eng
from unseen.store._records import (
    AuditRecord,
    LedgerConflict,
    LedgerRecord,
    check_key,
    check_limit,
)
from unseen.store._sql_schema import audit, ledger, revoked_tokens, settings, to_record, to_row
from unseen.store._sql_tables import unwrapped

__all__ = ["SQLAuditStore", "SQLLedgerStore", "SQLSettingsStore", "SQLTokenStore"]

_RETRIES = 5


def _conflict(record: LedgerRecord, entries: int) -> LedgerConflict:
    return LedgerConflict(
        f"ledger entry {record.seq} of user {record.user_id!r} is taken "
        f"(the user has {entries} entries): recompute the charge and retry"
    )


class SQLLedgerStore:
    """The privacy ledger in the ``ledger`` table (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _entries(self, conn: Any, user_id: str) -> int:
        """How many entries the user has (seq numbers run from 0 without gaps)."""
        top = select(func.max(ledger.c.seq)).where(ledger.c.user_id == user_id)
        highest = conn.execute(top).scalar()
        return 0 if highest is None else int(highest) + 1

    def append(self, record: LedgerRecord) -> None:
        """Add entry ``record.seq`` of its user: ``LedgerConflict`` unless the user has
        exactly ``record.seq`` entries, ``UsageError`` if an entry has its id already."""
        try:
            with unwrapped(), eng.write(self.engine) as conn:
                entries = self._entries(conn, record.user_id)
                if record.seq != entries:
                    raise _conflict(record, entries)
                conn.execute(insert(ledger), to_row(record))
        except IntegrityError:
            with eng.read(self.engine) as conn:
                entries = self._entries(conn, record.user_id)
            if record.seq < entries:  # another append took the number first
                raise _conflict(record, entries) from None
            raise UsageError(f"a ledger entry with id {record.id!r} exists already") from None

    def last(self, user_id: str) -> LedgerRecord | None:
        stmt = select(ledger).where(ledger.c.user_id == user_id)
        with eng.read(self.engine) as conn:
            row = conn.execute(stmt.order_by(ledger.c.seq.desc()).limit(1)).first()
        return None if row is None else to_record(LedgerRecord, row._mapping)

    def entries(self, user_id: str) -> list[LedgerRecord]:
        stmt = select(ledger).where(ledger.c.user_id == user_id).order_by(ledger.c.seq)
        with eng.read(self.engine) as conn:
            rows = conn.execute(stmt).all()
        return [to_record(LedgerRecord, row._mapping) for row in rows]

    def list(self) -> list[LedgerRecord]:
        """Every entry: each user's in order (users by id)."""
        stmt = select(ledger).order_by(ledger.c.user_id, ledger.c.seq)
        with eng.read(self.engine) as conn:
            rows = conn.execute(stmt).all()
        return [to_record(LedgerRecord, row._mapping) for row in rows]


class SQLSettingsStore:
    """A node's settings in the ``settings`` table, one row per key (JSON values)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str, default: Any = None) -> Any:
        stmt = select(settings.c.value).where(settings.c.key == check_key(key))
        with eng.read(self.engine) as conn:
            row = conn.execute(stmt).first()
        return default if row is None else row.value

    def set(self, key: str, value: Any) -> None:
        key = check_key(key)
        change = update(settings).where(settings.c.key == key).values(value=value)
        for _ in range(_RETRIES):
            try:
                with unwrapped(), eng.write(self.engine) as conn:
                    if conn.execute(change).rowcount == 0:
                        conn.execute(insert(settings).values(key=key, value=value))
                return
            except IntegrityError:  # another writer inserted the key first: update it now
                continue
        raise UsageError(f"the setting {key!r} is changing too often to set now: retry")

    def setdefault(self, key: str, value: Any) -> Any:
        """Store ``value`` unless ``key`` has a value already; the stored value either way
        (of two concurrent callers, both get the value of the one that committed first)."""
        key = check_key(key)
        stmt = select(settings.c.value).where(settings.c.key == key)
        for _ in range(_RETRIES):
            try:
                with unwrapped(), eng.write(self.engine) as conn:
                    row = conn.execute(stmt).first()
                    if row is not None:
                        return row.value
                    conn.execute(insert(settings).values(key=key, value=value))
                    return conn.execute(stmt).scalar_one()
            except IntegrityError:  # another caller inserted the key first: read its value
                continue
        raise UsageError(f"the setting {key!r} is changing too often to set now: retry")

    def delete(self, key: str) -> None:
        stmt = delete(settings).where(settings.c.key == check_key(key))
        with eng.write(self.engine) as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"no setting {key!r}")

    def items(self) -> dict[str, Any]:
        with eng.read(self.engine) as conn:
            rows = conn.execute(select(settings).order_by(settings.c.key)).all()
        return {row.key: row.value for row in rows}


_AUDIT_COLUMNS = (audit.c.id, audit.c.at, audit.c.user_id, audit.c.action, audit.c.target)


class SQLAuditStore:
    """The audit log in the ``audit`` table: ``add`` is one INSERT; entries come back in the
    order they were added (by the table's ``seq``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = insert(audit)

    def add(self, record: AuditRecord, *, durable: bool = True) -> None:
        try:
            with unwrapped(), eng.write(self.engine, durable=durable) as conn:
                conn.execute(self._insert, to_row(record))
        except IntegrityError:
            raise UsageError(f"an audit entry with id {record.id!r} exists already") from None

    def list(self, limit: int | None = None, since: float | None = None) -> list[AuditRecord]:
        limit = check_limit(limit)
        stmt = select(*_AUDIT_COLUMNS)
        if since is not None:
            stmt = stmt.where(audit.c.at >= float(since))
        if limit is not None:  # the newest ``limit``, read newest first, then turned around
            stmt = stmt.order_by(audit.c.seq.desc()).limit(limit)
        else:
            stmt = stmt.order_by(audit.c.seq)
        with eng.read(self.engine) as conn:
            rows = conn.execute(stmt).all()
        records = [to_record(AuditRecord, row._mapping) for row in rows]
        if limit is not None:
            records.reverse()
        return records


class SQLTokenStore:
    """Revoked tokens in the ``revoked_tokens`` table (one row per token id)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revoke(self, token_id: str, user_id: str, expires_at: float) -> None:
        row = {"id": str(token_id), "user_id": str(user_id), "expires_at": float(expires_at)}
        try:
            with unwrapped(), eng.write(self.engine) as conn:
                conn.execute(insert(revoked_tokens), row)
        except IntegrityError:  # revoked already
            pass

    def is_revoked(self, token_id: str) -> bool:
        stmt = select(revoked_tokens.c.id).where(revoked_tokens.c.id == str(token_id))
        with eng.read(self.engine) as conn:
            return conn.execute(stmt).first() is not None

    def prune(self, now: float) -> int:
        stmt = delete(revoked_tokens).where(revoked_tokens.c.expires_at < float(now))
        with eng.write(self.engine) as conn:
            return int(conn.execute(stmt).rowcount)
