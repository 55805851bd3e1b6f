"""Handlers for code requests and jobs: submit a function for review, run it on the mocks,
run an approved one on the private inputs in the node's executor, and watch the job.

A code request is a :class:`~unseen.store.RequestRecord` with ``code`` set (its
``object_id`` is empty): the owner decides it like any request, and an accepted one approves
exactly its hash. A job runs through :mod:`unseen.jobs` (a separate, limited process per job;
the node never runs submitted code itself). Its value and its logs become objects derived
from the inputs: the value is granted to the requester once (``_policy.CODE_OUTPUT``), the
logs when the owner releases them (``job.release_logs``); both are read through the release
rule only. Jobs are rows of the store: one still running when the node stopped is marked
failed when it starts again (:func:`fail_interrupted`).
"""

from __future__ import annotations

import ast
import difflib
import keyword
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen import ops
from unseen.errors import (
    CannotRequestPrivateData,
    NotFound,
    PermissionDenied,
    RemoteError,
    RequestDenied,
    UsageError,
)
from unseen.messages.code import (
    CODE_MOCK,
    CODE_REQUEST,
    JOB_CANCEL,
    JOB_GET,
    JOB_LIST,
    JOB_LOGS,
    JOB_RELEASE_LOGS,
    JOB_RUN,
    JOB_WAIT,
    OUTPUT_VALUE,
    CodeInput,
    CodeMockRequest,
    CodeRequestRequest,
    JobCancelRequest,
    JobGetRequest,
    JobListRequest,
    JobLogs,
    JobLogsRequest,
    JobReleaseLogsRequest,
    JobRunRequest,
    JobView,
    JobWaitRequest,
    code_hash,
)
from unseen.messages.requests import RequestView
from unseen.node._meta import public_meta
from unseen.node._policy import CODE_OUTPUT, check_release, check_use, may_read
from unseen.node._principal import ADMINS, MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.store import JobRecord, ObjectRecord, RequestRecord

if TYPE_CHECKING:
    from unseen.jobs import JobHandle, JobOutcome
    from unseen.node._node import Node

MAX_WAIT_SECS = 3600.0
MAX_SOURCE_CHARS = 200_000
#: the reason of a job that was running when its node stopped
RESTARTED = "the node restarted while it ran"
#: the reason of a job stopped by closing its node
STOPPED = "the node stopped while it ran"


# -- submissions ------------------------------------------------------------------------------
def _check_submission(request: CodeRequestRequest) -> None:
    """A clear error for a submission that is not one function with named inputs."""
    name = request.function
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"the function's name {name!r} is not a Python identifier")
    if len(request.source) > MAX_SOURCE_CHARS:
        raise UsageError(f"the source is over {MAX_SOURCE_CHARS} characters: submit less code")
    try:
        tree = ast.parse(request.source)
    except SyntaxError as exc:
        raise UsageError(f"the source does not parse: {exc.msg} (line {exc.lineno})") from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body):
        raise UsageError(f"the source does not define the function {name!r} at its top level")
    names = [i.name for i in request.inputs]
    if any(not n.isidentifier() or keyword.iskeyword(n) for n in names):
        raise UsageError(f"every input needs a parameter name; got {names}")
    if len(set(names)) != len(names):
        raise UsageError(f"an input is declared twice: {names}")
    if request.output != OUTPUT_VALUE:
        raise UsageError(f"the declared output is {OUTPUT_VALUE!r}, not {request.output!r}")
    if request.hash != code_hash(name, request.source, list(request.inputs), request.output):
        raise UsageError(
            "the hash does not match the submitted function, inputs and output: submit it "
            "with client.code.request(fn), which computes it"
        )


def _code_requests(node: Node, requester: str, function: str | None = None) -> list[RequestRecord]:
    found = [
        r
        for r in node.stores.requests.list()
        if r.code is not None
        and r.requester == requester
        and (function is None or r.code["function"] == function)
    ]
    return sorted(found, key=lambda r: r.created_at)


def _diff(earlier: list[RequestRecord], function: str, source: str) -> str:
    if not earlier:
        return ""
    previous = earlier[-1]
    assert previous.code is not None
    lines = difflib.unified_diff(
        str(previous.code["source"]).splitlines(keepends=True),
        source.splitlines(keepends=True),
        fromfile=f"{function} (request {previous.id[:8]}, {previous.status})",
        tofile=f"{function} (this request)",
    )
    return "".join(lines)


def _labels(node: Node) -> dict[str, str]:
    """Object id -> "dataset/asset" for every asset on the node (the owner's names)."""
    return {
        asset.object_id: f"{dataset.name}/{asset.name}"
        for dataset in node.stores.datasets.list()
        for asset in dataset.assets
    }


