"""What a job's status and timing tell a scientist about private data: CPU seconds are
withheld, and the end shows only at a rounded time after the start; the owner sees it all."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from code_support import Clinic, X

import unseen
from unseen.node._code import coarse_seconds


def approve(clinic: Clinic) -> unseen.CodeFunction:
    @unseen.function(data=clinic.data)
    def column_means(data):  # type: ignore[no-untyped-def]
        print("rows:", len(data))
        return data.mean(axis=0)

    clinic.ana.code.request(column_means)
    clinic.owner.requests[0].accept()
    return column_means


def test_coarse_seconds_rounds_up_to_a_few_values_per_doubling() -> None:
    cases = {0.0: 1, 0.01: 1, 1.0: 1, 1.2: 2, 3.9: 4, 4.2: 5, 7.5: 8, 8.1: 10, 9.9: 10, 33: 40}
    for seconds, shown in cases.items():
        assert coarse_seconds(seconds) == shown
    for seconds in np.linspace(0.5, 5000, 997):
        shown = coarse_seconds(float(seconds))
        assert seconds <= shown <= max(1.0, 1.25 * seconds, np.ceil(seconds))


def test_the_scientist_sees_coarse_timing_and_the_owner_exact(clinic: Clinic) -> None:
    job = clinic.ana.code.run(approve(clinic)).wait(60)
    ended = time.time()
    exact = clinic.owner.code.job(job.id).view
    assert exact.timing == "exact" and exact.cpu_seconds is not None and exact.cpu_seconds > 0
    assert exact.finished_at is not None
    shown = job.view
    assert shown.status == "done" and shown.timing == "coarse"
    assert shown.cpu_seconds is None  # withheld: it measures the work on private data
    assert shown.wall_seconds == coarse_seconds(exact.wall_seconds)
    rounded = coarse_seconds(exact.finished_at - exact.created_at)
    assert shown.finished_at == exact.created_at + rounded
    assert ended >= shown.finished_at  # wait() returned only once the end showed
    assert np.allclose(job.result.get(), X.mean(axis=0))


def test_an_end_not_yet_shown_looks_running_on_every_path(clinic: Clinic) -> None:
    fn = approve(clinic)
    job = clinic.ana.code.run(fn).wait(60)
    node = clinic.owner.node
    record = node.stores.jobs.get(job.id)
    now = time.time()  # as if the job had ended a moment ago, 0.1 s after its start
    node.stores.jobs.update(
        dataclasses.replace(record, created_at=now - 0.2, finished_at=now - 0.1)
    )
    clinic.owner.code.job(job.id).release_logs()
    view = job.refresh().view
    assert (view.status, view.result_id, view.finished_at) == ("running", None, None)
    assert view.wall_seconds == 0.0 and not view.logs_released
    assert [j.view.status for j in clinic.ana.code.jobs] == ["running"]
    with pytest.raises(unseen.UsageError, match="no logs yet: it is running"):
        job.logs()
    with pytest.raises(unseen.PermissionDenied, match=r"\(running\)"):
        clinic.ana.code.run(fn)
    assert job.cancel().view.status == "running"  # too late to cancel, as in a race
    assert clinic.owner.code.job(job.id).view.status == "done"  # the owner sees it as it is
    node.stores.jobs.update(
        dataclasses.replace(record, created_at=now - 9.6, finished_at=now - 9.5)
    )
    view = job.refresh().view
    assert view.status == "done" and view.finished_at == pytest.approx(now - 8.6)
    assert job.logs().stdout == "rows: 40\n"


def test_a_failed_run_not_yet_shown_still_uses_the_approval(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def broken(data):  # type: ignore[no-untyped-def]
        raise ValueError("no")

    clinic.ana.code.request(broken)
    clinic.owner.requests[0].accept()
    job = clinic.ana.code.run(broken).wait(60)
    assert job.status == "failed"
    node = clinic.owner.node
    record = node.stores.jobs.get(job.id)
    now = time.time()
    node.stores.jobs.update(
        dataclasses.replace(record, created_at=now - 0.2, finished_at=now - 0.1)
    )
    with pytest.raises(unseen.PermissionDenied, match=r"\(running\)"):
        clinic.ana.code.run(broken)  # a new run would tell that it failed, early
    assert clinic.ana.code.request(broken).status == "pending"  # not the unused approval either


def test_on_her_own_data_the_scientist_sees_exact_timing(clinic: Clinic) -> None:
    own = clinic.ana.send(np.arange(6.0))

    @unseen.function(data=own)
    def double(data):  # type: ignore[no-untyped-def]
        return data * 2

    assert clinic.ana.code.request(double).status == "accepted"
    view = clinic.ana.code.run(double).wait(60).view
    assert view.timing == "exact" and view.cpu_seconds is not None and view.cpu_seconds > 0


def test_a_job_stopped_by_a_layer_shows_failed_without_the_reason(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def leaky(data):  # type: ignore[no-untyped-def]
        import socket  # refused: the reason names the module, a detail of the run

        return socket.gethostname() + str(data[0, 0])

    clinic.ana.code.request(leaky)
    clinic.owner.requests[0].accept()
    job = clinic.ana.code.run(leaky).wait(60)
    assert (job.view.status, job.view.reason) == ("failed", "")
    listed = [j for j in clinic.ana.code.jobs if j.id == job.id][0]
    for shown in (repr(job), repr(listed), str(listed.view)):
        assert "socket" not in shown and "not allowed" not in shown
    with pytest.raises(unseen.RemoteError) as caught:
        _ = job.result
    assert "socket" not in str(caught.value)
    with pytest.raises(unseen.CannotRequestPrivateData):
        job.logs()
    clinic.owner.code.job(job.id).release_logs()
    assert "import of 'socket' is not allowed" in job.logs().reason
