"""The one store suite, run on every backend: memory, SQLite and PostgreSQL.

The in-memory stores define the behaviour (results and errors); the SQL stores must match it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from store_support import (
    a_dataset,
    a_handler,
    a_ledger_entry,
    a_request,
    a_user,
    an_audit_entry,
    an_object,
)

from unseen import serde
from unseen.errors import BudgetExhausted, NotFound, UsageError
from unseen.store import (
    AssetRecord,
    AuditRecord,
    JobRecord,
    LedgerConflict,
    ObjectRecord,
    RequestRecord,
)


def by_id(records: list[Any]) -> list[Any]:
    return sorted(records, key=lambda r: r.id)


# -- objects ----------------------------------------------------------------------------------


def test_object_round_trip(stores: Any) -> None:
    record = an_object(1)
    stores.objects.put(record, {"a": [1, 2.5, "x"], "b": (None, True)})
    assert stores.objects.get(record.id) == record
    assert stores.objects.exists(record.id)
    assert stores.objects.value(record.id) == {"a": [1, 2.5, "x"], "b": (None, True)}
    got = stores.objects.get(record.id)
    assert isinstance(got.sources, frozenset) and isinstance(got.readers, frozenset)
    assert isinstance(got.tags, tuple) and isinstance(got.recipe, tuple)
    assert isinstance(got.public_meta["shape"], tuple)
    assert isinstance(got.public_meta["nested"]["fs"], frozenset)


def test_object_defaults_round_trip(stores: Any) -> None:
    record = ObjectRecord(id="plain0001", family="value", creator="u", sources=frozenset())
    stores.objects.put(record, None)
    assert stores.objects.get("plain0001") == record
    assert stores.objects.value("plain0001") is None


def test_object_put_twice_is_a_usage_error_and_keeps_the_first(stores: Any) -> None:
    stores.objects.put(an_object(1), "first")
    with pytest.raises(UsageError):
        stores.objects.put(an_object(1, description="second"), "second")
    assert stores.objects.get(an_object(1).id) == an_object(1)
    assert stores.objects.value(an_object(1).id) == "first"


def test_existing_names_the_stored_ids_among_many(stores: Any) -> None:
    stored = [an_object(i) for i in (3, 700, 1200)]
    for record in stored:
        stores.objects.put(record, None)
    asked = [an_object(i).id for i in range(1300)]  # more ids than one IN (...) query holds
    assert stores.objects.existing(asked) == {r.id for r in stored}
    assert stores.objects.existing([stored[0].id, stored[0].id, "nope"]) == {stored[0].id}
    assert stores.objects.existing([]) == set()


def test_object_missing_ids(stores: Any) -> None:
    assert not stores.objects.exists("nope")
    with pytest.raises(NotFound):
        stores.objects.get("nope")
    with pytest.raises(NotFound):
        stores.objects.value("nope")
    with pytest.raises(NotFound):
        stores.objects.update(an_object(9))
    with pytest.raises(NotFound):
        stores.objects.delete("nope")
    assert stores.objects.list() == []


def test_object_update_changes_metadata_only(stores: Any) -> None:
    stores.objects.put(an_object(1), [1, 2, 3])
    changed = an_object(1, readers=frozenset({"dave", "erin"}), tags=("#new",), error=None)
    stores.objects.update(changed)
    assert stores.objects.get(changed.id) == changed
    assert stores.objects.value(changed.id) == [1, 2, 3]


def test_object_delete_then_reuse_the_id(stores: Any) -> None:
    stores.objects.put(an_object(1), "old")
    stores.objects.delete(an_object(1).id)
    assert not stores.objects.exists(an_object(1).id)
    with pytest.raises(NotFound):
        stores.objects.value(an_object(1).id)
    stores.objects.put(an_object(1), "new")
    assert stores.objects.value(an_object(1).id) == "new"


def test_object_list_holds_every_object(stores: Any) -> None:
    records = [an_object(i, created_at=100.0 - i) for i in range(5)]
    for r in reversed(records):
        stores.objects.put(r, r.id)
    assert by_id(stores.objects.list()) == by_id(records)


def test_object_ids_with_any_characters(stores: Any) -> None:
    for odd in ("UPPER", "with/slash", "../escape", ".hidden", "ü n i c ø d e", "x" * 300):
        stores.objects.put(an_object(0, id=odd), odd)
        assert stores.objects.value(odd) == odd
    assert {r.id for r in stores.objects.list()} >= {"UPPER", "../escape"}


def test_records_given_back_are_copies(stores: Any) -> None:
    stores.objects.put(an_object(1), 0)
    got = stores.objects.get(an_object(1).id)
    got.public_meta["shape"] = (0,)
    got.public_meta["nested"]["t"] = ()
    assert stores.objects.get(an_object(1).id) == an_object(1)
    stores.datasets.add(a_dataset(1))
    ds = stores.datasets.get(a_dataset(1).id)
    ds.assets.append(AssetRecord(name="extra", object_id="o9", mock_id=None))
    ds.assets[0].bounds = None
    assert stores.datasets.get(a_dataset(1).id) == a_dataset(1)


def test_stored_records_do_not_alias_the_callers(stores: Any) -> None:
    record = an_object(1)
    stores.objects.put(record, 0)
    record.public_meta["shape"] = (99,)
    assert stores.objects.get(record.id).public_meta["shape"] == (3, 4)


def test_unserializable_public_meta_is_a_usage_error_or_stored(stores: Any) -> None:
    record = an_object(1, public_meta={"bad": object()})
    try:
        stores.objects.put(record, 0)
    except UsageError:  # the SQL stores cannot hold it: nothing is left behind
        assert not stores.objects.exists(record.id)
        stores.objects.put(an_object(1), 0)
        assert stores.objects.value(record.id) == 0
    else:  # the memory store keeps any object
        assert stores.objects.exists(record.id)


def test_text_the_database_refuses_is_a_usage_error_or_stored(stores: Any) -> None:
    record = an_object(1, description="a NUL \x00 inside")  # PostgreSQL text cannot hold it
    try:
        stores.objects.put(record, 0)
    except UsageError:
        assert not stores.objects.exists(record.id)
        assert stores.objects.list() == []
    else:
        assert stores.objects.get(record.id) == record


# -- requests ---------------------------------------------------------------------------------


def test_request_round_trip_and_update(stores: Any) -> None:
    record = a_request(1)
    stores.requests.add(record)
    assert stores.requests.get(record.id) == record
    decided = dataclasses.replace(
        record, status="denied", deny_reason="no", decided_by="owner", decided_at=2500.5
    )
    stores.requests.update(decided)
    assert stores.requests.get(record.id) == decided
    assert stores.requests.list() == [decided]


def test_requests_for_one_object(stores: Any) -> None:
    first, other, second = (
        a_request(1),
        a_request(2),
        a_request(3, object_id=a_request(1).object_id),
    )
    for record in (first, other, second):
        stores.requests.add(record)
    assert stores.requests.for_object(first.object_id) == [first, second]
    assert stores.requests.for_object(other.object_id) == [other]
    assert stores.requests.for_object("nope") == []


def test_request_errors(stores: Any) -> None:
    stores.requests.add(a_request(1))
    with pytest.raises(UsageError):
        stores.requests.add(a_request(1, reason="again"))
    assert stores.requests.get(a_request(1).id) == a_request(1)
    with pytest.raises(NotFound):
        stores.requests.get("nope")
    with pytest.raises(NotFound):
        stores.requests.update(a_request(2))


def test_request_list(stores: Any) -> None:
    records = [a_request(i, created_at=50.0 - i) for i in range(4)]
    for r in records:
        stores.requests.add(r)
    assert by_id(stores.requests.list()) == by_id(records)


def test_a_code_request_keeps_its_submission(stores: Any) -> None:
    code = {
        "function": "corr",
        "source": "def corr(data):\n    return data.T\n",
        "inputs": [{"name": "data", "object_id": "o1", "label": "Diabetes/data"}],
        "output": "value",
        "hash": "ab" * 32,
    }
    record = a_request(1, object_id="", code=code)
    stores.requests.add(record)
    assert stores.requests.get(record.id) == record
    assert stores.requests.get(record.id).code == code


# -- jobs -------------------------------------------------------------------------------------


def a_job(i: int, **changes: Any) -> JobRecord:
    job = JobRecord(
        id=f"job{i}",
        requester=f"user{i}",
        request_id=f"req{i}",
        function="corr",
        code_hash=f"{i:064x}",
        created_at=1000.0 + i,
    )
    return dataclasses.replace(job, **changes)


def test_job_round_trip_update_and_list(stores: Any) -> None:
    jobs = [a_job(i, created_at=50.0 - i) for i in range(3)]
    for job in jobs:
        stores.jobs.add(job)
    assert stores.jobs.get("job1") == jobs[1]
    finished = dataclasses.replace(
        jobs[1],
        status="done",
        result_id="r1",
        logs_id="l1",
        cpu_seconds=0.25,
        wall_seconds=1.5,
        finished_at=2000.0,
    )
    stores.jobs.update(finished)
    assert stores.jobs.get("job1") == finished
    assert stores.jobs.list() == [jobs[2], finished, jobs[0]]  # oldest first


def test_job_errors(stores: Any) -> None:
    stores.jobs.add(a_job(1))
    with pytest.raises(UsageError):
        stores.jobs.add(a_job(1, function="other"))
    assert stores.jobs.get("job1") == a_job(1)
    with pytest.raises(NotFound):
        stores.jobs.get("nope")
    with pytest.raises(NotFound):
        stores.jobs.update(a_job(2))


# -- handlers ---------------------------------------------------------------------------------


def test_handlers(stores: Any) -> None:
    assert stores.handlers.list() == []
    records = [a_handler(1), a_handler(2, action="deny", name=None, requester="bob", tags=())]
    for r in records:
        stores.handlers.add(r)
    assert by_id(stores.handlers.list()) == by_id(records)
    with pytest.raises(UsageError):
        stores.handlers.add(a_handler(1))
    stores.handlers.remove(records[0].id)
    assert stores.handlers.list() == [records[1]]
    with pytest.raises(NotFound):
        stores.handlers.remove(records[0].id)


# -- datasets ---------------------------------------------------------------------------------


def test_datasets(stores: Any) -> None:
    records = [a_dataset(1), a_dataset(2, assets=[], tags=())]
    for r in records:
        stores.datasets.add(r)
    got = stores.datasets.get(records[0].id)
    assert got == records[0]
    assert isinstance(got.assets[0], AssetRecord)
    assert got.assets[0].bounds == [(-0.2, 0.2), (0.0, float("inf"))]
    assert isinstance(got.assets[0].bounds[0], tuple)
    assert by_id(stores.datasets.list()) == by_id(records)
    with pytest.raises(UsageError):
        stores.datasets.add(a_dataset(1))
    stores.datasets.delete(records[0].id)
    with pytest.raises(NotFound):
        stores.datasets.get(records[0].id)
    with pytest.raises(NotFound):
        stores.datasets.delete(records[0].id)
    assert stores.datasets.list() == [records[1]]


# -- users ------------------------------------------------------------------------------------


def test_users(stores: Any) -> None:
    alice, bob = a_user(1), a_user(2, role="owner", budget=0.0)
    stores.users.add(alice)
    stores.users.add(bob)
    assert stores.users.get(alice.id) == alice
    assert stores.users.by_email(bob.email) == bob
    assert by_id(stores.users.list()) == by_id([alice, bob])
    renamed = dataclasses.replace(alice, name="Alice B", email="new@example.org", budget=3.0)
    stores.users.update(renamed)
    assert stores.users.get(alice.id) == renamed
    assert stores.users.by_email("new@example.org") == renamed
    with pytest.raises(NotFound):
        stores.users.by_email(alice.email)
    stores.users.delete(bob.id)
    assert stores.users.list() == [renamed]


def test_user_errors(stores: Any) -> None:
    stores.users.add(a_user(1))
    stores.users.add(a_user(2))
    with pytest.raises(UsageError):
        stores.users.add(a_user(1, email="other@example.org"))
    with pytest.raises(UsageError):
        stores.users.add(a_user(3, email=a_user(1).email))
    with pytest.raises(UsageError):
        stores.users.update(a_user(2, email=a_user(1).email))
    assert stores.users.get(a_user(2).id) == a_user(2)
    for call, arg in [
        (stores.users.get, "nope"),
        (stores.users.by_email, "nope@example.org"),
        (stores.users.update, a_user(9)),
        (stores.users.delete, "nope"),
    ]:
        with pytest.raises(NotFound):
            call(arg)
    assert by_id(stores.users.list()) == [a_user(1), a_user(2)]


def test_charge_budget(stores: Any) -> None:
    stores.users.add(a_user(1, budget=1.0))
    assert stores.users.charge_budget(a_user(1).id, 0.25) == pytest.approx(0.75)
    assert stores.users.get(a_user(1).id).spent == 0.25
    with pytest.raises(BudgetExhausted):
        stores.users.charge_budget(a_user(1).id, 0.8)
    assert stores.users.get(a_user(1).id).spent == 0.25  # nothing charged
    assert stores.users.charge_budget(a_user(1).id, 0.75) == pytest.approx(0.0)
    assert stores.users.charge_budget(a_user(1).id, 0.0) == pytest.approx(0.0)
    remaining = stores.users.charge_budget(a_user(1).id, 2, limit_check=False)
    assert remaining == pytest.approx(-2.0)


def test_charges_of_a_tenth_fill_a_budget_of_one(stores: Any) -> None:
    stores.users.add(a_user(1, budget=1.0))
    for _ in range(10):
        stores.users.charge_budget(a_user(1).id, 0.1)
    with pytest.raises(BudgetExhausted):
        stores.users.charge_budget(a_user(1).id, 0.1)


def test_charge_budget_errors(stores: Any) -> None:
    stores.users.add(a_user(1))
    with pytest.raises(NotFound):
        stores.users.charge_budget("nope", 1.0)
    for bad in (-1.0, float("nan"), float("inf"), "1", None, True):
        with pytest.raises(UsageError):
            stores.users.charge_budget(a_user(1).id, bad)
    assert stores.users.get(a_user(1).id).spent == 0.0


def test_update_never_undoes_a_charge(stores: Any) -> None:
    stores.users.add(a_user(1, budget=5.0))
    stale = stores.users.get(a_user(1).id)
    stores.users.charge_budget(a_user(1).id, 2.0)
    stale.budget = 6.0
    stores.users.update(stale)  # written from a copy taken before the charge
    got = stores.users.get(a_user(1).id)
    assert (got.budget, got.spent) == (6.0, 2.0)


def test_add_keeps_the_given_spent(stores: Any) -> None:
    stores.users.add(a_user(1, spent=1.5))
    assert stores.users.get(a_user(1).id).spent == 1.5


# -- the privacy ledger -----------------------------------------------------------------------


def test_ledger_round_trip(stores: Any) -> None:
    assert stores.ledger.last("user00001") is None
    assert stores.ledger.entries("user00001") == []
    assert stores.ledger.list() == []
    a0, a1, b0 = a_ledger_entry(1, 0), a_ledger_entry(1, 1), a_ledger_entry(2, 0)
    for record in (a0, b0, a1):
        stores.ledger.append(record)
    assert stores.ledger.entries(a0.user_id) == [a0, a1]
    assert stores.ledger.entries(b0.user_id) == [b0]
    assert stores.ledger.last(a0.user_id) == a1
    assert stores.ledger.last(b0.user_id) == b0
    got = stores.ledger.last(a0.user_id)
    assert isinstance(got.components, list) and got.components[0] == ("laplace", 0.25)
    assert isinstance(got.components[0], tuple) and isinstance(got.datasets, tuple)
    listed = stores.ledger.list()
    assert sorted(listed, key=lambda r: (r.user_id, r.seq)) == [a0, a1, b0]
    assert [r.seq for r in listed if r.user_id == a0.user_id] == [0, 1]  # each user in order


def test_ledger_edge_values(stores: Any) -> None:
    record = a_ledger_entry(
        1,
        0,
        epsilon=0.0,
        delta=0.0,
        components=[],
        charge=0.0,
        spent=float("inf"),
        datasets=(),
        query="ünïcode ∑ query",
        mechanism="",
    )
    stores.ledger.append(record)
    assert stores.ledger.entries(record.user_id) == [record]


def test_ledger_append_is_compare_and_set(stores: Any) -> None:
    first = a_ledger_entry(1, 0)
    with pytest.raises(LedgerConflict):  # a user's entries start at 0
        stores.ledger.append(a_ledger_entry(1, 1))
    stores.ledger.append(first)
    with pytest.raises(LedgerConflict):  # number 0 is taken
        stores.ledger.append(a_ledger_entry(1, 0, id="other", charge=9.0))
    for seq in (2, 5, -1):  # no gaps, no negative numbers
        with pytest.raises(LedgerConflict):
            stores.ledger.append(a_ledger_entry(1, seq, id=f"gap{seq}"))
    assert stores.ledger.entries(first.user_id) == [first]
    stores.ledger.append(a_ledger_entry(1, 1))
    assert stores.ledger.last(first.user_id) == a_ledger_entry(1, 1)
    assert isinstance(LedgerConflict("x"), Exception)


def test_ledger_duplicate_id_is_a_usage_error(stores: Any) -> None:
    stores.ledger.append(a_ledger_entry(1, 0))
    with pytest.raises(UsageError):
        stores.ledger.append(a_ledger_entry(2, 0, id=a_ledger_entry(1, 0).id))
    assert stores.ledger.entries(a_ledger_entry(2, 0).user_id) == []
    stores.ledger.append(a_ledger_entry(2, 0))  # the number stays free
    assert len(stores.ledger.list()) == 2


def test_ledger_records_are_copies(stores: Any) -> None:
    record = a_ledger_entry(1, 0)
    stores.ledger.append(record)
    record.components.append(("pure", 9.0))
    got = stores.ledger.last(record.user_id)
    assert got == a_ledger_entry(1, 0)
    got.components.clear()
    assert stores.ledger.entries(record.user_id) == [a_ledger_entry(1, 0)]


# -- settings ---------------------------------------------------------------------------------


SETTING_VALUES: list[Any] = [
    1e-6,
    0,
    -3,
    True,
    "text ü",
    b"\x00\xff",
    [1, 2.5, "x"],
    (1, (2, None)),
    frozenset({"a", "b"}),
    {"nested": {"t": (1, 2), 3: "int key"}, "inf": float("inf")},
    None,
]


def test_settings_round_trip(stores: Any) -> None:
    assert stores.settings.get("missing") is None
    assert stores.settings.get("missing", 42) == 42
    assert stores.settings.items() == {}
    for i, value in enumerate(SETTING_VALUES):
        stores.settings.set(f"k{i:02d}", value)
    for i, value in enumerate(SETTING_VALUES):
        got = stores.settings.get(f"k{i:02d}", "absent")
        assert got == value and type(got) is type(value), (i, got)
    assert stores.settings.items() == {f"k{i:02d}": v for i, v in enumerate(SETTING_VALUES)}


def test_settings_overwrite_setdefault_and_delete(stores: Any) -> None:
    stores.settings.set("dp.delta", 1e-6)
    stores.settings.set("dp.delta", 1e-7)
    assert stores.settings.get("dp.delta") == 1e-7
    assert stores.settings.setdefault("dp.delta", 1e-5) == 1e-7
    assert stores.settings.get("dp.delta") == 1e-7
    assert stores.settings.setdefault("new", {"a": (1,)}) == {"a": (1,)}
    assert stores.settings.get("new") == {"a": (1,)}
    stores.settings.delete("new")
    assert stores.settings.get("new") is None
    with pytest.raises(NotFound):
        stores.settings.delete("new")
    assert stores.settings.items() == {"dp.delta": 1e-7}


def test_settings_errors_and_copies(stores: Any) -> None:
    for bad in ("", None, 3, ("a",)):
        with pytest.raises(UsageError):
            stores.settings.set(bad, 1)
        with pytest.raises(UsageError):
            stores.settings.get(bad)
    value = {"list": [1, 2]}
    stores.settings.set("k", value)
    value["list"].append(3)
    got = stores.settings.get("k")
    assert got == {"list": [1, 2]}
    got["list"].append(4)
    stores.settings.items()["k"]["list"].append(5)
    assert stores.settings.get("k") == {"list": [1, 2]}


def test_unstorable_setting_is_a_usage_error_or_stored(stores: Any) -> None:
    try:
        stores.settings.set("bad", {"x": object()})
    except UsageError:  # the SQL stores cannot hold it: nothing is left behind
        assert stores.settings.get("bad") is None
    else:  # the memory store keeps any value
        assert "bad" in stores.settings.items()


# -- the audit log ----------------------------------------------------------------------------


def test_audit_round_trip_in_the_order_added(stores: Any) -> None:
    assert stores.audit.list() == []
    records = [an_audit_entry(i, at=7000.0 - i) for i in range(6)]  # newer entries, older at
    for r in records:
        stores.audit.add(r)
    assert stores.audit.list() == records
    assert all(isinstance(r, AuditRecord) for r in stores.audit.list())
    odd = an_audit_entry(9, target="", action="ü/\x01", user_id="")
    stores.audit.add(odd)
    assert stores.audit.list()[-1] == odd


def test_audit_limit_and_since(stores: Any) -> None:
    records = [an_audit_entry(i) for i in range(10)]  # at = 7000 .. 7009
    for r in records:
        stores.audit.add(r)
    assert stores.audit.list(limit=3) == records[-3:]
    assert stores.audit.list(limit=0) == []
    assert stores.audit.list(limit=100) == records
    assert stores.audit.list(since=7007.0) == records[7:]
    assert stores.audit.list(since=7006.5, limit=2) == records[8:]
    assert stores.audit.list(since=7006.5, limit=5) == records[7:]
    assert stores.audit.list(since=99999.0) == []
    assert stores.audit.list(since=0) == records
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(UsageError):
            stores.audit.list(limit=bad)


def test_audit_duplicate_id_is_a_usage_error(stores: Any) -> None:
    stores.audit.add(an_audit_entry(1))
    with pytest.raises(UsageError):
        stores.audit.add(an_audit_entry(1, action="other"))
    assert stores.audit.list() == [an_audit_entry(1)]


# -- object sizes and each user's stored bytes -------------------------------------------------


ALICE = frozenset({"alice"})


def encoded_size(value: Any) -> int:
    return sum(memoryview(p).nbytes for p in serde.encode_parts(value))


def test_object_size_is_kept_by_the_store(stores: Any) -> None:
    big, small = np.arange(50_000.0), np.arange(3.0)
    stores.objects.put(
        an_object(1, creator="alice", sources=ALICE, size=123), big
    )  # a given size is ignored
    stores.objects.put(an_object(2, creator="alice", sources=ALICE), small, durable=False)
    stores.objects.put(an_object(3, creator="bob", sources=frozenset()), "text")
    assert stores.objects.get("obj00001").size == encoded_size(big) > 400_000
    assert stores.objects.get("obj00002").size == encoded_size(small)
    sizes = {r.id: r.size for r in stores.objects.list()}
    assert sizes["obj00003"] == encoded_size("text")
    assert stores.objects.bytes_of("alice") == encoded_size(big) + encoded_size(small)
    assert stores.objects.bytes_of("bob") == encoded_size("text")
    assert stores.objects.bytes_of("nobody") == 0
    stores.objects.update(
        dataclasses.replace(an_object(1, creator="alice", sources=ALICE), size=1, tags=("#x",))
    )
    assert stores.objects.get("obj00001").size == encoded_size(big)  # update keeps the size
    stores.objects.delete("obj00001")
    assert stores.objects.bytes_of("alice") == encoded_size(small)


def test_streamed_object_size(stores: Any) -> None:
    value = np.ones((300, 300))
    encoded = bytes(serde.encode(value))
    with stores.objects.begin_put(
        an_object(4, creator="carol", sources=frozenset({"carol"}))
    ) as upload:
        upload.write(encoded[:1000])
        upload.write(encoded[1000:])
        upload.contents()
        assert upload.commit() == len(encoded)
    assert stores.objects.get("obj00004").size == len(encoded)
    assert stores.objects.bytes_of("carol") == len(encoded)


def test_objects_derived_from_others_data_count_no_bytes(stores: Any) -> None:
    # their size may be private (a filter's row count): it must not show in the creator's usage
    stores.objects.put(an_object(5, creator="alice", sources=frozenset({"bob"})), np.arange(9.0))
    stores.objects.put(an_object(6, creator="alice", sources=ALICE | {"bob"}), np.arange(99.0))
    with stores.objects.begin_put(an_object(7, creator="alice", sources=frozenset({"bob"}))) as up:
        up.write(bytes(serde.encode(np.ones(500))))
        up.commit()
    assert stores.objects.bytes_of("alice") == 0
    assert {stores.objects.get(f"obj0000{i}").size for i in (5, 6, 7)} == {0}


# -- revoked tokens ---------------------------------------------------------------------------


def test_revoked_tokens(stores: Any) -> None:
    assert not stores.tokens.is_revoked("t1")
    stores.tokens.revoke("t1", "alice", 2000.0)
    stores.tokens.revoke("t1", "alice", 2000.0)  # again: no error, still one entry
    stores.tokens.revoke("t2", "bob", 1000.0)
    assert stores.tokens.is_revoked("t1") and stores.tokens.is_revoked("t2")
    assert not stores.tokens.is_revoked("t3") and not stores.tokens.is_revoked("")
    assert stores.tokens.prune(1500.0) == 1  # t2 expired: its token is refused anyway
    assert stores.tokens.is_revoked("t1") and not stores.tokens.is_revoked("t2")
    assert stores.tokens.prune(1500.0) == 0


# -- the interfaces ---------------------------------------------------------------------------


def test_every_backend_has_every_interface_method(stores: Any) -> None:
    from unseen.store import _interfaces

    for name, proto in [
        ("objects", _interfaces.ObjectStore),
        ("requests", _interfaces.RequestStore),
        ("jobs", _interfaces.JobStore),
        ("handlers", _interfaces.HandlerStore),
        ("datasets", _interfaces.DatasetStore),
        ("users", _interfaces.UserStore),
        ("ledger", _interfaces.LedgerStore),
        ("settings", _interfaces.SettingsStore),
        ("audit", _interfaces.AuditStore),
        ("tokens", _interfaces.TokenStore),
    ]:
        wanted = {m for m in vars(proto) if not m.startswith("_")}
        store = getattr(stores, name)
        assert wanted, name
        missing = [m for m in wanted if not callable(getattr(store, m, None))]
        assert not missing, (name, missing)


def test_request_records_compare_by_value(stores: Any) -> None:
    record = RequestRecord(
        id="r1", object_id="o", requester="a", requester_name="A", name="n", reason="r"
    )
    stores.requests.add(record)
    assert stores.requests.get("r1") == record