@typed_route(CODE_REQUEST, MEMBERS)
def request_code(node: Node, principal: Principal, request: CodeRequestRequest) -> RequestView:
    from unseen.node._requests import request_view

    _check_submission(request)
    records = [node.stores.objects.get(i.object_id) for i in request.inputs]
    for record in records:
        check_use(principal, record)
    earlier = _code_requests(node, principal.user_id, request.function)
    for existing in earlier:
        assert existing.code is not None
        if existing.code["hash"] == request.hash and (
            existing.status == "pending"
            or (existing.status == "accepted" and _used(node, existing) is None)
        ):
            return request_view(existing)  # the same submission again, not run yet
    labels = _labels(node)
    inputs = [
        {"name": i.name, "object_id": i.object_id, "label": labels.get(i.object_id, i.label)}
        for i in request.inputs
    ]
    code: dict[str, Any] = {
        "function": request.function,
        "source": request.source,
        "inputs": inputs,
        "output": request.output,
        "hash": request.hash,
        "diff": _diff(earlier, request.function, request.source),
    }
    call = ", ".join(f"{i['name']}={i['label'] or i['object_id']}" for i in inputs)
    record = RequestRecord(
        id=uuid.uuid4().hex,
        object_id="",
        requester=principal.user_id,
        requester_name=principal.name,
        name=request.function,
        reason=request.reason,
        graph=(f"run {request.function}({call}) [{request.hash[:12]}]",),
        tags=tuple(sorted({t for r in records for t in r.tags})),
        code=code,
    )
    if all(may_read(principal, r) for r in records):  # one's own (or public) data only
        record.status = "accepted"
        record.decided_by = "release rule"
        record.decided_at = time.time()
    node.stores.requests.add(record)
    node.audit(principal, "code.request", record.id)
    return request_view(record)


def code_inputs(record: RequestRecord) -> list[CodeInput]:
    assert record.code is not None
    return [CodeInput(**i) for i in record.code["inputs"]]


# -- running --------------------------------------------------------------------------------
def _spec(node: Node, job_id: str, record: RequestRecord, inputs: dict[str, Any]) -> Any:
    from unseen import jobs

    assert record.code is not None
    return jobs.JobSpec(
        job_id=job_id, source=record.code["source"], function=record.code["function"],
        inputs=inputs, limits=node.job_limits,
    )  # fmt: skip


def _mock_of(node: Node, principal: Principal, object_id: str) -> Any:
    record = node.stores.objects.get(object_id)
    if record.mock_id is not None:
        mock = node.stores.objects.get(record.mock_id)
        check_release(principal, mock)  # public: no sources
        return node.stores.objects.value(mock.id)
    if not record.sources:  # public: it is its own mock
        return node.stores.objects.value(object_id)
    raise UsageError(
        f"the input {object_id!r} has no mock to run on (unapproved code never runs on "
        "private data): add a mock to the asset, or review the code without a mock run"
    )


@typed_route(CODE_MOCK, ADMINS)
def run_on_mock(node: Node, principal: Principal, request: CodeMockRequest) -> Any:
    """Run a code request's function on the mocks of its inputs, in the node's executor
    (isolated: the owner runs code she has not approved yet, on public data only)."""
    record = _code_request(node, principal, request.request_id)
    inputs = {i.name: _mock_of(node, principal, i.object_id) for i in code_inputs(record)}
    handle = node.executor.submit(_spec(node, f"mock-{uuid.uuid4().hex}", record, inputs))
    outcome = handle.wait(node.job_limits.wall_seconds + 30.0)
    if outcome is None:
        handle.cancel()
        raise RemoteError(f"{record.name} did not finish on the mocks in time")
    node.audit(principal, "code.mock", record.id)
    if outcome.status != "done":
        tail = outcome.stderr[-2000:]
        raise RemoteError(
            f"{record.name} failed on the mocks: {outcome.reason}" + (f"\n{tail}" if tail else "")
        )
    return outcome.result


def _code_request(node: Node, principal: Principal, request_id: str) -> RequestRecord:
    record = node.stores.requests.get(request_id)
    if record.code is None or (record.requester != principal.user_id and not principal.is_admin):
        raise NotFound(f"no code request with id {request_id!r}")
    return record


def _used(node: Node, record: RequestRecord) -> JobRecord | None:
    """The job that used an approval: one running or done (an approval runs once)."""
    for job in node.stores.jobs.list():
        if job.request_id == record.id and job.status in ("running", "done"):
            return job
    return None


