"""API.md section 10 as written: on a VirtualWorker and on a real domain server (SQLite and
PostgreSQL), checked against numpy on the private data and on the mock."""

from __future__ import annotations

import numpy as np
import pytest
from code_support import ANA, X_MOCK, Clinic, X
from server_support import ServerProcess

import unseen


def section_10(ana: unseen.Client, owner: unseen.Client, data: unseen.Pointer) -> None:
    """The block of API.md section 10, with the oracle's checks between its lines."""

    @unseen.function(data=data)  # declared inputs: pointers to assets or objects on the node
    def corr(data):  # type: ignore[no-untyped-def]
        import numpy as np

        print("rows:", len(data))
        return np.corrcoef(data.T)

    assert np.allclose(corr.run_on_mock(), np.corrcoef(X_MOCK.T))  # runs locally on the mocks
    req = ana.code.request(corr, reason="correlations for the paper")  # nothing runs yet
    assert req.status == "pending" and ana.code.jobs == []
    # the owner:
    code = owner.requests[0].code  # source, inputs, hash, diff against earlier versions
    assert code.source.startswith("def corr(data):") and "@unseen" not in code.source
    assert [(i.name, i.object_id, i.label) for i in code.inputs] == [
        ("data", data.id, "Diabetes/data")
    ]
    assert code.hash == corr.hash and code.diff == ""
    assert np.allclose(owner.requests[0].run_on_mock(), np.corrcoef(X_MOCK.T))
    owner.requests[0].accept()  # pinned to the hash
    # the scientist:
    job = ana.code.run(corr)  # -> unseen.Job
    assert isinstance(job, unseen.Job)
    status, waited = job.status, job.wait(progress=True)
    assert status in ("running", "done") and waited is job and job.status == "done"
    assert np.allclose(job.result.get(), np.corrcoef(X.T))  # the approved output, released once
    with pytest.raises(unseen.CannotRequestPrivateData, match="release_logs"):
        job.logs()  # stdout/stderr, once the owner released them
    owner.code.job(job.id).release_logs()
    assert job.logs().stdout == f"rows: {len(X)}\n"


def test_section_10_on_a_virtual_worker(clinic: Clinic) -> None:
    section_10(clinic.ana, clinic.owner, clinic.data)


def test_section_10_on_a_domain_server(domain: ServerProcess) -> None:
    owner, ana = domain.login(), domain.login(*ANA)
    found = ana.search("#diabetes", verbose=False)
    section_10(ana, owner, found[0])
    ana.close()
    owner.close()
