"""The node over its stores: the DP delta kept in the settings store and the audit log kept in
the audit store, on every backend (and across a restart, on the SQL ones)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import numpy as np
import pytest
from store_support import Backend, a_ledger_entry, an_audit_entry

import unseen
from unseen.client import Client
from unseen.errors import UsageError
from unseen.node import AuditEntry, Node
from unseen.node._dp import DELTA_KEY
from unseen.store import AuditRecord, MemoryAuditStore, Stores
from unseen.transport import InProcConnection


def owner_and_scientist(node: Node, budget: float = 100.0) -> tuple[Client, Client]:
    """An owner with a dataset "D" (asset ``y`` in [0, 10]) and a scientist with a budget."""
    owner = Client(InProcConnection(node, node.add_user("owner", "owner")))
    ds = unseen.Dataset("D")
    ds.add_asset("y", np.linspace(0, 10, 200), mock=np.zeros(4), bounds=(0, 10))
    owner.upload_dataset(ds)
    scientist = Client(InProcConnection(node, node.add_user("Ana", "data_scientist")))
    owner.users.update(scientist.user_id, budget=budget)
    return owner, scientist


# -- the DP delta -----------------------------------------------------------------------------


def test_the_default_delta_is_stored_on_the_first_start(backend: Backend) -> None:
    stores = backend.open()
    node = Node("n", stores=stores)
    assert node.dp_delta == 1e-6
    assert stores.settings.get(DELTA_KEY) == 1e-6


def test_an_explicit_delta_wins_on_the_first_start_only(
    sql_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    stores = sql_backend.open()
    assert Node("n", stores=stores, dp_delta=1e-7).dp_delta == 1e-7
    stores.close()
    stores = sql_backend.open()
    assert Node("n", stores=stores).dp_delta == 1e-7  # the stored value
    with caplog.at_level(logging.WARNING, logger="unseen.node"):
        node = Node("n", stores=stores, dp_delta=1e-5)
    assert node.dp_delta == 1e-7
    assert "dp_delta=1e-05 is ignored" in caplog.text
    assert Node("n", stores=stores, dp_delta=1e-7).dp_delta == 1e-7


def test_a_bad_delta_is_refused(backend: Backend) -> None:
    stores = backend.open()
    for bad in (0, 1, -1e-6, 2.0, float("nan"), True, "1e-6"):
        with pytest.raises(UsageError, match="delta"):
            Node("n", stores=stores, dp_delta=bad)  # type: ignore[arg-type]
    assert stores.settings.get(DELTA_KEY) is None  # nothing stored


def test_dp_settings_stores_the_delta_and_fixes_it_at_the_first_release(
    backend: Backend,
) -> None:
    stores = backend.open()
    node = Node("n", stores=stores, dp_delta=1e-7)
    owner, ana = owner_and_scientist(node)
    assert owner.dp_settings()["delta"] == 1e-7
    assert owner.dp_settings(delta=1e-8)["delta"] == 1e-8
    assert node.dp_delta == 1e-8 and stores.settings.get(DELTA_KEY) == 1e-8
    ana.datasets["D"]["y"].mean().get(epsilon=1.0)
    with pytest.raises(UsageError, match="fixed"):
        owner.dp_settings(delta=1e-5)
    with pytest.raises(UsageError, match="fixed"):
        node.dp_delta = 1e-5
    assert owner.dp_settings(delta=1e-8)["delta"] == 1e-8  # the same value is fine
    assert stores.settings.get(DELTA_KEY) == 1e-8
    assert [e.action for e in node.audit_log if e.action == "dp.settings"] == ["dp.settings"] * 2


def test_the_delta_and_balances_survive_a_restart(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    owner, ana = owner_and_scientist(node)
    owner.dp_settings(delta=1e-9)
    ana.datasets["D"]["y"].mean().get(epsilon=0.5)
    ana.datasets["D"]["y"].sum().get(epsilon=0.25)
    budget = ana.budget
    stores.close()

    stores = sql_backend.open()
    node = Node("n", stores=stores, dp_delta=1e-6)  # a restart with another flag: ignored
    assert node.dp_delta == 1e-9
    owner = Client(InProcConnection(node, node.principal(owner.user_id)))
    ana = Client(InProcConnection(node, node.principal(ana.user_id)))
    assert ana.budget == budget < 100.0
    assert owner.dp_settings()["delta"] == 1e-9
    with pytest.raises(UsageError, match="fixed"):
        owner.dp_settings(delta=1e-7)
    assert len(ana.call("dp.history")) == 2


def test_a_ledger_entry_fixes_the_delta_set_through_the_property(backend: Backend) -> None:
    stores = backend.open()
    node = Node("n", stores=stores)
    node.dp_delta = 1e-7
    assert node.dp_delta == 1e-7 and stores.settings.get(DELTA_KEY) == 1e-7
    with pytest.raises(UsageError):
        node.dp_delta = 1.5
    stores.ledger.append(a_ledger_entry(1, 0))
    with pytest.raises(UsageError, match="fixed"):
        node.dp_delta = 1e-6
    assert node.dp_delta == 1e-7


# -- the audit log ----------------------------------------------------------------------------


def test_the_audit_log_is_the_audit_store(backend: Backend) -> None:
    stores = backend.open()
    node = Node("n", stores=stores)
    owner, ana = owner_and_scientist(node)
    ana.datasets["D"]["y"].mean().get(epsilon=0.5)
    log = node.audit_log
    assert log == stores.audit.list()
    assert all(isinstance(e, AuditRecord) for e in log)
    assert AuditEntry is AuditRecord
    actions = [e.action for e in log]
    assert actions == ["dataset.upload", "user.update", "dp.release"]
    assert log[1].user_id == owner.user_id and log[1].target == ana.user_id
    assert log[2].user_id == ana.user_id and log[2].target == "D"
    assert len({e.id for e in log}) == len(log)
    ats = [e.at for e in log]
    assert ats == sorted(ats) and time.time() - ats[0] < 60


def test_audit_entries_survive_a_restart(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    for i in range(3):
        node.audit_id(f"user{i}", "object.send", f"obj{i}")
    before = node.audit_log
    stores.close()
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    assert node.audit_log == before
    assert [e.target for e in node.audit_log] == ["obj0", "obj1", "obj2"]
    node.audit_id("user9", "release", "obj9")
    assert stores.audit.list(limit=1)[0].target == "obj9"


def test_a_failing_audit_store_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemoryAuditStore):
        def add(self, record: AuditRecord) -> None:
            raise RuntimeError("disk full")

    node = Node("n", stores=Stores(audit=Broken()))
    with caplog.at_level(logging.ERROR, logger="unseen.node"):
        node.audit_id("u", "release", "obj1")
    assert "could not write the audit entry" in caplog.text
    assert node.audit_log == []


def test_the_memory_audit_log_keeps_the_newest_entries() -> None:
    store = MemoryAuditStore(maxlen=3)
    for i in range(5):
        store.add(an_audit_entry(i))
    assert store.list() == [an_audit_entry(i) for i in (2, 3, 4)]
    store.add(an_audit_entry(0))  # an id that was dropped may come again
    assert [e.id for e in store.list()] == [an_audit_entry(i).id for i in (3, 4, 0)]
    with pytest.raises(UsageError):
        MemoryAuditStore(maxlen=0)


def test_auditing_in_memory_is_cheap() -> None:
    """An audit entry costs about what building its record by hand costs (a ratio measured in
    the same run, so that a loaded machine slows both sides alike)."""
    node = Node("n")
    n = 5_000
    hand_made: list[dict[str, object]] = []

    def by_hand() -> None:
        for _ in range(n):
            hand_made.append(
                {"id": uuid.uuid4().hex, "user": "u", "kind": "graph.run", "object": "obj",
                 "at": time.time()}
            )  # fmt: skip

    def audited() -> None:
        for _ in range(n):
            node.audit_id("u", "graph.run", "obj")

    def best(run: Callable[[], None]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    ratio = best(audited) / best(by_hand)
    assert len(node.audit_log) == 5 * n
    assert ratio < 5.0, ratio  # about 0.8 today; a database write per entry would be 100x
