"""What only the SQL stores do: real values through blobs, uploads, persistence, migrations,
recovery at start, the data-directory lock and the database URLs (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_support import (
    Backend,
    a_dataset,
    a_handler,
    a_ledger_entry,
    a_request,
    a_user,
    an_audit_entry,
    an_object,
)

from unseen import dp, serde
from unseen.errors import NotFound, UsageError
from unseen.store import open_stores
from unseen.store._sql_engine import database_url
from unseen.store._sql_objects import INLINE_MAX


def blob_files(stores: Any) -> list[str]:
    return sorted(os.listdir(stores.blobs.root))


# -- values -----------------------------------------------------------------------------------


def test_numpy_values(sql_stores: Any) -> None:
    values = {
        "small00": np.arange(6, dtype=np.int32).reshape(2, 3),
        "large00": np.random.default_rng(0).normal(size=(300, 200)),  # memory-mapped
        "strided": np.arange(100.0).reshape(10, 10)[::2, ::3],
        "scalar0": np.float32(2.5),
        "zerodim": np.array(7, dtype=np.uint8),
        "boolean": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "empty00": np.zeros((0, 3)),
    }
    for i, (name, value) in enumerate(values.items()):
        sql_stores.objects.put(an_object(i, id=name), value)
    for name, value in values.items():
        got = sql_stores.objects.value(name)
        assert type(got) is type(value), name
        assert got.dtype == value.dtype and got.shape == value.shape, name
        np.testing.assert_array_equal(got, value)
        if isinstance(got, np.ndarray) and got.size:
            got[...] = 0  # writable, and private to this reader
    np.testing.assert_array_equal(sql_stores.objects.value("large00"), values["large00"])


def test_torch_values(sql_stores: Any) -> None:
    torch = pytest.importorskip("torch")
    values = {
        "float32": torch.randn(50, 40),
        "int64": torch.arange(10),
        "bfloat": torch.ones(3, dtype=torch.bfloat16),
        "big": torch.randn(200, 200),
    }
    for i, (name, value) in enumerate(values.items()):
        sql_stores.objects.put(an_object(i, id=name), value)
    for name, value in values.items():
        got = sql_stores.objects.value(name)
        assert isinstance(got, torch.Tensor) and got.dtype == value.dtype
        assert torch.equal(got, value), name


def test_pandas_values(sql_stores: Any) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "age": np.arange(5000, dtype=np.int64),
            "bmi": np.linspace(15, 40, 5000),
            "sex": ["f", "m"] * 2500,
        }
    )
    sql_stores.objects.put(an_object(1), df)
    sql_stores.objects.put(an_object(2), df["bmi"])
    pd.testing.assert_frame_equal(sql_stores.objects.value(an_object(1).id), df)
    pd.testing.assert_series_equal(sql_stores.objects.value(an_object(2).id), df["bmi"])


def test_size_and_raw_bytes(sql_stores: Any) -> None:
    value = np.arange(1000.0)
    sql_stores.objects.put(an_object(1), value)
    encoded = bytes(serde.encode(value))
    assert sql_stores.objects.size(an_object(1).id) == len(encoded)
    with sql_stores.objects.open_value(an_object(1).id) as f:
        assert f.read() == encoded
    for call in (sql_stores.objects.size, sql_stores.objects.open_value):
        with pytest.raises(NotFound):
            call("nope")


def test_unserializable_value_leaves_nothing(sql_stores: Any) -> None:
    with pytest.raises(UsageError):
        sql_stores.objects.put(an_object(1), object())
    assert not sql_stores.objects.exists(an_object(1).id)
    assert blob_files(sql_stores) == []


def test_failed_insert_removes_the_blob(sql_stores: Any) -> None:
    with pytest.raises(UsageError):  # the blob is written, then the row cannot be
        sql_stores.objects.put(an_object(1, public_meta={"x": object()}), np.ones(20_000))
    assert blob_files(sql_stores) == []
    assert not sql_stores.objects.exists(an_object(1).id)


# -- small values inline ----------------------------------------------------------------------

BIG_TEXT = "x" * (INLINE_MAX + 1)


def test_small_values_live_inline_and_large_ones_in_blobs(sql_stores: Any) -> None:
    small, large = np.arange(100.0), np.arange(20_000.0)
    sql_stores.objects.put(an_object(1), small, durable=False)
    sql_stores.objects.put(an_object(2), large)
    assert blob_files(sql_stores) == [an_object(2).id]
    for record, value in ((an_object(1), small), (an_object(2), large)):
        got = sql_stores.objects.value(record.id)
        np.testing.assert_array_equal(got, value)
        got[0] = -1.0  # decoded arrays are private, writable copies
        assert sql_stores.objects.value(record.id)[0] == 0.0
        encoded = bytes(serde.encode(value))
        assert sql_stores.objects.size(record.id) == len(encoded)
        with sql_stores.objects.open_value(record.id) as f:
            assert f.read() == encoded
    assert sql_stores.objects.list() == [an_object(1), an_object(2)]
    with pytest.raises(UsageError):  # the id is taken, whichever way the value is kept
        sql_stores.objects.put(an_object(1), small)
    sql_stores.objects.delete(an_object(1).id, durable=False)
    sql_stores.objects.delete(an_object(2).id)
    assert sql_stores.objects.list() == [] and blob_files(sql_stores) == []
    with pytest.raises(NotFound):
        sql_stores.objects.value(an_object(1).id)
    with pytest.raises(NotFound):
        sql_stores.objects.delete(an_object(1).id, durable=False)
    sql_stores.objects.put(an_object(1), "again")  # its inline value went with it
    assert sql_stores.objects.value(an_object(1).id) == "again"


def test_a_failed_inline_insert_leaves_nothing(sql_stores: Any) -> None:
    with pytest.raises(UsageError):
        sql_stores.objects.put(an_object(1, public_meta={"x": object()}), 1.5, durable=False)
    assert not sql_stores.objects.exists(an_object(1).id)
    with pytest.raises(NotFound):
        sql_stores.objects.value(an_object(1).id)


def test_a_lazy_write_leaves_sqlite_in_full_sync_mode(tmp_path: Path) -> None:
    with open_stores(None, tmp_path) as stores:  # fsync on: synchronous=FULL
        stores.objects.put(an_object(1), 1.0, durable=False)
        stores.objects.delete(an_object(1).id, durable=False)
        with stores.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_lazy_writes_persist(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    stores.objects.put(an_object(1), {"mean": 2.5}, durable=False)
    stores.audit.add(an_audit_entry(1), durable=False)
    stores.objects.put(an_object(2), "to drop", durable=False)
    stores.objects.delete(an_object(2).id, durable=False)
    stores.close()
    again = sql_backend.open()
    assert again.recovery.clean
    assert again.objects.value(an_object(1).id) == {"mean": 2.5}
    assert not again.objects.exists(an_object(2).id)
    assert again.audit.list() == [an_audit_entry(1)]


# -- uploads ----------------------------------------------------------------------------------


def test_streaming_upload(sql_stores: Any) -> None:
    value = np.random.default_rng(1).integers(0, 100, size=(1000, 100))
    encoded = serde.encode(value)
    with sql_stores.objects.begin_put(an_object(1)) as upload:
        for start in range(0, len(encoded), 4096):
            upload.write(memoryview(encoded)[start : start + 4096])
        assert not sql_stores.objects.exists(an_object(1).id)  # nothing visible yet
        assert upload.commit() == len(encoded)
    np.testing.assert_array_equal(sql_stores.objects.value(an_object(1).id), value)
    assert sql_stores.objects.get(an_object(1).id) == an_object(1)
    with pytest.raises(UsageError):
        sql_stores.objects.begin_put(an_object(1))


def test_aborted_uploads_leave_nothing(sql_stores: Any) -> None:
    upload = sql_stores.objects.begin_put(an_object(1))
    upload.write(b"partial")
    upload.abort()
    with pytest.raises(RuntimeError), sql_stores.objects.begin_put(an_object(2)) as upload:
        upload.write(b"partial")
        raise RuntimeError("the client went away")
    with sql_stores.objects.begin_put(an_object(3)) as upload:
        upload.write(b"never committed")
    assert sql_stores.objects.list() == []
    assert blob_files(sql_stores) == []


# -- persistence ------------------------------------------------------------------------------


def test_everything_survives_reopening(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    stores.objects.put(an_object(1), np.arange(5.0))
    stores.requests.add(a_request(1))
    stores.handlers.add(a_handler(1))
    stores.datasets.add(a_dataset(1))
    stores.users.add(a_user(1))
    stores.users.charge_budget(a_user(1).id, 2.5)
    stores.close()
    stores.close()  # idempotent

    again = sql_backend.open()
    assert again.recovery.clean
    assert again.objects.list() == [an_object(1)]
    np.testing.assert_array_equal(again.objects.value(an_object(1).id), np.arange(5.0))
    assert again.requests.list() == [a_request(1)]
    assert again.handlers.list() == [a_handler(1)]
    assert again.datasets.list() == [a_dataset(1)]
    assert again.users.list() == [a_user(1, spent=2.5)]


def test_ledger_settings_and_audit_survive_reopening(sql_backend: Backend) -> None:
    cost = dp.Charge(0.5, 0.0, "laplace", (("laplace", 0.5),), ("D",), "mean(x)")
    stores = sql_backend.open()
    accountant = dp.Accountant(stores.ledger, 1e-6)
    for _ in range(3):
        accountant.charge("ana", lambda: 10.0, cost)
    accountant.charge("bob", lambda: 10.0, cost)
    balances = {u: accountant.spent(u) for u in ("ana", "bob")}
    ledger = stores.ledger.list()
    stores.settings.set("dp.delta", 1e-7)
    stores.settings.set("other", {"a": (1, 2)})
    audit = [an_audit_entry(i) for i in range(5)]
    for entry in audit:
        stores.audit.add(entry)
    stores.close()

    again = sql_backend.open()
    assert again.ledger.list() == ledger
    fresh = dp.Accountant(again.ledger, 1e-6)
    assert {u: fresh.spent(u) for u in ("ana", "bob")} == balances
    assert balances["ana"] > balances["bob"] > 0
    record = fresh.charge("ana", lambda: 10.0, cost)  # numbering goes on where it stopped
    assert record.seq == 3 and again.ledger.last("ana") == record
    assert again.settings.items() == {"dp.delta": 1e-7, "other": {"a": (1, 2)}}
    assert again.audit.list() == audit
    again.audit.add(an_audit_entry(5))  # numbering goes on after the stored entries
    assert again.audit.list(limit=2) == [audit[-1], an_audit_entry(5)]


def test_the_data_directory_is_locked_while_open(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    with pytest.raises(UsageError, match="in use"):
        sql_backend.open()
    stores.close()
    with sql_backend.open() as again:
        assert again.objects.list() == []


# -- migrations -------------------------------------------------------------------------------


def test_migrated_schema_equals_the_metadata(sql_stores: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from unseen.store._sql_engine import alembic_config
    from unseen.store._sql_schema import metadata

    with sql_stores.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert context.get_current_revision() == head == "0007"


def test_migrations_go_down_and_up_again(sql_backend: Backend) -> None:
    from sqlalchemy import inspect

    from unseen.store._sql_engine import migrate

    stores = sql_backend.open()
    migrate(stores.engine, "base", down=True)
    assert set(inspect(stores.engine).get_table_names()) <= {"alembic_version"}
    migrate(stores.engine, "head")
    stores.users.add(a_user(1))
    assert stores.users.list() == [a_user(1)]
    stores.ledger.append(a_ledger_entry(1, 0))
    assert stores.ledger.list() == [a_ledger_entry(1, 0)]


def test_0005_adds_object_sizes_and_fills_them_in(sql_backend: Backend) -> None:
    from sqlalchemy import update

    from unseen.store._sql_engine import migrate
    from unseen.store._sql_schema import objects

    stores = sql_backend.open()
    small, large = np.arange(3.0), np.arange(300_000.0)  # one inline, one in a blob
    own = frozenset({"alice"})
    stores.objects.put(an_object(1, creator="alice", sources=own), small)
    stores.objects.put(an_object(2, creator="alice", sources=own), large)
    stores.objects.put(an_object(3, creator="alice", sources=frozenset({"bob"})), large)
    sizes = {r.id: r.size for r in stores.objects.list()}
    assert sizes["obj00003"] == 0 and sizes["obj00002"] > 0
    migrate(stores.engine, "0004", down=True)
    migrate(stores.engine, "head")  # every old row: -1, not known yet
    with stores.engine.begin() as conn:
        assert {r.size for r in conn.execute(objects.select())} == {-1}
    stores.close()
    with open_stores(sql_backend.url, sql_backend.data_dir, fsync=False) as again:
        # filled in when the stores open, by the same rule
        assert {r.id: r.size for r in again.objects.list()} == sizes
        assert again.objects.bytes_of("alice") == sizes["obj00001"] + sizes["obj00002"]
        with again.engine.begin() as conn:  # an old row without a size is filled in too
            conn.execute(update(objects).values(size=-1))
    with open_stores(sql_backend.url, sql_backend.data_dir, fsync=False) as again:
        assert {r.id: r.size for r in again.objects.list()} == sizes


def test_revoked_tokens_persist_and_0004_goes_down_and_up(sql_backend: Backend) -> None:
    from sqlalchemy import inspect

    from unseen.store._sql_engine import migrate

    stores = sql_backend.open()
    stores.tokens.revoke("t1", "alice", 2e9)
    stores.close()
    stores = sql_backend.open()  # reopened: the revocation is still there
    assert stores.tokens.is_revoked("t1") and not stores.tokens.is_revoked("t2")
    migrate(stores.engine, "0003", down=True)
    assert "revoked_tokens" not in set(inspect(stores.engine).get_table_names())
    migrate(stores.engine, "head")
    assert not stores.tokens.is_revoked("t1")
    stores.tokens.revoke("t1", "alice", 2e9)
    assert stores.tokens.is_revoked("t1")


def test_revision_0002_goes_down_to_0001_and_up_keeping_the_first_tables(
    sql_backend: Backend,
) -> None:
    from sqlalchemy import inspect

    from unseen.store._sql_engine import migrate

    stores = sql_backend.open()
    stores.users.add(a_user(1))
    stores.ledger.append(a_ledger_entry(1, 0))
    stores.settings.set("dp.delta", 1e-7)
    stores.audit.add(an_audit_entry(1))
    migrate(stores.engine, "0001", down=True)
    tables = set(inspect(stores.engine).get_table_names())
    assert not tables & {"ledger", "settings", "audit"}
    assert {"objects", "requests", "handlers", "datasets", "users"} <= tables
    assert stores.users.list() == [a_user(1)]
    migrate(stores.engine, "head")
    assert stores.users.list() == [a_user(1)]
    assert stores.ledger.list() == [] and stores.settings.items() == {}
    assert stores.audit.list() == []
    stores.ledger.append(a_ledger_entry(1, 0))
    stores.audit.add(an_audit_entry(1))
    assert stores.audit.list() == [an_audit_entry(1)]


# -- recovery at start ------------------------------------------------------------------------


def test_recovery_removes_orphans_temp_files_and_rows_without_blobs(
    sql_backend: Backend,
) -> None:
    stores = sql_backend.open()
    stores.objects.put(an_object(1), "kept" + BIG_TEXT)
    stores.objects.put(an_object(2), "its blob will vanish" + BIG_TEXT)
    stores.objects.put(an_object(3), "inline: no blob to miss")
    stores.blobs.put("orphan01", "a blob whose row never came")
    (stores.blobs.root / ".tmp-deadbeef").write_bytes(b"half an upload")
    os.unlink(stores.blobs.path(an_object(2).id))
    stores.close()

    again = sql_backend.open()
    assert again.recovery.temp_files == [".tmp-deadbeef"]
    assert again.recovery.orphan_blobs == ["orphan01"]
    assert again.recovery.missing_blobs == [an_object(2).id]
    assert again.objects.list() == [an_object(1), an_object(3)]
    assert blob_files(again) == [an_object(1).id]
    assert again.objects.value(an_object(1).id) == "kept" + BIG_TEXT
    assert again.objects.value(an_object(3).id) == "inline: no blob to miss"


def test_a_missing_blob_directory_refuses_to_open(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    stores.objects.put(an_object(1), "x")
    root = stores.blobs.root
    stores.close()
    for name in os.listdir(root):
        os.unlink(root / name)
    root.rmdir()
    with pytest.raises(UsageError, match="is data_dir right"):
        sql_backend.open()
    assert not root.exists()  # nothing changed


# -- engines and URLs -------------------------------------------------------------------------


def test_database_urls(tmp_path: Path) -> None:
    assert database_url(None, tmp_path).database == str(tmp_path / "node.db")
    assert database_url(None, tmp_path).drivername == "sqlite+pysqlite"
    for given in ("postgresql://u@127.0.0.1/db", "postgres://u@h/db", "postgresql+psycopg2://h"):
        assert database_url(given, tmp_path).drivername == "postgresql+psycopg"
    assert database_url("sqlite:///x.db", tmp_path).database == "x.db"
    with pytest.raises(UsageError):
        database_url("not a url", tmp_path)


def test_sqlite_settings(tmp_path: Path) -> None:
    with open_stores(None, tmp_path) as stores:
        assert (tmp_path / "node.db").is_file()
        with stores.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    with open_stores(None, tmp_path, fsync=False) as stores, stores.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_sqlite_in_memory_url(tmp_path: Path) -> None:
    with open_stores("sqlite://", tmp_path) as stores:
        stores.users.add(a_user(1))
        assert stores.users.list() == [a_user(1)]
