"""The SQL object store: metadata rows in SQL, values in a blob store.

``put`` is atomic from the outside: the blob is committed first (it refuses to replace an
existing blob), then the row is inserted in one transaction; if anything fails after the blob
was committed, the blob is removed again. An object is visible only once its row exists, and
``value`` reads only objects that have a row. Delete removes the row, then the blob.

A process killed between the two steps leaves a blob without a row (never a row without a
blob): :func:`recover`, run at start, removes such orphans and the temporary files of
interrupted writes. Rows whose blob is missing cannot come from a crash, only from damage to
the blob directory (or a wrong ``data_dir``); ``recover`` removes them, since an object whose
value is gone can only fail, and logs their ids at WARNING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from unseen import serde
from unseen.errors import NotFound, UsageError
from unseen.store import _sql_engine as eng
from unseen.store._blobs import BlobStore, BlobWriter
from unseen.store._records import ObjectRecord
from unseen.store._sql_schema import objects, to_row
from unseen.store._sql_tables import SQLTable, unwrapped

__all__ = ["ObjectWriter", "RecoveryReport", "SQLObjectStore", "recover"]

log = logging.getLogger("unseen.store")


class SQLObjectStore(SQLTable[ObjectRecord]):
    """Objects: metadata in the ``objects`` table, values in ``blobs``."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        super().__init__(engine, objects, ObjectRecord, "object")
        self.blobs = blobs

    def put(self, record: ObjectRecord, value: Any) -> None:
        """Store a new object and its value (encoded with serde, written from views of the
        value: large arrays are not copied). ``UsageError`` if the id is taken."""
        self._check_new(record)
        with self.blobs.begin(record.id) as writer:
            for part in serde.encode_parts(value):
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

    def _insert(self, record: ObjectRecord) -> None:
        """Insert the row of an object whose blob is committed; on failure remove the blob."""
        try:
            with unwrapped(), eng.write(self.engine) as conn:
                conn.execute(objects.insert().values(to_row(record)))
        except IntegrityError:
            self.blobs.discard(record.id)
            raise UsageError(f"an object with id {record.id!r} exists already") from None
        except BaseException:
            self.blobs.discard(record.id)
            raise

    def get(self, object_id: str) -> ObjectRecord:
        return self._get(object_id)

    def value(self, object_id: str) -> Any:
        """The decoded value; its arrays are views of a private memory map of the blob."""
        self._require(object_id)
        try:
            return self.blobs.get(object_id)
        except NotFound:  # deleted meanwhile
            raise NotFound(f"no object with id {object_id!r}") from None

    def size(self, object_id: str) -> int:
        """The size in bytes of the object's encoded value."""
        self._require(object_id)
        try:
            return self.blobs.size(object_id)
        except NotFound:
            raise NotFound(f"no object with id {object_id!r}") from None

    def open_value(self, object_id: str) -> IO[bytes]:
        """A binary file with the object's encoded value, to stream it out undecoded."""
        self._require(object_id)
        try:
            return self.blobs.open(object_id)
        except NotFound:
            raise NotFound(f"no object with id {object_id!r}") from None

    def _require(self, object_id: str) -> None:
        if not self._exists(object_id):
            raise NotFound(f"no object with id {object_id!r}")

    def update(self, record: ObjectRecord) -> None:
        """Replace the object's metadata (one atomic statement; the value never changes)."""
        self._update(record)

    def delete(self, object_id: str) -> None:
        self._delete(object_id)
        self.blobs.discard(object_id)

    def exists(self, object_id: str) -> bool:
        return self._exists(object_id)

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

    def commit(self) -> int:
        """Make the object visible; returns the value's size in bytes."""
        size = self._blob.commit()
        self._store._insert(self._record)
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
    by_name = {blobs.name(object_id): object_id for object_id in store._ids()}
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