def _approved(node: Node, principal: Principal, hash_: str) -> RequestRecord:
    """The caller's accepted, unused code request for exactly this hash, or a clear error."""
    mine = [
        r for r in _code_requests(node, principal.user_id) if r.code and r.code["hash"] == hash_
    ]
    used = None
    for record in mine:
        if record.status == "accepted":
            used = _used(node, record)
            if used is None:
                return record
    if any(r.status == "pending" for r in mine):
        raise PermissionDenied(
            "the code request for this function is still pending: wait for the owner's "
            "decision (client.requests)"
        )
    if used is not None:
        raise PermissionDenied(
            f"the approval of this function was used by job {used.id[:8]} ({used.status}): an "
            "approval runs once; ask again with client.code.request(fn, reason=...)"
        )
    if mine:
        why = mine[-1].deny_reason
        raise RequestDenied(f"the owner denied this code request{': ' + why if why else ''}")
    raise PermissionDenied(
        "no accepted code request of yours has this exact function and inputs (hash "
        f"{hash_[:12]}): submit this version with client.code.request(fn, reason=...)"
    )


#: held from the check that an approval is unused to the job's row that uses it
_RUN_LOCK = threading.Lock()


@typed_route(JOB_RUN, MEMBERS)
def run(node: Node, principal: Principal, request: JobRunRequest) -> JobView:
    with _RUN_LOCK:
        return _start(node, principal, _approved(node, principal, request.hash))


def _start(node: Node, principal: Principal, record: RequestRecord) -> JobView:
    assert record.code is not None
    values: dict[str, Any] = {}
    sources: set[str] = set()
    parents: list[str] = []
    for code_input in code_inputs(record):
        obj = node.stores.objects.get(code_input.object_id)
        check_use(principal, obj)
        values[code_input.name] = node.stores.objects.value(obj.id)
        sources |= obj.sources
        parents.append(obj.id)
    job = JobRecord(
        id=uuid.uuid4().hex,
        requester=principal.user_id,
        request_id=record.id,
        function=record.code["function"],
        code_hash=record.code["hash"],
    )
    node.stores.jobs.add(job)
    node.audit(principal, "job.run", job.id)
    handle = node.executor.submit(_spec(node, job.id, record, values))
    node.job_handles[job.id] = handle
    watcher = threading.Thread(
        target=_watch, args=(node, job.id, handle, frozenset(sources), tuple(parents)),
        name=f"unseen-job-{job.id[:8]}", daemon=True,
    )  # fmt: skip
    node.job_watchers[job.id] = watcher
    watcher.start()
    return job_view(node, principal, job)


def _watch(
    node: Node, job_id: str, handle: JobHandle, sources: frozenset[str], parents: tuple[str, ...]
) -> None:
    """Wait for a job's end and keep what it left: its value, its logs, its status."""
    try:
        outcome = handle.wait()
        if outcome is not None:
            _finish(node, job_id, outcome, sources, parents)
    except Exception:  # the job must not stay "running" for a failure of ours
        import logging

        logging.getLogger("unseen.node").exception("could not finish job %s", job_id)
        job = node.stores.jobs.get(job_id)
        if job.status == "running":
            job.status, job.reason, job.finished_at = (
                "failed",
                "the node could not keep its result",
                time.time(),
            )
            node.stores.jobs.update(job)
    finally:
        node.job_handles.pop(job_id, None)
        node.job_watchers.pop(job_id, None)
        node.notify_decision()


def _finish(
    node: Node, job_id: str, outcome: JobOutcome, sources: frozenset[str], parents: tuple[str, ...]
) -> None:
    job = node.stores.jobs.get(job_id)
    recipe = (f"job {job.id} of {job.function} [{job.code_hash[:12]}]",)
    logs = ObjectRecord(
        id=uuid.uuid4().hex, family="value", creator=job.requester, sources=sources,
        parents=parents, recipe=(*recipe, "logs"),
    )  # fmt: skip
    node.stores.objects.put(
        logs, {"stdout": outcome.stdout, "stderr": outcome.stderr, "reason": outcome.reason}
    )
    job.logs_id = logs.id
    if outcome.status == "done":
        result = ObjectRecord(
            id=uuid.uuid4().hex, family=ops.family_of(outcome.result), creator=job.requester,
            sources=sources, parents=parents, recipe=recipe,
            readers=frozenset({job.requester}),  # the approved output, released once
            # shown only to who may read it (object_view): the output it releases
            public_meta={**public_meta(outcome.result), CODE_OUTPUT: job.id},
        )  # fmt: skip
        node.stores.objects.put(result, outcome.result)
        job.result_id = result.id
    job.status = outcome.status  # type: ignore[assignment]
    if node.closing and outcome.status != "done":
        job.status, job.reason = "failed", STOPPED
    elif outcome.status == "cancelled" and not job.reason:
        job.reason = "cancelled"
    job.cpu_seconds, job.wall_seconds = outcome.cpu_seconds, outcome.wall_seconds
    job.finished_at = time.time()
    node.stores.jobs.update(job)
    node.audit_id(job.requester, f"job.{outcome.status}", job.id)


