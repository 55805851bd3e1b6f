"""Opening a node's persistent stores: :func:`open_stores` and :class:`SQLStores`.

``open_stores(database_url, data_dir)`` locks the data directory (one open store per
directory, across processes), connects to the database (SQLite ``<data_dir>/node.db`` by
default, PostgreSQL by URL), migrates it to the newest schema, opens the blob store in
``<data_dir>/blobs`` and makes rows and blobs agree after a crash (``SQLStores.recovery``).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import URL, Engine, select
from sqlalchemy.exc import OperationalError

from unseen.errors import UsageError
from unseen.store import _sql_engine as eng
from unseen.store._blobs import DirectoryBlobStore
from unseen.store._memory import Stores
from unseen.store._sql_node import (
    SQLAuditStore,
    SQLLedgerStore,
    SQLSettingsStore,
    SQLTokenStore,
)
from unseen.store._sql_objects import RecoveryReport, SQLObjectStore, fill_sizes, recover
from unseen.store._sql_records import (
    SQLDatasetStore,
    SQLHandlerStore,
    SQLJobStore,
    SQLRequestStore,
    SQLUserStore,
)
from unseen.store._sql_schema import objects

__all__ = ["SQLStores", "open_stores"]


class SQLStores(Stores):
    """The ten stores over one SQL engine and one blob directory. Close it when done (or
    use it as a context manager): that disposes the engine and unlocks the data directory."""

    objects: SQLObjectStore
    requests: SQLRequestStore
    jobs: SQLJobStore
    handlers: SQLHandlerStore
    datasets: SQLDatasetStore
    users: SQLUserStore
    ledger: SQLLedgerStore
    settings: SQLSettingsStore
    audit: SQLAuditStore
    tokens: SQLTokenStore

    def __init__(self, engine: Engine, blobs: DirectoryBlobStore, lock: IO[bytes] | None) -> None:
        super().__init__(
            objects=SQLObjectStore(engine, blobs),
            requests=SQLRequestStore(engine),
            jobs=SQLJobStore(engine),
            handlers=SQLHandlerStore(engine),
            datasets=SQLDatasetStore(engine),
            users=SQLUserStore(engine),
            ledger=SQLLedgerStore(engine),
            settings=SQLSettingsStore(engine),
            audit=SQLAuditStore(engine),
            tokens=SQLTokenStore(engine),
        )
        self.engine = engine
        self.blobs = blobs
        self.recovery = RecoveryReport()
        self._lock = lock

    def close(self) -> None:
        """Dispose the engine's connections and unlock the data directory (idempotent)."""
        self.engine.dispose()
        if self._lock is not None:
            self._lock.close()  # closing the file releases its lock
            self._lock = None

    def __enter__(self) -> SQLStores:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _lock_data_dir(data_dir: Path) -> IO[bytes] | None:
    """An exclusive lock on ``<data_dir>/.lock``, held while the returned file is open
    (None where the platform has no ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (Windows: no lock)
        return None
    f = open(data_dir / ".lock", "ab")  # noqa: SIM115  (kept open: it holds the lock)
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise UsageError(
            f"the data directory {str(data_dir)!r} is in use by another open node store "
            "(this process or another): close that one first, or use another data_dir"
        ) from None
    return f


def _has_objects(engine: Engine) -> bool:
    with eng.read(engine) as conn:
        return conn.execute(select(objects.c.id).limit(1)).first() is not None


def _unreachable(url: URL, exc: OperationalError) -> str:
    """One line for a database that cannot be opened: what the server said, what to do."""
    said = " ".join(str(exc.orig or exc).split())
    said = said.split("FATAL:", 1)[-1].strip() if "FATAL:" in said else said
    where = url.render_as_string(hide_password=True)
    if "role" in said and "does not exist" in said:
        todo = f'create it (psql -c "CREATE ROLE {url.username} LOGIN") or use another user'
    elif "database" in said and "does not exist" in said:
        todo = f"create it (createdb {url.database}) or use another database name"
    else:
        todo = "is the database server running and reachable there?"
    return f"could not connect to the database {where}: {said}; {todo}"


def open_stores(
    database_url: str | None,
    data_dir: str | os.PathLike[str],
    *,
    fsync: bool = True,
) -> SQLStores:
    """Open (and create, migrate and recover) the stores of a node.

    Args:
        database_url: None for SQLite in ``<data_dir>/node.db``; else an SQLAlchemy URL, such
            as ``postgresql://user@host/db`` (run through psycopg 3) or ``sqlite:///path``.
        data_dir: the node's directory (created if missing): object values go to
            ``<data_dir>/blobs``.
        fsync: False skips the fsync calls for blobs and SQLite commits: faster, and still
            safe when the process is killed, but a power loss may lose recent writes.

    Raises:
        UsageError: the data directory is in use, the URL is not valid, or the database lists
            objects while ``<data_dir>/blobs`` does not exist (most likely a wrong
            ``data_dir``: nothing is removed then).
    """
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    url = eng.database_url(database_url, root)
    lock = _lock_data_dir(root)
    engine: Engine | None = None
    try:
        try:
            engine = eng.make_engine(url, fsync=fsync)
            eng.migrate(engine)
        except OperationalError as exc:
            raise UsageError(_unreachable(url, exc)) from None
        blob_dir = root / "blobs"
        if not blob_dir.is_dir() and _has_objects(engine):
            raise UsageError(
                f"the database lists objects but {str(blob_dir)!r} does not exist: is data_dir "
                "right? (nothing was changed; move the blobs there, or use the right data_dir)"
            )
        stores = SQLStores(engine, DirectoryBlobStore(blob_dir, fsync=fsync), lock)
        stores.recovery = recover(stores.objects)
        fill_sizes(stores.objects)
        return stores
    except BaseException:
        if engine is not None:
            engine.dispose()
        if lock is not None:
            lock.close()
        raise
