"""Handlers for jobs: run an approved code request on the private inputs in the node's
executor, and watch, cancel and read the job.

A job runs through :mod:`unseen.jobs` (a separate, limited process per job). Its value and its
logs become objects derived from the inputs: the value is granted to the requester for one
release (``_policy.CODE_OUTPUT``), the logs when the owner releases them
(``job.release_logs``); both are read through the release rule only. An approval runs once: a
job running or done uses it. Jobs are rows of the store: one still running when the node
stopped is marked failed when it starts again (:func:`fail_interrupted`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen import dp, ops
from unseen.errors import (
    CannotRequestPrivateData,
    NotFound,
    PermissionDenied,
    RequestDenied,
    UsageError,
)
from unseen.messages.code import (
    JOB_CANCEL,
    JOB_GET,
    JOB_LIST,
    JOB_LOGS,
    JOB_RELEASE_LOGS,
    JOB_RUN,
    JOB_WAIT,
    JobCancelRequest,
    JobGetRequest,
    JobListRequest,
    JobLogs,
    JobLogsRequest,
    JobReleaseLogsRequest,
    JobRunRequest,
    JobView,
    JobWaitRequest,
    output_epsilon,
)
from unseen.node._code import (
    coarse_seconds,
    code_inputs,
    code_requests,
    held,
    job_spec,
    shown_end,
    used_by,
)
from unseen.node._dp import service as dp_service
from unseen.node._meta import public_meta
from unseen.node._policy import CODE_OUTPUT, Lineage, check_release, check_use, may_read
from unseen.node._principal import ADMINS, MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.store import JobRecord, ObjectRecord, RequestRecord

if TYPE_CHECKING:
    from unseen.jobs import JobHandle, JobOutcome
    from unseen.node._node import Node

log = logging.getLogger("unseen.node")

MAX_WAIT_SECS = 3600.0
#: the reason of a job that was running when its node stopped
RESTARTED = "the node restarted while it ran"
#: the reason of a job stopped by closing its node
STOPPED = "the node stopped while it ran"


def _approved(node: Node, principal: Principal, hash_: str) -> RequestRecord:
    """The caller's accepted, unused code request for exactly this hash, or a clear error."""
    mine = [r for r in code_requests(node, principal.user_id) if r.code and r.code["hash"] == hash_]
    used = None
    for record in mine:
        if record.status == "accepted":
            used = used_by(node, record)
            if used is None:
                return record
    if any(r.status == "pending" for r in mine):
        raise PermissionDenied(
            "the code request for this function is still pending: wait for the owner's "
            "decision (client.requests)"
        )
    if used is not None:
        raise PermissionDenied(
            f"the approval of this function was used by job {used.id[:8]} "
            f"({'running' if held(used) else used.status}): an "
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
    records = []
    for code_input in code_inputs(record):
        obj = node.stores.objects.get(code_input.object_id)
        check_use(principal, obj)
        values[code_input.name] = node.stores.objects.value(obj.id)
        sources |= obj.sources
        parents.append(obj.id)
        records.append(obj)
    epsilon = output_epsilon(record.code["output"])
    dp_release = epsilon is not None and not all(may_read(principal, r) for r in records)
    if dp_release:
        assert epsilon is not None
        _charge(node, principal, record, epsilon, records)  # before it runs; it stands
    job = JobRecord(
        id=uuid.uuid4().hex,
        requester=principal.user_id,
        request_id=record.id,
        function=record.code["function"],
        code_hash=record.code["hash"],
    )
    node.stores.jobs.add(job)
    node.audit(principal, "job.run", job.id)
    try:
        handle = node.executor.submit(job_spec(node, job.id, record, values))
    except BaseException as exc:  # refused by the executor: the row must not stay "running"
        _fail(node, job.id, f"the executor refused the job: {type(exc).__name__}")
        raise
    node.job_handles[job.id] = handle
    watcher = threading.Thread(
        target=_watch,
        args=(node, job.id, handle, frozenset(sources), tuple(parents), dp_release),
        name=f"unseen-job-{job.id[:8]}", daemon=True,
    )  # fmt: skip
    node.job_watchers[job.id] = watcher
    watcher.start()
    return job_view(node, principal, job)


def _charge(
    node: Node,
    principal: Principal,
    record: RequestRecord,
    epsilon: float,
    inputs: list[ObjectRecord],
) -> None:
    """Charge a DP output's epsilon to the caller's ledger, in one step with the budget check
    (``BudgetExhausted``, charging nothing, when it does not fit): the same odometer as DP
    queries and DP-SGD (pure epsilon-DP: the code's claim, which the owner reviewed)."""
    assert record.code is not None
    svc = dp_service(node)
    datasets = tuple(sorted({r.dataset for r in inputs if r.dataset}))
    cost = dp.Charge(
        epsilon=epsilon, delta=0.0, mechanism="code-dp", components=(("pure", epsilon),),
        datasets=datasets, query=f"code {record.code['function']} [{record.code['hash'][:12]}]",
    )  # fmt: skip
    uid = principal.user_id
    entry = svc.accountant.charge(uid, lambda: float(node.stores.users.get(uid).budget), cost)
    try:  # the users table mirrors the ledger's spend, as for DP queries
        node.stores.users.charge_budget(uid, entry.charge, limit_check=False)
    except Exception:
        log.exception("could not mirror a code-dp charge into the users table")
    node.audit(principal, "dp.release", ",".join(datasets) or "-")


def _watch(
    node: Node,
    job_id: str,
    handle: JobHandle,
    sources: frozenset[str],
    parents: tuple[str, ...],
    dp_release: bool,
) -> None:
    """Wait for a job's end and keep what it left: its value, its logs, its status."""
    try:
        outcome = handle.wait()
        if outcome is not None:
            _finish(node, job_id, outcome, sources, parents, dp_release)
    except Exception:  # the job must not stay "running" for a failure of ours
        log.exception("could not finish job %s", job_id)
        _fail(node, job_id, "the node could not keep its result")
    finally:
        node.job_handles.pop(job_id, None)
        node.job_watchers.pop(job_id, None)
        node.notify_decision()


def _finish(
    node: Node,
    job_id: str,
    outcome: JobOutcome,
    sources: frozenset[str],
    parents: tuple[str, ...],
    dp_release: bool = False,
) -> None:
    """Keep a job's logs (derived from its inputs) and its value: granted to the requester
    for one release, or, for a charged DP output, the requester's with no lineage to the
    data (post-processing a DP value costs nothing more)."""
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
            sources=frozenset() if dp_release else sources, parents=parents, recipe=recipe,
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


def _fail(node: Node, job_id: str, reason: str) -> None:
    job = node.stores.jobs.get(job_id)
    if job.status == "running":
        job.status, job.reason, job.finished_at = "failed", reason, time.time()
        node.stores.jobs.update(job)


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


def _exact_timing(node: Node, principal: Principal, job: JobRecord) -> bool:
    """May the caller see how long the job ran? Only who may read all its inputs: the owner,
    or the scientist on their own data (released logs do not count: the owner released what
    was printed, not the timing). Asked of the inputs, so that the answer does not change
    when the job ends."""
    if principal.is_admin:
        return True
    try:
        request = node.stores.requests.get(job.request_id)
        records = [node.stores.objects.get(i.object_id) for i in code_inputs(request)]
    except NotFound:  # an input is gone: the timing stays coarse
        return False
    return all(may_read(principal, Lineage(r.sources)) for r in records)


def job_view(node: Node, principal: Principal, job: JobRecord) -> JobView:
    logs = _logs_record(node, job)
    exact = _exact_timing(node, principal, job)
    status, finished_at, wall = job.status, job.finished_at, job.wall_seconds
    result_id, released = job.result_id, logs is not None and may_read(principal, logs)
    if not exact:
        wall = coarse_seconds(wall) if job.status != "running" else 0.0
        end = shown_end(job)
        if end is not None and time.time() < end:  # ended, but not yet for this caller
            status, finished_at, wall, result_id, released = "running", None, 0.0, None, False
        elif end is not None:
            finished_at = end
    return JobView(
        id=job.id,
        function=job.function,
        request_id=job.request_id,
        requester=job.requester,
        status=status,
        reason=job.reason,
        result_id=result_id,
        logs_released=released,
        cpu_seconds=job.cpu_seconds if exact else None,
        wall_seconds=wall,
        timing="exact" if exact else "coarse",
        created_at=job.created_at,
        finished_at=finished_at,
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
        view = job_view(node, principal, job)
        left = deadline - time.monotonic()
        if view.status != "running" or left <= 0:
            return view
        if job.status != "running":  # ended, shown at its rounded end: no decision to wait for
            end = shown_end(job) or time.time()
            time.sleep(max(0.0, min(left, end - time.time(), 1.0)) + 0.001)
            continue
        node.wait_for_decision(seen, min(left, 1.0))


@typed_route(JOB_LOGS, MEMBERS)
def logs(node: Node, principal: Principal, request: JobLogsRequest) -> JobLogs:
    job = _own_job(node, principal, request.id)
    record = _logs_record(node, job)
    shown = job_view(node, principal, job).status
    if record is None or shown == "running":
        raise UsageError(f"job {job.id[:8]} of {job.function} has no logs yet: it is {shown}")
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
    view = job_view(node, principal, job)
    if view.status == "running" and job.status != "running":
        return view  # ended, not yet shown to this caller: too late to cancel, as in a race
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
