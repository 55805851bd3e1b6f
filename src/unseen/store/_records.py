"""The records a node keeps: objects, requests, handlers, datasets, users, the privacy ledger
and the audit log (plain data)."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from unseen.errors import UnseenError, UsageError

RequestStatus = Literal["pending", "accepted", "denied"]
JobStatus = Literal["running", "done", "failed", "cancelled"]

#: a budget charge fits if ``spent + amount <= budget + BUDGET_RTOL * budget``: the slack only
#: absorbs float rounding (ten charges of 0.1 fill a budget of 1.0 exactly)
BUDGET_RTOL = 1e-9


def now() -> float:
    return time.time()


@dataclass
class ObjectRecord:
    """Metadata of one stored object. ``sources`` is its lineage: the ids of the users whose
    non-public data it derives from (empty for public objects such as mocks). ``size`` is
    what the object counts against its creator's stored bytes (the store sets it, see
    :func:`counted_size`): a user's stored bytes are the sizes of the objects they created."""

    id: str
    family: str
    creator: str
    sources: frozenset[str]
    parents: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    searchable: bool = False
    public_meta: dict[str, Any] = field(default_factory=dict)
    mock_id: str | None = None
    dataset: str | None = None
    readers: frozenset[str] = frozenset()
    error: str | None = None
    failed_op: str | None = None
    recipe: tuple[str, ...] = ()
    created_at: float = field(default_factory=now)
    #: bytes counted against the creator, set by the store when the value is stored (a size
    #: given by the caller is ignored, and ``update`` keeps it); not part of equality
    size: int = field(default=0, compare=False)


def counted_size(record: ObjectRecord, encoded: int) -> int:
    """What an object of ``encoded`` bytes counts against its creator's stored bytes: all of
    it when it derives only from public data and the creator's own, nothing when it derives
    from others' data, whose size may be private (a filter's row count) and must not show in
    the creator's usage or quota refusals."""
    return encoded if record.sources <= {record.creator} else 0


@dataclass
class RequestRecord:
    """A scientist's request that the owner release one object to them."""

    id: str
    object_id: str
    requester: str
    requester_name: str
    name: str
    reason: str
    status: RequestStatus = "pending"
    graph: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    deny_reason: str = ""
    decided_by: str = ""
    created_at: float = field(default_factory=now)
    decided_at: float | None = None
    #: a code request's submission (None for a request to release an object, whose
    #: ``object_id`` it then leaves empty): ``function``, ``source``, ``inputs`` (a list of
    #: ``{"name", "object_id", "label"}``), ``output`` and ``hash``; an accepted one approves
    #: running exactly that hash
    code: dict[str, Any] | None = None
    #: a standing approval of federated fits (None otherwise; ``object_id`` is then empty):
    #: ``config_hash``, ``config`` (public), ``rounds``, ``used``, ``data``, ``target``; an
    #: accepted one releases the weights of ``rounds`` fits of exactly that configuration
    standing: dict[str, Any] | None = None


@dataclass
class JobRecord:
    """One run of an approved code request on the node's executor. ``result_id`` is the
    object holding the function's value, ``logs_id`` the one holding its stdout, stderr and
    the executor's reason (both derived from the inputs: read only through the release
    rule); ``reason`` is the node's own, public account of an end it caused (a restart,
    a cancel)."""

    id: str
    requester: str
    request_id: str
    function: str
    code_hash: str
    status: JobStatus = "running"
    reason: str = ""
    result_id: str | None = None
    logs_id: str | None = None
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    created_at: float = field(default_factory=now)
    finished_at: float | None = None


@dataclass
class HandlerRecord:
    """An owner policy: requests that match every given field are decided at once."""

    id: str
    action: Literal["accept", "deny"]
    name: str | None = None
    requester: str | None = None
    tags: tuple[str, ...] = ()
    created_at: float = field(default_factory=now)


@dataclass
class AssetRecord:
    """One asset of a dataset: a private object and its public mock."""

    name: str
    object_id: str
    mock_id: str | None
    description: str = ""
    bounds: list[tuple[float, float]] | None = None
    #: differential privacy metadata, declared by the owner (never computed from the data):
    #: per-column nullability (one flag for every column, or one per column)
    nullable: list[bool] | None = None
    #: the column that identifies a privacy unit (a person), and how many rows one may have
    privacy_id: str | None = None
    max_rows_per_id: int = 1
    #: the number of rows, when the owner declares it public
    public_rows: int | None = None
    #: public keys of categorical columns (``{"sex": [1, 2]}``) for histograms and group-by
    categories: dict[str, list[Any]] | None = None


@dataclass
class DatasetRecord:
    id: str
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    citation: str = ""
    assets: list[AssetRecord] = field(default_factory=list)
    uploader: str = ""
    created_at: float = field(default_factory=now)


@dataclass
class UserRecord:
    id: str
    email: str
    name: str
    role: str
    password_hash: str = ""
    budget: float = 0.0
    created_at: float = field(default_factory=now)
    #: the privacy budget used so far; changed only by ``UserStore.charge_budget``
    spent: float = 0.0


class LedgerConflict(UnseenError):
    """A ledger append lost a race: another entry took its sequence number (retry)."""


@dataclass
class LedgerRecord:
    """One differentially private release charged to a user (the privacy odometer's entry).

    ``seq`` numbers a user's entries from 0 without gaps; appending entry ``seq`` succeeds only
    if the user has exactly ``seq`` entries (compare-and-set). ``components`` are the
    mechanisms run, as ``(kind, parameter)`` pairs (``("laplace", epsilon)``,
    ``("gaussian", rho)``, ``("pure", epsilon)``); ``charge`` is what the release added to the
    spend, ``spent`` the spend after it. Every field but ``created_at`` is a function of public
    parameters only.
    """

    id: str
    user_id: str
    seq: int
    epsilon: float
    delta: float
    mechanism: str
    components: list[tuple[str, float] | tuple[str, float, float, int]]
    charge: float
    spent: float
    datasets: tuple[str, ...] = ()
    query: str = ""
    created_at: float = field(default_factory=now)


def check_charge(amount: Any) -> float:
    """A budget charge as a float; ``UsageError`` unless it is a finite number >= 0."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise UsageError(f"a budget charge must be a number, got {type(amount).__name__}")
    value = float(amount)
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"a budget charge must be finite and not negative, got {amount!r}")
    return value


def fits_budget(spent: float, amount: float, budget: float) -> bool:
    """Whether charging ``amount`` keeps ``spent`` within ``budget`` (see ``BUDGET_RTOL``)."""
    return spent + amount <= budget + BUDGET_RTOL * budget


@dataclass(frozen=True)
class AuditRecord:
    """One entry of a node's audit log: who (``user_id``) did what (``action``) to what
    (``target``), and when (``at``, seconds since the epoch). Immutable: stores keep and give
    back the record itself."""

    id: str
    at: float
    user_id: str
    action: str
    target: str


def check_limit(limit: Any) -> int | None:
    """A list limit: None (no limit) or an int >= 0; ``UsageError`` otherwise."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0:
        raise UsageError(f"a limit must be a whole number >= 0 or None, got {limit!r}")
    return int(limit)


def check_key(key: Any) -> str:
    """A setting's key: a non-empty str; ``UsageError`` otherwise."""
    if not isinstance(key, str) or not key:
        raise UsageError(f"a setting's key must be a non-empty str, got {key!r}")
    return key
