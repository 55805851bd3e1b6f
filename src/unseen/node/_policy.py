"""The release rule, in one place: who may use an object, and who may see its value.

A value leaves the node only through a release (DESIGN.md section 2). Here that means
:func:`may_read` says yes: the caller administers the node, or every source of the
object's lineage is the caller's own data (public objects have no sources), or the owner
accepted a request of the caller's for this object (an approved code request's output is
granted to its requester for one release: :func:`spend_grant`; the owner's standing approval
of federated fits grants the weights of N fits of one configuration: :func:`standing_covers`).
Every read path asks it, directly or
through :func:`check_release`: a stored object, a graph's result before it is stored
(:class:`Lineage`), a failure's detail, an MPC input and reveal, the exact path of ``dp.get``.
Differential privacy and MPC releases plug in beside it, never around it.
``tests/test_release_paths.py`` denies everything here and checks that every path refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from unseen.errors import CannotRequestPrivateData, NotFound, RemoteError
from unseen.node._principal import Principal
from unseen.store import ObjectRecord, RequestRecord


class Readable(Protocol):
    """What the rule reads of an object: its lineage and the grants of accepted requests."""

    @property
    def sources(self) -> frozenset[str]: ...

    @property
    def readers(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Lineage:
    """The rule's view of a value by its lineage alone, with no grant: a graph's result
    before it is stored, or why a stored object failed (a grant releases a value, not the
    detail of a failure on someone else's data)."""

    sources: frozenset[str]
    readers: frozenset[str] = frozenset()


#: ``public_meta`` key of the output of an approved code request (its value: the job's id):
#: its requester holds a read grant that one release spends
CODE_OUTPUT = "code_output"


def spend_grant(principal: Principal, record: ObjectRecord) -> ObjectRecord | None:
    """The record to store after releasing it to the caller, when the release spent a grant:
    an approved code output is released once to its requester (a second read needs a new job
    or a request to the owner). None when nothing was spent (the caller reads it anyway)."""
    if CODE_OUTPUT not in record.public_meta or principal.user_id not in record.readers:
        return None
    if principal.is_admin or record.sources <= {principal.user_id}:
        return None
    return replace(record, readers=record.readers - {principal.user_id})


def standing_covers(
    principal: Principal,
    approval: RequestRecord,
    *,
    config_hash: str,
    data: str,
    target: str,
    param_sources: frozenset[str],
) -> bool:
    """Does the owner's standing approval ``approval`` release to the caller the weights of
    this fit (a read grant on them)? Only an accepted approval of the caller's, for exactly
    this configuration hash, data and target, with releases left, and only for a fit that
    starts from weights of the caller's own (derived from no one else's data)."""
    standing = approval.standing
    return (
        standing is not None
        and approval.status == "accepted"
        and approval.requester == principal.user_id
        and standing["config_hash"] == config_hash
        and standing["data"] == data
        and standing["target"] == target
        and int(standing["used"]) < int(standing["rounds"])
        and param_sources <= {principal.user_id}
    )


def may_use(principal: Principal, record: ObjectRecord) -> bool:
    """May the caller compute on the object (not see it)?"""
    return (
        principal.is_admin
        or record.creator == principal.user_id
        or record.searchable
        or record.dataset is not None
        or principal.user_id in record.readers
    )


def may_read(principal: Principal, record: Readable) -> bool:
    """May the value of this object, or anything derived from it, be released to the caller?
    The one release rule: every read path asks it."""
    return (
        principal.is_admin
        or record.sources <= {principal.user_id}
        or principal.user_id in record.readers
    )


def check_use(principal: Principal, record: ObjectRecord) -> None:
    if not may_use(principal, record):
        # Same error as a missing object: existence is not revealed either.
        raise NotFound(f"no object with id {record.id!r}")


def check_release(principal: Principal, record: ObjectRecord) -> None:
    """Raise unless the object's value may leave the node for this caller."""
    check_use(principal, record)
    if not may_read(principal, record):
        raise CannotRequestPrivateData()
    if record.error is not None:
        detail = record.error if may_read(principal, Lineage(record.sources)) else ""
        raise RemoteError(
            f"{record.failed_op} failed on the node"
            + (f": {detail}" if detail else " (details withheld: the inputs are private)"),
            operation=record.failed_op,
        )
