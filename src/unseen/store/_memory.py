"""In-memory implementations of the store interfaces (the VirtualWorker's stores)."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

from unseen import serde
from unseen.errors import BudgetExhausted, NotFound, UsageError
from unseen.store._records import (
    AuditRecord,
    DatasetRecord,
    HandlerRecord,
    JobRecord,
    LedgerConflict,
    LedgerRecord,
    ObjectRecord,
    RequestRecord,
    UserRecord,
    check_charge,
    check_key,
    check_limit,
    counted_size,
    fits_budget,
)

R = TypeVar("R")


def _clone(record: R) -> R:
    """A copy that shares no mutable state with the original (records are flat dataclasses:
    only their dict and list fields need copying, which is far cheaper than deepcopy)."""
    fields = dict(record.__dict__)
    for name, value in fields.items():
        if type(value) is dict or type(value) is list:
            fields[name] = copy.deepcopy(value) if value else type(value)()
    clone = object.__new__(type(record))
    clone.__dict__.update(fields)
    return clone


class _Table(Generic[R]):
    """A dict of records keyed by id; stores and returns deep copies, so that callers never
    alias stored state (not even a record's lists and dicts)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._rows: dict[str, R] = {}
        self._lock = threading.Lock()

    def _add(self, key: str, record: R) -> None:
        with self._lock:
            if key in self._rows:
                raise UsageError(f"a {self._what} with id {key!r} exists already")
            self._rows[key] = _clone(record)

    def _get(self, key: str) -> R:
        with self._lock:
            try:
                return _clone(self._rows[key])
            except KeyError:
                raise NotFound(f"no {self._what} with id {key!r}") from None

    def _update(self, key: str, record: R) -> None:
        with self._lock:
            if key not in self._rows:
                raise NotFound(f"no {self._what} with id {key!r}")
            self._rows[key] = _clone(record)

    def _delete(self, key: str) -> None:
        with self._lock:
            if self._rows.pop(key, None) is None:
                raise NotFound(f"no {self._what} with id {key!r}")

    def _list(self) -> list[R]:
        with self._lock:
            return [_clone(r) for r in self._rows.values()]


def encoded_size(value: Any) -> int:
    """The bytes of a value's serde encoding (without joining it: arrays are not copied)."""
    return sum(memoryview(p).nbytes for p in serde.encode_parts(value))


class MemoryObjectStore(_Table[ObjectRecord]):
    def __init__(self) -> None:
        super().__init__("object")
        self._values: dict[str, Any] = {}
        self._bytes: dict[str, int] = {}  # stored bytes per creator, kept as objects come and go

    def put(self, record: ObjectRecord, value: Any, *, durable: bool = True) -> None:
        self._put(record, value, encoded_size(value))

    def _put(self, record: ObjectRecord, value: Any, size: int) -> None:
        with self._lock:  # the record and its value appear together
            if record.id in self._rows:
                raise UsageError(f"a {self._what} with id {record.id!r} exists already")
            self._values[record.id] = value
            stored = _clone(record)
            stored.size = counted_size(record, size)
            self._rows[record.id] = stored
            self._bytes[stored.creator] = self._bytes.get(stored.creator, 0) + stored.size

    def bytes_of(self, creator: str) -> int:
        """The stored bytes of the objects ``creator`` created."""
        return self._bytes.get(creator, 0)

    def begin_put(self, record: ObjectRecord) -> MemoryObjectWriter:
        """A new object whose serde-encoded value arrives in chunks; decoded at commit."""
        if record.id in self._rows:
            raise UsageError(f"a {self._what} with id {record.id!r} exists already")
        return MemoryObjectWriter(self, record)

    def get(self, object_id: str) -> ObjectRecord:
        return self._get(object_id)

    def value(self, object_id: str) -> Any:
        try:
            return self._values[object_id]
        except KeyError:
            raise NotFound(f"no object with id {object_id!r}") from None

    def update(self, record: ObjectRecord) -> None:
        with self._lock:
            old = self._rows.get(record.id)
            if old is None:
                raise NotFound(f"no {self._what} with id {record.id!r}")
            stored = _clone(record)
            stored.size = old.size  # the value never changes, nor its size
            self._rows[record.id] = stored
            if stored.creator != old.creator:
                self._bytes[old.creator] -= old.size
                self._bytes[stored.creator] = self._bytes.get(stored.creator, 0) + old.size

    def delete(self, object_id: str, *, durable: bool = True) -> None:
        with self._lock:
            old = self._rows.pop(object_id, None)
            if old is None:
                raise NotFound(f"no {self._what} with id {object_id!r}")
            self._values.pop(object_id, None)
            self._bytes[old.creator] -= old.size

    def exists(self, object_id: str) -> bool:
        return object_id in self._rows

    def existing(self, object_ids: Collection[str]) -> set[str]:
        """The ids among ``object_ids`` of stored objects."""
        return {i for i in object_ids if i in self._rows}

    def list(self) -> list[ObjectRecord]:
        return self._list()


class MemoryObjectWriter:
    """An object being uploaded: see :meth:`MemoryObjectStore.begin_put`."""

    def __init__(self, store: MemoryObjectStore, record: ObjectRecord) -> None:
        self._store = store
        self._record = record
        self._buf: bytearray | None = bytearray()
        self._sealed = False

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._buf is None or self._sealed:
            raise UsageError("this upload is closed: begin_put() a new one")
        self._buf += chunk

    def contents(self) -> bytearray:
        """The encoded value written, to check it before the commit (no writes after it)."""
        if self._buf is None:
            raise UsageError("this upload is closed: begin_put() a new one")
        self._sealed = True
        return self._buf

    def commit(self, record: ObjectRecord | None = None) -> int:
        """Decode the value and store it under ``record`` (same id) or the record begun
        with; returns the value's size in bytes. On failure nothing is kept."""
        buf, self._buf = self._buf, None
        if buf is None:
            raise UsageError("this upload is closed: begin_put() a new one")
        if record is not None and record.id != self._record.id:
            raise UsageError(f"an upload begun as {self._record.id!r} cannot be {record.id!r}")
        self._store._put(record or self._record, serde.decode(buf), len(buf))
        return len(buf)

    def abort(self) -> None:
        self._buf = None

    def __enter__(self) -> MemoryObjectWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()


class MemoryRequestStore(_Table[RequestRecord]):
    def __init__(self) -> None:
        super().__init__("request")

    def add(self, record: RequestRecord) -> None:
        self._add(record.id, record)

    def get(self, request_id: str) -> RequestRecord:
        return self._get(request_id)

    def update(self, record: RequestRecord) -> None:
        self._update(record.id, record)

    def for_object(self, object_id: str) -> list[RequestRecord]:
        return [r for r in self._list() if r.object_id == object_id]

    def list(self) -> list[RequestRecord]:
        return self._list()


class MemoryJobStore(_Table[JobRecord]):
    def __init__(self) -> None:
        super().__init__("job")

    def add(self, record: JobRecord) -> None:
        self._add(record.id, record)

    def get(self, job_id: str) -> JobRecord:
        return self._get(job_id)

    def update(self, record: JobRecord) -> None:
        self._update(record.id, record)

    def list(self) -> list[JobRecord]:
        return sorted(self._list(), key=lambda r: (r.created_at, r.id))


class MemoryHandlerStore(_Table[HandlerRecord]):
    def __init__(self) -> None:
        super().__init__("handler")

    def add(self, record: HandlerRecord) -> None:
        self._add(record.id, record)

    def remove(self, handler_id: str) -> None:
        self._delete(handler_id)

    def list(self) -> list[HandlerRecord]:
        return self._list()


class MemoryDatasetStore(_Table[DatasetRecord]):
    def __init__(self) -> None:
        super().__init__("dataset")

    def add(self, record: DatasetRecord) -> None:
        self._add(record.id, record)

    def get(self, dataset_id: str) -> DatasetRecord:
        return self._get(dataset_id)

    def delete(self, dataset_id: str) -> None:
        self._delete(dataset_id)

    def list(self) -> list[DatasetRecord]:
        return self._list()


class MemoryUserStore(_Table[UserRecord]):
    """Users, unique by id and by email. ``spent`` changes only through
    :meth:`charge_budget`: ``add`` stores the record's value, ``update`` keeps the stored one
    (so that an update from a stale copy can never undo a charge)."""

    def __init__(self) -> None:
        super().__init__("user")

    def _email_taken(self, email: str, other_than: str) -> bool:
        return any(u.email == email and u.id != other_than for u in self._rows.values())

    def add(self, record: UserRecord) -> None:
        with self._lock:
            if self._email_taken(record.email, record.id):
                raise UsageError(f"a user with email {record.email!r} exists already")
            if record.id in self._rows:
                raise UsageError(f"a user with id {record.id!r} exists already")
            self._rows[record.id] = _clone(record)

    def get(self, user_id: str) -> UserRecord:
        return self._get(user_id)

    def by_email(self, email: str) -> UserRecord:
        for user in self._list():
            if user.email == email:
                return user
        raise NotFound(f"no user with email {email!r}")

    def update(self, record: UserRecord) -> None:
        with self._lock:
            stored = self._rows.get(record.id)
            if stored is None:
                raise NotFound(f"no user with id {record.id!r}")
            if self._email_taken(record.email, record.id):
                raise UsageError(f"a user with email {record.email!r} exists already")
            fresh = _clone(record)
            fresh.spent = stored.spent
            self._rows[record.id] = fresh

    def delete(self, user_id: str) -> None:
        self._delete(user_id)

    def list(self) -> list[UserRecord]:
        return self._list()

    def charge_budget(self, user_id: str, amount: float, limit_check: bool = True) -> float:
        """Add ``amount`` to the user's spent budget and return what remains, atomically;
        with ``limit_check``, raise ``BudgetExhausted`` (charging nothing) if it does not fit."""
        amount = check_charge(amount)
        with self._lock:
            user = self._rows.get(user_id)
            if user is None:
                raise NotFound(f"no user with id {user_id!r}")
            if limit_check and not fits_budget(user.spent, amount, user.budget):
                raise BudgetExhausted(
                    f"privacy budget exhausted: {amount:g} asked for, "
                    f"{user.budget - user.spent:g} left of the budget; nothing was charged: "
                    "ask the owner for more"
                )
            user.spent += amount
            return user.budget - user.spent


class MemoryLedgerStore:
    """The privacy ledger: every user's DP releases in order. ``append`` is a compare-and-set
    on the user's next sequence number, so two releases never both charge the same balance."""

    def __init__(self) -> None:
        self._rows: dict[str, list[LedgerRecord]] = {}
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def append(self, record: LedgerRecord) -> None:
        """Add entry ``record.seq`` of its user: ``LedgerConflict`` unless the user has
        exactly ``record.seq`` entries, ``UsageError`` if an entry has its id already."""
        with self._lock:
            entries = self._rows.get(record.user_id, [])
            if record.seq != len(entries):
                raise LedgerConflict(
                    f"ledger entry {record.seq} of user {record.user_id!r} is taken "
                    f"(the user has {len(entries)} entries): recompute the charge and retry"
                )
            if record.id in self._ids:
                raise UsageError(f"a ledger entry with id {record.id!r} exists already")
            self._rows.setdefault(record.user_id, entries).append(_clone(record))
            self._ids.add(record.id)

    def last(self, user_id: str) -> LedgerRecord | None:
        with self._lock:
            entries = self._rows.get(user_id)
            return _clone(entries[-1]) if entries else None

    def entries(self, user_id: str) -> list[LedgerRecord]:
        with self._lock:
            return [_clone(r) for r in self._rows.get(user_id, [])]

    def list(self) -> list[LedgerRecord]:
        with self._lock:
            return [_clone(r) for rows in self._rows.values() for r in rows]


class MemorySettingsStore:
    """A node's settings in a dict (values are deep-copied in and out)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        key = check_key(key)
        with self._lock:
            if key not in self._values:
                return default
            return copy.deepcopy(self._values[key])

    def set(self, key: str, value: Any) -> None:
        key = check_key(key)
        value = copy.deepcopy(value)
        with self._lock:
            self._values[key] = value

    def setdefault(self, key: str, value: Any) -> Any:
        """Store ``value`` unless ``key`` has a value already; the stored value either way
        (one atomic step: of two callers, both get the value of the one that came first)."""
        key = check_key(key)
        value = copy.deepcopy(value)
        with self._lock:
            return copy.deepcopy(self._values.setdefault(key, value))

    def delete(self, key: str) -> None:
        key = check_key(key)
        with self._lock:
            if key not in self._values:
                raise NotFound(f"no setting {key!r}")
            del self._values[key]

    def items(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)


#: how many entries the in-memory audit log keeps (the oldest go first)
AUDIT_MAXLEN = 100_000


class MemoryAuditStore:
    """The audit log in memory: the newest ``maxlen`` entries, in the order they were added.
    ``add`` is one dict insertion (records are immutable: nothing is copied)."""

    def __init__(self, maxlen: int = AUDIT_MAXLEN) -> None:
        if maxlen < 1:
            raise UsageError(f"an audit log keeps at least one entry, not {maxlen!r}")
        self.maxlen = maxlen
        self._rows: OrderedDict[str, AuditRecord] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, record: AuditRecord, *, durable: bool = True) -> None:
        with self._lock:
            rows = self._rows
            if record.id in rows:
                raise UsageError(f"an audit entry with id {record.id!r} exists already")
            rows[record.id] = record
            if len(rows) > self.maxlen:
                rows.popitem(last=False)

    def list(self, limit: int | None = None, since: float | None = None) -> list[AuditRecord]:
        limit = check_limit(limit)
        with self._lock:
            rows = list(self._rows.values())
        if since is not None:
            rows = [r for r in rows if r.at >= float(since)]
        if limit is not None:
            rows = rows[len(rows) - limit :] if limit < len(rows) else rows
        return rows


class MemoryTokenStore:
    """Revoked tokens in memory: token id -> (user id, expiry)."""

    def __init__(self) -> None:
        self._revoked: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def revoke(self, token_id: str, user_id: str, expires_at: float) -> None:
        with self._lock:
            self._revoked[str(token_id)] = (str(user_id), float(expires_at))

    def is_revoked(self, token_id: str) -> bool:
        return str(token_id) in self._revoked

    def prune(self, now: float) -> int:
        with self._lock:
            gone = [k for k, (_, expires) in self._revoked.items() if expires < now]
            for key in gone:
                del self._revoked[key]
        return len(gone)


@dataclass
class Stores:
    """Every store a node uses; in memory unless given others (SQL, blobs)."""

    objects: Any = field(default_factory=MemoryObjectStore)
    requests: Any = field(default_factory=MemoryRequestStore)
    jobs: Any = field(default_factory=MemoryJobStore)
    handlers: Any = field(default_factory=MemoryHandlerStore)
    datasets: Any = field(default_factory=MemoryDatasetStore)
    users: Any = field(default_factory=MemoryUserStore)
    ledger: Any = field(default_factory=MemoryLedgerStore)
    settings: Any = field(default_factory=MemorySettingsStore)
    audit: Any = field(default_factory=MemoryAuditStore)
    tokens: Any = field(default_factory=MemoryTokenStore)
