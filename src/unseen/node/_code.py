"""Handlers for code requests: submit a function for review, and run it on the mocks.

A code request is a :class:`~unseen.store.RequestRecord` with ``code`` set (its
``object_id`` is empty): the owner decides it like any request, and an accepted one approves
running exactly its hash, once (:mod:`unseen.node._jobs` runs it). The owner's mock run goes
through the node's executor too (:mod:`unseen.jobs`: a separate, limited process): the node
never runs submitted code itself.
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen import dp
from unseen.errors import NotFound, RemoteError, UsageError
from unseen.messages.code import (
    CODE_MOCK,
    CODE_REQUEST,
    CodeInput,
    CodeMockRequest,
    CodeRequestRequest,
    code_hash,
    output_epsilon,
)
from unseen.messages.requests import RequestView
from unseen.node._policy import check_release, check_use, may_read
from unseen.node._principal import ADMINS, MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.store import JobRecord, RequestRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

MAX_SOURCE_CHARS = 200_000


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
    epsilon = output_epsilon(request.output)
    if epsilon is not None:
        dp.check_parameters(epsilon, None, dp.MIN_DELTA)  # a clear error for a bad epsilon
    if request.hash != code_hash(name, request.source, list(request.inputs), request.output):
        raise UsageError(
            "the hash does not match the submitted function, inputs and output: submit it "
            "with client.code.request(fn), which computes it"
        )


def code_requests(node: Node, requester: str, function: str | None = None) -> list[RequestRecord]:
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
    earlier = code_requests(node, principal.user_id, request.function)
    for existing in earlier:
        assert existing.code is not None
        if existing.code["hash"] == request.hash and (
            existing.status == "pending"
            or (existing.status == "accepted" and used_by(node, existing) is None)
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


# -- the mock run --------------------------------------------------------------------------------
def job_spec(node: Node, job_id: str, record: RequestRecord, inputs: dict[str, Any]) -> Any:
    from unseen import jobs

    assert record.code is not None
    settings = node.job_settings  # the owner's settings when the job starts
    return jobs.JobSpec(
        job_id=job_id, source=record.code["source"], function=record.code["function"],
        inputs=inputs, allowed_imports=settings.allowed_imports, limits=settings.limits,
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
    handle = node.executor.submit(job_spec(node, f"mock-{uuid.uuid4().hex}", record, inputs))
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


def used_by(node: Node, record: RequestRecord) -> JobRecord | None:
    """The job that used an approval: one running or done (an approval runs once), or one
    that failed but shows as running still (:func:`held`: a new run must not tell early)."""
    for job in node.stores.jobs.list():
        if job.request_id == record.id and (job.status in ("running", "done") or held(job)):
            return job
    return None


# -- what a job's timing shows -----------------------------------------------------------------
def coarse_seconds(seconds: float) -> float:
    """``seconds`` rounded up: to whole seconds (at least 1) up to 4 s, then to four steps per
    doubling (4, 5, 6, 7, 8, 10, 12, 14, 16, 20, ...): at most a quarter more, and a job's
    length shows as one of a few values per doubling."""
    if seconds <= 4.0:
        return float(max(1, math.ceil(seconds)))
    step = 2.0 ** (math.floor(math.log2(seconds)) - 2)
    return math.ceil(seconds / step) * step


def shown_end(job: JobRecord) -> float | None:
    """When a job's own end (done, or failed on its own) shows to a caller without exact
    timing: the start plus its rounded length. None for a job running, or ended by the node
    or a cancel (that end is not the private data's)."""
    if job.status not in ("done", "failed") or job.reason or job.finished_at is None:
        return None
    return job.created_at + coarse_seconds(job.finished_at - job.created_at)


def held(job: JobRecord) -> bool:
    """Has the job ended on its own, not yet shown to a caller without exact timing?"""
    end = shown_end(job)
    return end is not None and time.time() < end
