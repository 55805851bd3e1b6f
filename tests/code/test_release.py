"""What leaves the node from a job: its value once, its logs when the owner releases them,
and nothing of another scientist's jobs."""

from __future__ import annotations

import numpy as np
import pytest
from code_support import Clinic, X

import unseen


def approved(clinic: Clinic, client: unseen.Client | None = None) -> unseen.CodeFunction:
    client = client or clinic.ana
    data = client.search("#diabetes", verbose=False)[0]

    @unseen.function(data=data)
    def column_sums(data):  # type: ignore[no-untyped-def]
        print("summing", data.shape[1], "columns")
        return data.sum(axis=0)

    client.code.request(column_sums, reason="sums")
    [r for r in clinic.owner.requests if r.status == "pending"][0].accept()
    return column_sums


def test_the_result_is_released_once(clinic: Clinic) -> None:
    job = clinic.ana.code.run(approved(clinic)).wait(60)
    result = job.result
    assert np.allclose(result.get(), X.sum(axis=0))
    with pytest.raises(unseen.CannotRequestPrivateData):
        result.get()  # the grant was spent
    with pytest.raises(unseen.CannotRequestPrivateData):
        clinic.ana.call("object.get", {"id": result.id})
    with pytest.raises(unseen.CannotRequestPrivateData):
        (result * 2).get()  # nor what derives from it
    assert np.allclose(clinic.owner.code.job(job.id).result.get(), X.sum(axis=0))  # the owner


def test_an_approval_runs_once(clinic: Clinic) -> None:
    fn = approved(clinic)
    first = clinic.ana.code.run(fn).wait(60)
    with pytest.raises(unseen.PermissionDenied, match="an approval runs once"):
        clinic.ana.code.run(fn)  # a noised function run again and again would average out
    again = clinic.ana.code.request(fn, reason="once more")
    assert again.status == "pending" and again.id != first.view.request_id
    [r for r in clinic.owner.requests if r.id == again.id][0].accept()
    assert np.allclose(clinic.ana.code.run(fn).wait(60).result.get(), X.sum(axis=0))


def test_a_failed_or_cancelled_run_leaves_the_approval_unused(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def forever(data):  # type: ignore[no-untyped-def]
        while True:
            pass

    clinic.ana.code.request(forever)
    clinic.owner.requests[0].accept()
    clinic.ana.code.run(forever).cancel().wait(30)
    second = clinic.ana.code.run(forever)  # nothing was released: it may run again
    assert second.status == "running"
    second.cancel()


def test_unapproved_code_never_runs_on_private_data_without_a_mock(clinic: Clinic) -> None:
    own = clinic.ana.send(np.arange(4.0))  # no mock

    @unseen.function(data=own)
    def double(data):  # type: ignore[no-untyped-def]
        return data * 2

    assert clinic.ana.code.request(double).status == "accepted"  # her own: the rule accepts
    with pytest.raises(unseen.UsageError, match="no mock"):
        clinic.owner.requests[0].run_on_mock()


def test_logs_are_refused_until_the_owner_releases_them(clinic: Clinic) -> None:
    job = clinic.ana.code.run(approved(clinic)).wait(60)
    assert not job.view.logs_released
    with pytest.raises(unseen.CannotRequestPrivateData, match="release_logs"):
        job.logs()
    with pytest.raises(unseen.PermissionDenied):
        job.release_logs()  # not hers to release
    owner_view = clinic.owner.code.job(job.id)
    assert owner_view.logs().stdout == "summing 3 columns\n"  # the owner reads them first
    owner_view.release_logs()
    assert job.refresh().view.logs_released
    assert job.logs().stdout == "summing 3 columns\n"


def test_a_failed_job_says_why_only_in_its_logs(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def broken(data):  # type: ignore[no-untyped-def]
        raise ValueError(f"first value {data[0, 0]!r}")

    clinic.ana.code.request(broken)
    clinic.owner.requests[0].accept()
    job = clinic.ana.code.run(broken).wait(60)
    assert job.status == "failed"
    with pytest.raises(unseen.RemoteError) as caught:
        _ = job.result
    assert repr(X[0, 0]) not in str(caught.value) and repr(X[0, 0]) not in repr(job)
    with pytest.raises(unseen.CannotRequestPrivateData):
        job.logs()
    clinic.owner.code.job(job.id).release_logs()
    assert f"first value {X[0, 0]!r}" in job.logs().reason


def test_another_scientist_cannot_run_or_see_it(clinic: Clinic) -> None:
    fn = approved(clinic)
    job = clinic.ana.code.run(fn).wait(60)
    bob = clinic.owner.new_client("Bob")
    data = bob.search("#diabetes", verbose=False)[0]

    @unseen.function(data=data)
    def column_sums(data):  # type: ignore[no-untyped-def]
        print("summing", data.shape[1], "columns")
        return data.sum(axis=0)

    assert column_sums.hash == fn.hash  # the same code: approved for Ana, not for Bob
    with pytest.raises(unseen.PermissionDenied, match="no accepted code request of yours"):
        bob.code.run(column_sums)
    assert bob.code.jobs == []
    for call in (
        lambda: bob.code.job(job.id),
        lambda: bob.call("job.logs", {"id": job.id}),
        lambda: bob.call("job.cancel", {"id": job.id}),
        lambda: bob.call("object.get", {"id": job.view.result_id}),
    ):
        with pytest.raises(unseen.NotFound):
            call()
    assert [j.id for j in clinic.owner.code.jobs] == [job.id]  # owners see every job


def test_cancel_stops_a_running_job(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def forever(data):  # type: ignore[no-untyped-def]
        total = 0
        while True:
            total += 1

    clinic.ana.code.request(forever)
    clinic.owner.requests[0].accept()
    job = clinic.ana.code.run(forever)
    assert job.status == "running"
    job.cancel()
    assert job.wait(30).status == "cancelled"
    assert "cancelled by Ana" in job.view.reason
    with pytest.raises(unseen.UsageError, match="nothing to cancel"):
        job.cancel()


def test_two_reads_at_once_get_one_release(clinic: Clinic) -> None:
    import threading

    job = clinic.ana.code.run(approved(clinic)).wait(60)
    result_id = job.view.result_id
    got: list[object] = []
    refused: list[Exception] = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        try:
            got.append(clinic.ana.call("object.get", {"id": result_id}))
        except unseen.CannotRequestPrivateData as exc:
            refused.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 1 and len(refused) == 3
    assert np.allclose(np.asarray(got[0]), X.sum(axis=0))
