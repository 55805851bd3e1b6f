"""The SQL engine of a node: URL handling, SQLite settings, transactions and migrations.

SQLite (the default, ``<data_dir>/node.db``) runs in WAL mode with ``synchronous=FULL`` (a
committed budget charge survives a power loss; ``NORMAL`` with ``fsync=False``, which still
survives a killed process), foreign keys on and a 30 s busy timeout.

``write(engine, durable=False)`` is for what may be lost to a power loss but never to a killed
process (a computed result, an audit entry of a scientist reading their own value): its
commit does not wait for the disk (SQLite ``synchronous=NORMAL`` for that transaction,
PostgreSQL ``synchronous_commit=off``). The database stays consistent either way, and the
next durable commit makes every earlier one durable too, since both logs are sequential.
The driver's own transaction handling is switched off and each transaction begins with an
explicit ``BEGIN``, or ``BEGIN IMMEDIATE`` for writes (:func:`write`), so that a writer takes
the write lock up front instead of failing to upgrade a read lock; writers of one engine also
queue on a lock in the process first (one process has a data directory open at a time).

PostgreSQL URLs (``postgresql://`` or ``postgres://``) are mapped to the psycopg 3 driver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from unseen.errors import UsageError

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "database_url",
    "make_engine",
    "migrate",
    "read",
    "write",
]

#: the Alembic script directory shipped inside the package
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_BUSY_TIMEOUT_S = 30.0
_PG_MIGRATION_LOCK = 0x756E7365656E  # any constant: serializes concurrent upgrades


def database_url(url: str | URL | None, data_dir: Path) -> URL:
    """The SQLAlchemy URL for ``url``, or for ``<data_dir>/node.db`` when it is None."""
    if url is None:
        return URL.create("sqlite+pysqlite", database=str(Path(data_dir) / "node.db"))
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise UsageError(f"not a database URL: {url!r} ({exc})") from None
    backend, _, _driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    return parsed


def make_engine(url: URL, *, fsync: bool = True) -> Engine:
    """An engine for ``url``, set up as the module docstring says."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)
    in_memory = url.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"timeout": _BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=StaticPool if in_memory else None,
        execution_options={
            "unseen_fsync": fsync and not in_memory,
            # one writer at a time, queued here: SQLite's own busy handler sleeps up to
            # 100 ms between tries, which made the tail latency of concurrent writers
            "unseen_write_lock": threading.RLock(),
        },
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # no implicit transactions: we BEGIN ourselves
        cursor = dbapi_conn.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("unseen_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write(engine: Engine, *, durable: bool = True) -> Iterator[Connection]:
    """A connection in a write transaction, committed at the end of the block (rolled back
    if it raises). ``durable=False``: the commit does not wait for the disk (see above)."""
    lock = engine.get_execution_options().get("unseen_write_lock") or nullcontext()
    with lock, engine.connect() as conn:
        conn.execution_options(unseen_write=True)
        dialect = engine.dialect.name
        lazy_sqlite = (
            not durable
            and dialect == "sqlite"
            and conn.get_execution_options().get("unseen_fsync", False)
        )
        if lazy_sqlite:  # outside any transaction, where SQLite honours the change
            conn.connection.driver_connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not durable and dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
        finally:
            if lazy_sqlite:
                conn.connection.driver_connection.execute("PRAGMA synchronous=FULL")  # type: ignore[union-attr]


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction (one consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, built in code (no alembic.ini); with
    ``connection``, commands run on it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade the database to ``revision`` (or downgrade, with ``down``) with the packaged
    Alembic migrations. On PostgreSQL an advisory lock keeps concurrent migrations apart."""
    with write(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        config = alembic_config(conn)
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
