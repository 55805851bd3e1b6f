"""Storage of a node: records and values behind plain CRUD interfaces (no authorization here)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unseen.store._blobs import BlobStore, BlobWriter, DirectoryBlobStore
from unseen.store._interfaces import (
    AuditStore,
    DatasetStore,
    HandlerStore,
    JobStore,
    LedgerStore,
    ObjectStore,
    ObjectUpload,
    RequestStore,
    SettingsStore,
    TokenStore,
    UserStore,
)
from unseen.store._memory import (
    MemoryAuditStore,
    MemoryDatasetStore,
    MemoryHandlerStore,
    MemoryJobStore,
    MemoryLedgerStore,
    MemoryObjectStore,
    MemoryRequestStore,
    MemorySettingsStore,
    MemoryTokenStore,
    MemoryUserStore,
    Stores,
)
from unseen.store._records import (
    BUDGET_RTOL,
    AssetRecord,
    AuditRecord,
    DatasetRecord,
    HandlerRecord,
    JobRecord,
    JobStatus,
    LedgerConflict,
    LedgerRecord,
    ObjectRecord,
    RequestRecord,
    RequestStatus,
    UserRecord,
)

if TYPE_CHECKING:  # the SQL stores load on first use: SQLAlchemy is a server-only dependency
    from unseen.store._sql_node import (
        SQLAuditStore,
        SQLLedgerStore,
        SQLSettingsStore,
        SQLTokenStore,
    )
    from unseen.store._sql_objects import ObjectWriter, RecoveryReport, SQLObjectStore
    from unseen.store._sql_open import SQLStores, open_stores
    from unseen.store._sql_records import (
        SQLDatasetStore,
        SQLHandlerStore,
        SQLJobStore,
        SQLRequestStore,
        SQLUserStore,
    )

_LAZY = {
    "ObjectWriter": "_sql_objects",
    "RecoveryReport": "_sql_objects",
    "SQLObjectStore": "_sql_objects",
    "SQLStores": "_sql_open",
    "open_stores": "_sql_open",
    "SQLDatasetStore": "_sql_records",
    "SQLHandlerStore": "_sql_records",
    "SQLJobStore": "_sql_records",
    "SQLRequestStore": "_sql_records",
    "SQLUserStore": "_sql_records",
    "SQLAuditStore": "_sql_node",
    "SQLLedgerStore": "_sql_node",
    "SQLSettingsStore": "_sql_node",
    "SQLTokenStore": "_sql_node",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unseen.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"unseen.store.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BUDGET_RTOL",
    "AssetRecord",
    "AuditRecord",
    "AuditStore",
    "BlobStore",
    "BlobWriter",
    "DirectoryBlobStore",
    "ObjectWriter",
    "RecoveryReport",
    "SQLAuditStore",
    "SQLDatasetStore",
    "SQLHandlerStore",
    "SQLJobStore",
    "SQLLedgerStore",
    "SQLObjectStore",
    "SQLRequestStore",
    "SQLSettingsStore",
    "SQLStores",
    "SQLTokenStore",
    "SQLUserStore",
    "open_stores",
    "DatasetRecord",
    "DatasetStore",
    "HandlerRecord",
    "HandlerStore",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "MemoryJobStore",
    "LedgerConflict",
    "LedgerRecord",
    "LedgerStore",
    "MemoryAuditStore",
    "MemoryLedgerStore",
    "MemoryDatasetStore",
    "MemoryHandlerStore",
    "MemoryObjectStore",
    "MemoryRequestStore",
    "MemorySettingsStore",
    "MemoryTokenStore",
    "MemoryUserStore",
    "ObjectRecord",
    "ObjectStore",
    "ObjectUpload",
    "RequestRecord",
    "RequestStatus",
    "RequestStore",
    "SettingsStore",
    "Stores",
    "TokenStore",
    "UserRecord",
    "UserStore",
]
