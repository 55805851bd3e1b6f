"""An approval holds for one hash: a changed character is a new request, and nothing else
runs; a submission whose hash does not match is refused; handlers never approve code."""

from __future__ import annotations

import numpy as np
import pytest
from code_support import X_MOCK, Clinic, X

import unseen
from unseen.messages.code import CODE_REQUEST, CodeInput, CodeRequestRequest


def declare(data: unseen.Pointer, scale: float) -> unseen.CodeFunction:
    if scale == 1.0:

        @unseen.function(data=data)
        def mean(data):  # type: ignore[no-untyped-def]
            return data.mean(axis=0) * 1.0

    else:

        @unseen.function(data=data)
        def mean(data):  # type: ignore[no-untyped-def]
            return data.mean(axis=0) * 2.0

    return mean


def test_one_changed_character_is_refused_and_becomes_a_new_request(clinic: Clinic) -> None:
    first, changed = declare(clinic.data, 1.0), declare(clinic.data, 2.0)
    assert first.source.replace("1.0", "2.0") == changed.source  # one character apart
    assert first.hash != changed.hash
    old = clinic.ana.code.request(first, reason="means")
    clinic.owner.requests[0].accept()
    with pytest.raises(unseen.PermissionDenied, match="submit this version"):
        clinic.ana.code.run(changed)  # the approval does not cover it
    new = clinic.ana.code.request(changed, reason="doubled")
    assert new.id != old.id and new.status == "pending"
    review = [r for r in clinic.owner.requests if r.id == new.id][0].code
    assert "-            return data.mean(axis=0) * 1.0" not in review.diff  # dedented source
    assert "-    return data.mean(axis=0) * 1.0\n+    return data.mean(axis=0) * 2.0" in review.diff
    with pytest.raises(unseen.PermissionDenied, match="pending"):
        clinic.ana.code.run(changed)
    job = clinic.ana.code.run(first).wait(60)  # the approved version still runs
    assert np.allclose(job.result.get(), X.mean(axis=0))


def test_the_same_submission_again_is_the_same_request(clinic: Clinic) -> None:
    fn = declare(clinic.data, 1.0)
    assert clinic.ana.code.request(fn).id == clinic.ana.code.request(fn).id
    assert len(clinic.owner.requests) == 1


def test_a_forged_hash_is_refused(clinic: Clinic) -> None:
    fn = declare(clinic.data, 1.0)
    forged = CodeRequestRequest(
        function=fn.name,
        source=fn.source.replace("1.0", "3.0"),  # other code under the approved hash
        inputs=[CodeInput(name="data", object_id=clinic.data.id)],
        hash=fn.hash,
    )
    with pytest.raises(unseen.UsageError, match="hash does not match"):
        clinic.ana.ask(CODE_REQUEST, forged)
    assert len(clinic.owner.requests) == 0


def test_denied_code_does_not_run(clinic: Clinic) -> None:
    fn = declare(clinic.data, 1.0)
    clinic.ana.code.request(fn)
    clinic.owner.requests[0].deny(reason="too revealing")
    with pytest.raises(unseen.RequestDenied, match="too revealing"):
        clinic.ana.code.run(fn)


def test_a_handler_never_approves_code(clinic: Clinic) -> None:
    clinic.owner.requests.add_handler(action="accept", name="mean")
    request = clinic.ana.code.request(declare(clinic.data, 1.0))
    assert request.status == "pending"  # a person reads code
    clinic.owner.requests.add_handler(action="accept")  # any request: still not code
    assert clinic.owner.requests[0].status == "pending"


def test_calling_the_function_runs_the_approved_job(clinic: Clinic) -> None:
    fn = declare(clinic.data, 1.0)
    clinic.ana.code.request(fn)
    clinic.owner.requests[0].accept()
    other = clinic.ana.send(np.zeros((4, 3)))
    with pytest.raises(unseen.UsageError, match="declared input"):
        fn(data=other)
    job = fn(data=clinic.data)
    assert isinstance(job, unseen.Job)
    assert np.allclose(job.wait(60).result.get(), X.mean(axis=0))


def test_run_on_mock_runs_here_on_the_mock(clinic: Clinic) -> None:
    fn = declare(clinic.data, 2.0)
    assert np.allclose(fn.run_on_mock(), X_MOCK.mean(axis=0) * 2.0)


def test_declarations_that_cannot_work_are_refused(clinic: Clinic) -> None:
    with pytest.raises(unseen.UsageError, match="must be a pointer"):
        unseen.function(data=X)(lambda data: data)
    with pytest.raises(unseen.UsageError, match="no parameter 'rows'"):

        @unseen.function(rows=clinic.data)
        def f(data):  # type: ignore[no-untyped-def]
            return data

    with pytest.raises(unseen.UsageError, match="parameter 'labels'"):

        @unseen.function(data=clinic.data)
        def g(data, labels):  # type: ignore[no-untyped-def]
            return data
