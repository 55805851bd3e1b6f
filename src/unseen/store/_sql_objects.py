"""The SQL object store: metadata rows in SQL, values inline or in a blob store.

A small value (an encoding of at most :data:`INLINE_MAX` bytes, such as most computed
results) is written to the ``object_values`` table in the same transaction as its row: one
commit, no file, and ``durable=False`` may skip waiting for the disk (see
:func:`unseen.store._sql_engine.write`). A larger value goes to the blob store.

``put`` of a large value is atomic from the outside: the blob is committed first (it refuses
to replace an existing blob), then the row is inserted in one transaction; if anything fails
after the blob was committed, the blob is removed again. An object is visible only once its
row exists, and ``value`` reads only objects that have a row. Delete removes the row (and its
inline value), then the blob.

A process killed between the two steps leaves a blob without a row (never a row without a
blob): :func:`recover`, run at start, removes such orphans and the temporary files of
interrupted writes. Rows with neither an inline value nor a blob cannot come from a crash,
only from damage to the blob directory (or a wrong ``data_dir``); ``recover`` removes them,
since an object whose value is gone can only fail, and logs their ids at WARNING.
"""

from __future__ import annotations

import io
import logging
import mmap
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import IO, Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from unseen import serde
from unseen.errors import NotFound, UsageError
from unseen.store import _sql_engine as eng
from unseen.store._blobs import BlobStore, BlobWriter
from unseen.store._records import ObjectRecord, counted_size
from unseen.store._sql_schema import object_values, objects, to_row
from unseen.store._sql_tables import SQLTable, unwrapped

__all__ = ["INLINE_MAX", "ObjectWriter", "RecoveryReport", "SQLObjectStore", "recover"]

#: encoded values up to this many bytes are kept in the ``object_values`` table
INLINE_MAX = 64 * 1024
_INSERT_OBJECT = objects.insert()
_INSERT_VALUE = object_values.insert()

log = logging.getLogger("unseen.store")


class SQLObjectStore(SQLTable[ObjectRecord]):
    """Objects: metadata in the ``objects`` table, values in ``blobs``."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        super().__init__(engine, objects, ObjectRecord, "object")
        self.blobs = blobs

    def put(self, record: ObjectRecord, value: Any, *, durable: bool = True) -> None:
        """Store a new object and its value (encoded with serde, written from views of the
        value: large arrays are not copied). ``UsageError`` if the id is taken.
        ``durable=False``: a small value may be lost to a power loss (not to a killed
        process); a large one is always written durably."""
        parts = serde.encode_parts(value)
        size = sum(memoryview(p).nbytes for p in parts)
        record = replace(record, size=counted_size(record, size))
        if size <= INLINE_MAX:
            self._insert(record, b"".join(parts), durable=durable)  # a taken id fails there
            return
        self._check_new(record)  # before writing a large blob
        with self.blobs.begin(record.id) as writer:
            for part in parts:
                writer.write(part)
            writer.commit()
        self._insert(record)

    def begin_put(self, record: ObjectRecord) -> ObjectWriter:
        """Store a new object whose value arrives as encoded bytes in chunks (an upload),
        with bounded memory: ``write`` the serde message, then ``commit``; nothing is visible
        before. Use it as a context manager: leaving the block without a commit aborts."""
        self._check_new(record)
        return ObjectWriter(self, record, self.blobs.begin(record.id))

    def _check_new(self, record: ObjectRecord) -> None:
        if self._exists(record.id):
            raise UsageError(f"an object with id {record.id!r} exists already")

    def _insert(
        self, record: ObjectRecord, inline: bytes | None = None, *, durable: bool = True
    ) -> None:
        """Insert the row of an object, with its ``inline`` value or else with its blob
        committed already; on failure remove the blob."""
        try:
            with unwrapped(), eng.write(self.engine, durable=durable) as conn:
                conn.execute(_INSERT_OBJECT, to_row(record))
                if inline is not None:
                    conn.execute(_INSERT_VALUE, {"id": record.id, "data": inline})
        except IntegrityError:
            if inline is None:
                self.blobs.discard(record.id)
            raise UsageError(f"an object with id {record.id!r} exists already") from None
        except BaseException:
            if inline is None:
                self.blobs.discard(record.id)
            raise

    def _inline(self, object_id: str) -> bytes | None:
        """The inline value of an existing object, or None if it lives in a blob;
        ``NotFound`` if there is no such object."""
        query = (
            select(objects.c.id, object_values.c.data)
            .select_from(objects.outerjoin(object_values, objects.c.id == object_values.c.id))
            .where(objects.c.id == object_id)
        )
        with eng.read(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no object with id {object_id!r}")
        return None if row[1] is None else bytes(row[1])

    def get(self, object_id: str) -> ObjectRecord:
        return self._get(object_id)

    def value(self, object_id: str) -> Any:
        """The decoded value; its arrays are views of a private memory map of the blob
        (or of a private copy of an inline value)."""
        inline = self._inline(object_id)
        if inline is not None:
            return serde.decode(bytearray(inline))
        try:
            return self.blobs.get(object_id)
        except NotFound:  # deleted meanwhile
            raise NotFound(f"no object with id {object_id!r}") from None

    def size(self, object_id: str) -> int:
        """The size in bytes of the object's encoded value."""
        inline = self._inline(object_id)
        if inline is not None:
            return len(inline)
        try:
            return self.blobs.size(object_id)
        except NotFound:
            raise NotFound(f"no object with id {object_id!r}") from None

    def open_value(self, object_id: str) -> IO[bytes]:
        """A binary file with the object's encoded value, to stream it out undecoded."""
        inline = self._inline(object_id)
        if inline is not None:
            return io.BytesIO(inline)
        try:
            return self.blobs.open(object_id)
        except NotFound:
            raise NotFound(f"no object with id {object_id!r}") from None

    def update(self, record: ObjectRecord) -> None:
        """Replace the object's metadata (one atomic statement; the value never changes,
        nor its size)."""
        self._update(record, keep=("size",))

    def bytes_of(self, creator: str) -> int:
        """The stored bytes of the objects ``creator`` created."""
        stmt = select(func.coalesce(func.sum(objects.c.size), 0)).where(
            objects.c.creator == creator
        )
        with eng.read(self.engine) as conn:
            return int(conn.execute(stmt).scalar_one())

    def delete(self, object_id: str, *, durable: bool = True) -> None:
        """Remove the object and its value (``durable=False``: a power loss may bring the
        object back, never half of it)."""
        with eng.write(self.engine, durable=durable) as conn:
            count = conn.execute(delete(objects).where(objects.c.id == object_id)).rowcount
            conn.execute(delete(object_values).where(object_values.c.id == object_id))
        if count == 0:
            raise NotFound(f"no object with id {object_id!r}")
        self.blobs.discard(object_id)

    def exists(self, object_id: str) -> bool:
        return self._exists(object_id)

    def existing(self, object_ids: Collection[str]) -> set[str]:
        """The ids among ``object_ids`` of stored objects (a query per 500 ids, not one each:
        a 100-step training graph names about 1,300)."""
        return self._existing(object_ids)

    def list(self) -> list[ObjectRecord]:
        return self._list()


