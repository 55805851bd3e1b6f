"""Jobs live in the store: they outlive the client's session and the node; a job running
when its node died is marked failed on the next start, never lost silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from code_support import ANA, X, upload
from server_support import ServerProcess, fresh_pg_database

import unseen
from unseen.node import Node
from unseen.store import JobRecord, open_stores

RESTARTED = "the node restarted while it ran"


def test_a_running_job_in_the_store_is_marked_failed_on_start(tmp_path: Path) -> None:
    with open_stores(None, tmp_path / "node") as stores:
        running = JobRecord(
            id="j1", requester="u1", request_id="r1", function="f", code_hash="0" * 64
        )
        done = JobRecord(
            id="j2", requester="u1", request_id="r1", function="f", code_hash="0" * 64,
            status="done", finished_at=5.0,
        )  # fmt: skip
        stores.jobs.add(running)
        stores.jobs.add(done)
    with open_stores(None, tmp_path / "node") as stores:
        Node("Clinic", stores=stores)
        after = {j.id: j for j in stores.jobs.list()}
    assert (after["j1"].status, after["j1"].reason) == ("failed", RESTARTED)
    assert after["j1"].finished_at is not None
    assert after["j2"] == done  # ended jobs stay as they were


def declare(data: unseen.Pointer, loops: int) -> unseen.CodeFunction:
    if loops:

        @unseen.function(data=data)
        def busy(data):  # type: ignore[no-untyped-def]
            total = 0
            for i in range(20_000_000):  # a few seconds: running when the node is killed
                total += i
            return data.sum() + total

        return busy

    @unseen.function(data=data)
    def total(data):  # type: ignore[no-untyped-def]
        return data.sum()

    return total


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_jobs_survive_disconnects_and_a_killed_node_marks_them_failed(
    database: str, tmp_path: Path
) -> None:
    with fresh_pg_database() if database == "postgresql" else _none() as url:
        server = ServerProcess(tmp_path / "data", url)
        server.start()
        try:
            owner = server.login()
            owner.users.create(email=ANA[0], password=ANA[1], name="Ana", role="data_scientist")
            upload(owner)
            ana = server.login(*ANA)
            data = ana.search("#diabetes", verbose=False)[0]
            quick, slow = declare(data, 0), declare(data, 1)
            for fn in (quick, slow):
                ana.code.request(fn)
            for request in owner.requests:
                request.accept()
            done_id = ana.code.run(quick).wait(60).id
            ana.logout()  # a finished job outlives the session
            ana = server.login(*ANA)
            assert ana.code.job(done_id).status == "done"
            running = ana.code.run(slow)
            assert running.status == "running"
            server.kill()  # SIGKILL: the job dies with its node
            server.start()
            ana = server.login(*ANA)
            jobs = {j.id: j.view for j in ana.code.jobs}
            assert (jobs[running.id].status, jobs[running.id].reason) == ("failed", RESTARTED)
            assert jobs[done_id].status == "done"
            assert np.isclose(ana.code.job(done_id).result.get(), X.sum())
        finally:
            server.kill()


class _none:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_closing_the_node_stops_its_jobs_and_says_so() -> None:
    clinic = unseen.VirtualWorker(name="Clinic")
    upload(clinic)
    ana = clinic.new_client("Ana")

    @unseen.function(data=ana.search("#diabetes", verbose=False)[0])
    def forever(data):  # type: ignore[no-untyped-def]
        while True:
            pass

    ana.code.request(forever)
    clinic.requests[0].accept()
    job = ana.code.run(forever)
    assert job.status == "running"
    clinic.close()
    stored = clinic.node.stores.jobs.get(job.id)
    assert (stored.status, stored.reason) == ("failed", "the node stopped while it ran")


class RefusingExecutor:
    """An executor that takes no job (one closed, or out of workers)."""

    def submit(self, spec: object) -> object:
        raise unseen.UsageError("this executor is closed")

    def close(self) -> None:
        pass


def test_a_job_the_executor_refuses_is_failed_not_left_running() -> None:
    node = Node("Clinic", executor=RefusingExecutor())  # type: ignore[arg-type]
    owner = unseen.Client(unseen.transport.InProcConnection(node, node.add_user("o", "owner")))
    upload(owner)
    ana = unseen.Client(
        unseen.transport.InProcConnection(node, node.add_user("Ana", "data_scientist"))
    )
    fn = declare(ana.search("#diabetes", verbose=False)[0], 0)
    ana.code.request(fn)
    owner.requests[0].accept()
    with pytest.raises(unseen.UsageError, match="closed"):
        ana.code.run(fn)
    [job] = node.stores.jobs.list()
    assert (job.status, job.reason) == ("failed", "the executor refused the job: UsageError")
