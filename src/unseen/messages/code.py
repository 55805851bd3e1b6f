"""The typed ``code.*`` and ``job.*`` kinds: a scientist submits a function for review, the
owner runs it on the mocks and decides, and an approved function runs as a job on the node.

A submission's hash (:func:`code_hash`) covers its function name, source, declared inputs
and output: an approval holds for exactly that hash, so that a changed character is a new
request. A job's result and logs are objects on the node, read through the release rule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from unseen.errors import UsageError
from unseen.messages._typed import UNSET, Kind
from unseen.messages.requests import CodeInput, CodeView, RequestView

__all__ = [
    "CodeInput",
    "CodeView",
    "JobView",
    "JobLogs",
    "CodeRequestRequest",
    "CodeMockRequest",
    "JobRunRequest",
    "JobListRequest",
    "JobGetRequest",
    "JobWaitRequest",
    "JobLogsRequest",
    "JobCancelRequest",
    "JobReleaseLogsRequest",
    "CodeSettingsRequest",
    "CodeSettings",
    "CODE_REQUEST",
    "CODE_MOCK",
    "JOB_RUN",
    "JOB_LIST",
    "JOB_GET",
    "JOB_WAIT",
    "JOB_LOGS",
    "JOB_CANCEL",
    "JOB_RELEASE_LOGS",
    "CODE_SETTINGS",
    "TYPED_KINDS",
    "code_hash",
    "OUTPUT_VALUE",
    "dp_output",
    "output_epsilon",
]

#: the function's return value, kept on the node as an object and released once
OUTPUT_VALUE = "value"
#: the prefix of a DP output: ``"dp:<epsilon>"``, the value charged to the ledger when it runs
DP_OUTPUT_PREFIX = "dp:"


def dp_output(epsilon: float) -> str:
    """The declared output of a function whose value is epsilon-DP (made so by its code, e.g.
    with OpenDP): part of the hash, so that an approval pins the epsilon too."""
    return f"{DP_OUTPUT_PREFIX}{float(epsilon)!r}"


def output_epsilon(output: str) -> float | None:
    """The epsilon of a DP output, None for a plain value; ``UsageError`` for any other."""
    if output == OUTPUT_VALUE:
        return None
    if output.startswith(DP_OUTPUT_PREFIX):
        try:
            return float(output[len(DP_OUTPUT_PREFIX) :])
        except ValueError:
            pass
    raise UsageError(
        f"the declared output is {OUTPUT_VALUE!r} or 'dp:<epsilon>', not {output!r}: "
        "declare it with @unseen.function(..., dp_epsilon=...)"
    )


def code_hash(function: str, source: str, inputs: list[CodeInput], output: str) -> str:
    """sha256 (hex) of a canonical JSON encoding of a submission: what an approval pins."""
    canonical = json.dumps(
        {
            "function": function,
            "source": source,
            "inputs": [[i.name, i.object_id] for i in inputs],
            "output": output,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class JobView:
    """A job as the node shows it. ``status`` is ``"running"``, ``"done"``, ``"failed"`` or
    ``"cancelled"``; ``reason`` is the node's own account of an end it caused (a restart, a
    cancel); why the function failed is in its logs. ``result_id`` is the object holding the
    function's value once done; ``logs_released`` says whether the caller may read the logs.

    ``timing`` is ``"exact"`` for a caller who may read the inputs (the owner, or a job on
    one's own data) and ``"coarse"`` otherwise: then ``cpu_seconds`` is withheld (None) and
    the end shows only at a rounded time after the start (``wall_seconds`` and ``finished_at``
    rounded up the same way), so that how long the function ran on private data says little
    (docs/code.md, "What a job shows")."""

    id: str
    function: str
    request_id: str
    requester: str
    status: str
    reason: str = ""
    result_id: str | None = None
    logs_released: bool = False
    cpu_seconds: float | None = None
    wall_seconds: float = 0.0
    timing: str = "exact"
    created_at: float
    finished_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class JobLogs:
    """What the function printed, and why it failed ("" when it did not)."""

    stdout: str
    stderr: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CodeRequestRequest:
    function: str
    source: str
    inputs: list[CodeInput]
    output: str = OUTPUT_VALUE
    hash: str  # checked by the node against code_hash(...)
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CodeMockRequest:
    request_id: str


@dataclass(frozen=True, kw_only=True)
class JobRunRequest:
    hash: str  # of an accepted code request of the caller's


@dataclass(frozen=True, kw_only=True)
class JobListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class JobGetRequest:
    id: str


@dataclass(frozen=True, kw_only=True)
class JobWaitRequest:
    id: str
    timeout: float = 30.0  # seconds, at most an hour


@dataclass(frozen=True, kw_only=True)
class JobLogsRequest:
    id: str


@dataclass(frozen=True, kw_only=True)
class JobCancelRequest:
    id: str


@dataclass(frozen=True, kw_only=True)
class JobReleaseLogsRequest:
    id: str
    reason: str = field(default="")


@dataclass(frozen=True, kw_only=True)
class CodeSettingsRequest:
    """The node's job settings to change: a setting left off (``UNSET``) stays as it is, a nil
    (``None``) puts it back to its default; an empty body reads them. ``allowed_imports``:
    the top-level modules a job's own code may import; the others bound every job
    (:class:`unseen.jobs.JobLimits`)."""

    allowed_imports: list[str] | None = UNSET
    cpu_seconds: float | None = UNSET
    wall_seconds: float | None = UNSET
    memory_bytes: int | None = UNSET
    file_bytes: int | None = UNSET
    processes: int | None = UNSET
    output_bytes: int | None = UNSET


@dataclass(frozen=True, kw_only=True)
class CodeSettings:
    """The job settings in effect, applied to every job started from now on."""

    allowed_imports: list[str]
    cpu_seconds: float
    wall_seconds: float
    memory_bytes: int
    file_bytes: int
    processes: int
    output_bytes: int


CODE_REQUEST: Kind[CodeRequestRequest, RequestView] = Kind(
    "code.request", CodeRequestRequest, RequestView
)
#: the function's value on the inputs' mocks (public: no private data goes in)
CODE_MOCK: Kind[CodeMockRequest, Any] = Kind("code.mock", CodeMockRequest, Any)
JOB_RUN: Kind[JobRunRequest, JobView] = Kind("job.run", JobRunRequest, JobView)
JOB_LIST: Kind[JobListRequest, list[JobView]] = Kind("job.list", JobListRequest, list[JobView])
JOB_GET: Kind[JobGetRequest, JobView] = Kind("job.get", JobGetRequest, JobView)
JOB_WAIT: Kind[JobWaitRequest, JobView] = Kind("job.wait", JobWaitRequest, JobView)
JOB_LOGS: Kind[JobLogsRequest, JobLogs] = Kind("job.logs", JobLogsRequest, JobLogs)
JOB_CANCEL: Kind[JobCancelRequest, JobView] = Kind("job.cancel", JobCancelRequest, JobView)
JOB_RELEASE_LOGS: Kind[JobReleaseLogsRequest, JobView] = Kind(
    "job.release_logs", JobReleaseLogsRequest, JobView
)
CODE_SETTINGS: Kind[CodeSettingsRequest, CodeSettings] = Kind(
    "code.settings", CodeSettingsRequest, CodeSettings
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    CODE_REQUEST,
    CODE_MOCK,
    JOB_RUN,
    JOB_LIST,
    JOB_GET,
    JOB_WAIT,
    JOB_LOGS,
    JOB_CANCEL,
    JOB_RELEASE_LOGS,
    CODE_SETTINGS,
)