class ObjectWriter:
    """An object being uploaded: see :meth:`SQLObjectStore.begin_put`."""

    def __init__(self, store: SQLObjectStore, record: ObjectRecord, blob: BlobWriter) -> None:
        self._store = store
        self._record = record
        self._blob = blob

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append the next chunk of the encoded value."""
        self._blob.write(chunk)

    def contents(self) -> bytearray | mmap.mmap:
        """The encoded value written, to check it before the commit (no writes after it)."""
        return self._blob.contents()

    def commit(self, record: ObjectRecord | None = None) -> int:
        """Make the object visible, with ``record`` (same id) in place of the record it was
        begun with if given; returns the value's size in bytes. On failure nothing is kept."""
        if record is not None and record.id != self._record.id:
            self.abort()
            raise UsageError(f"an upload begun as {self._record.id!r} cannot be {record.id!r}")
        size = self._blob.commit()
        final = record or self._record
        self._store._insert(replace(final, size=counted_size(final, size)))
        return size

    def abort(self) -> None:
        """Drop what was written (a no-op after commit)."""
        self._blob.abort()

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()


@dataclass
class RecoveryReport:
    """What :func:`recover` found and removed at start."""

    temp_files: list[str] = field(default_factory=list)
    orphan_blobs: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.temp_files or self.orphan_blobs or self.missing_blobs)


def recover(store: SQLObjectStore) -> RecoveryReport:
    """Make the rows and the blobs agree (see the module docstring). Run it only while
    nothing else writes to this store: :func:`unseen.store.open_stores` does, at start."""
    blobs = store.blobs
    report = RecoveryReport(temp_files=blobs.remove_temp_files())
    with eng.write(store.engine) as conn:  # inline values of no object (cannot happen)
        conn.execute(delete(object_values).where(object_values.c.id.not_in(select(objects.c.id))))
        inline = set(conn.execute(select(object_values.c.id)).scalars())
    by_name = {blobs.name(i): i for i in store._ids() if i not in inline}
    present = set(blobs.names())
    report.orphan_blobs = sorted(present - by_name.keys())
    blobs.remove_names(report.orphan_blobs)
    report.missing_blobs = sorted(by_name[n] for n in by_name.keys() - present)
    if report.missing_blobs:
        with eng.write(store.engine) as conn:
            conn.execute(delete(objects).where(objects.c.id.in_(report.missing_blobs)))
        log.warning(
            "removed %d object(s) whose value was missing from %s: %s",
            len(report.missing_blobs),
            getattr(blobs, "root", "the blob store"),
            ", ".join(report.missing_blobs),
        )
    if report.temp_files or report.orphan_blobs:
        log.info(
            "removed %d unfinished upload(s) and %d value(s) of unfinished puts",
            len(report.temp_files),
            len(report.orphan_blobs),
        )
    return report


def fill_sizes(store: SQLObjectStore) -> int:
    """Set the size of objects stored before sizes were kept (-1, from revision 0005), by
    :func:`counted_size`. How many were set."""
    stmt = select(objects.c.id).where(objects.c.size < 0)
    with eng.read(store.engine) as conn:
        ids = list(conn.execute(stmt).scalars())
    filled = 0
    for object_id in ids:
        try:
            size = counted_size(store.get(object_id), store.size(object_id))
        except NotFound:  # removed meanwhile, or its blob is missing (recover reports it)
            continue
        change = update(objects).where(objects.c.id == object_id).values(size=size)
        with eng.write(store.engine) as conn:
            conn.execute(change)
        filled += 1
    return filled