def fail_interrupted(node: Node) -> None:
    """Mark the jobs that were running when the node stopped as failed (on start-up)."""
    for job in node.stores.jobs.list():
        if job.status == "running":
            job.status, job.reason, job.finished_at = "failed", RESTARTED, time.time()
            node.stores.jobs.update(job)
            node.audit_id(job.requester, "job.failed", job.id)


# -- watching --------------------------------------------------------------------------------
def _logs_record(node: Node, job: JobRecord) -> ObjectRecord | None:
    return None if job.logs_id is None else node.stores.objects.get(job.logs_id)


def job_view(node: Node, principal: Principal, job: JobRecord) -> JobView:
    logs = _logs_record(node, job)
    return JobView(
        id=job.id,
        function=job.function,
        request_id=job.request_id,
        requester=job.requester,
        status=job.status,
        reason=job.reason,
        result_id=job.result_id,
        logs_released=logs is not None and may_read(principal, logs),
        cpu_seconds=job.cpu_seconds,
        wall_seconds=job.wall_seconds,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def _own_job(node: Node, principal: Principal, job_id: str) -> JobRecord:
    try:
        job = node.stores.jobs.get(job_id)
    except NotFound:
        job = None
    if job is None or (job.requester != principal.user_id and not principal.is_admin):
        raise NotFound(f"no job with id {job_id!r}")  # another's job is not revealed either
    return job


@typed_route(JOB_LIST, MEMBERS)
def list_jobs(node: Node, principal: Principal, request: JobListRequest) -> list[JobView]:
    jobs = node.stores.jobs.list()
    if not principal.is_admin:
        jobs = [j for j in jobs if j.requester == principal.user_id]
    return [job_view(node, principal, j) for j in jobs]


@typed_route(JOB_GET, MEMBERS)
def get_job(node: Node, principal: Principal, request: JobGetRequest) -> JobView:
    return job_view(node, principal, _own_job(node, principal, request.id))


@typed_route(JOB_WAIT, MEMBERS)
def wait(node: Node, principal: Principal, request: JobWaitRequest) -> JobView:
    if not 0 <= request.timeout <= MAX_WAIT_SECS:
        raise UsageError(f"timeout must be between 0 and {MAX_WAIT_SECS:.0f} seconds")
    deadline = time.monotonic() + request.timeout
    while True:
        seen = node.decisions  # read before the record, so that no end slips in between
        job = _own_job(node, principal, request.id)
        left = deadline - time.monotonic()
        if job.status != "running" or left <= 0:
            return job_view(node, principal, job)
        node.wait_for_decision(seen, min(left, 1.0))


@typed_route(JOB_LOGS, MEMBERS)
def logs(node: Node, principal: Principal, request: JobLogsRequest) -> JobLogs:
    job = _own_job(node, principal, request.id)
    record = _logs_record(node, job)
    if record is None:
        raise UsageError(f"job {job.id[:8]} of {job.function} has no logs yet: it is {job.status}")
    try:
        check_release(principal, record)
    except CannotRequestPrivateData:
        raise CannotRequestPrivateData(
            f"the logs of job {job.id[:8]} ({job.function}) derive from private data: they "
            "are yours to read once the owner releases them (job.release_logs())"
        ) from None
    value = node.stores.objects.value(record.id)
    node.audit(principal, "release", record.id)
    return JobLogs(stdout=value["stdout"], stderr=value["stderr"], reason=value["reason"])


@typed_route(JOB_CANCEL, MEMBERS)
def cancel(node: Node, principal: Principal, request: JobCancelRequest) -> JobView:
    job = _own_job(node, principal, request.id)
    handle = node.job_handles.get(job.id)
    if job.status != "running" or handle is None:
        raise UsageError(f"job {job.id[:8]} of {job.function} is {job.status}: nothing to cancel")
    job.reason = f"cancelled by {principal.name or principal.user_id}"
    node.stores.jobs.update(job)
    handle.cancel()
    node.audit(principal, "job.cancel", job.id)
    return job_view(node, principal, job)


@typed_route(JOB_RELEASE_LOGS, ADMINS)
def release_logs(node: Node, principal: Principal, request: JobReleaseLogsRequest) -> JobView:
    job = _own_job(node, principal, request.id)
    record = _logs_record(node, job)
    if record is None:
        raise UsageError(f"job {job.id[:8]} of {job.function} has no logs yet: it is {job.status}")
    if job.requester not in record.readers:
        record.readers = record.readers | {job.requester}
        node.stores.objects.update(record)
    node.audit(principal, "job.release_logs", job.id)
    return job_view(node, principal, job)
