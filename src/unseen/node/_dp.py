"""Handlers for differentially private releases: ``dp.get`` answers a graph with noise
charged to the caller's budget; ``dp.budget`` and ``dp.history`` show a scientist their
balance and releases; ``dp.spend`` shows the owner every user's spend per dataset;
``dp.settings`` reads or sets the node's delta.

Order of a release: check epsilon and delta; resolve the graph's leaves (dataset assets with
their declared metadata, or values the caller may read); analyse the graph and price the
release (public parameters only, nothing has run); charge the ledger in one compare-and-set
step; only then run the graph and draw the noise. A failure after the charge keeps the
charge: whether a computation on private data failed is itself private.
"""

from __future__ import annotations

import logging
import numbers
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from unseen import dp, ops
from unseen.errors import RemoteError, UsageError
from unseen.messages.dp import (
    DP_BUDGET,
    DP_GET,
    DP_HISTORY,
    DP_SETTINGS,
    DP_SPEND,
    DPAnswer,
    DPBalance,
    DPBudgetRequest,
    DPGetRequest,
    DPHistoryRequest,
    DPRelease,
    DPSettings,
    DPSettingsRequest,
    DPSpend,
    DPSpendRequest,
    DPSpendRow,
)
from unseen.node._objects import _usable
from unseen.node._policy import check_release, may_read
from unseen.node._principal import ADMINS, MEMBERS, Principal
from unseen.node._routes import typed_route
from unseen.store import AssetRecord, LedgerRecord, ObjectRecord

if TYPE_CHECKING:
    from unseen.node._node import Node

log = logging.getLogger("unseen.node")

#: The node's delta unless the owner sets another (``Node(dp_delta=...)``, ``dp.settings``).
DEFAULT_DELTA = 1e-6

#: the key of the node's delta in ``node.stores.settings``
DELTA_KEY = "dp.delta"


@dataclass
class _Service:
    accountant: dp.Accountant

    @property
    def delta(self) -> float:
        return self.accountant.node_delta


_SERVICES: weakref.WeakKeyDictionary[Node, _Service] = weakref.WeakKeyDictionary()


def service(node: Node) -> _Service:
    """The node's accountant (created on first use, over the node's ledger store, at the
    delta stored in its settings)."""
    found = _SERVICES.get(node)
    if found is None:
        delta = float(getattr(node, "dp_delta", DEFAULT_DELTA))
        found = _SERVICES.setdefault(node, _Service(dp.Accountant(node.stores.ledger, delta)))
    return found


def check_delta(value: object) -> float:
    """A node's delta as a float; ``UsageError`` unless it is a number in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise UsageError(f"the node's delta must be in (0, 1), got {value!r}")
    if float(value) < dp.MIN_DELTA:
        raise UsageError(f"the node's delta must be between {dp.MIN_DELTA:g} and 1, got {value!r}")
    return float(value)


def stored_delta(node: Node) -> float:
    """The node's delta from ``node.stores.settings`` (``DEFAULT_DELTA`` if none is stored)."""
    value = node.stores.settings.get(DELTA_KEY)
    return DEFAULT_DELTA if value is None else float(value)


def init_delta(node: Node, explicit: float | None) -> None:
    """Store the node's delta on its first start: ``explicit``, or ``DEFAULT_DELTA`` when it
    is None. Later starts keep the stored value (an ``explicit`` one that differs is logged
    and ignored: the owner changes the delta with ``dp.settings``, until the first release)."""
    stored = node.stores.settings.get(DELTA_KEY)
    if stored is None:  # first start; of two starting at once, the first one's value wins
        wanted = DEFAULT_DELTA if explicit is None else explicit
        stored = node.stores.settings.setdefault(DELTA_KEY, wanted)
    if explicit is not None and float(stored) != explicit:
        log.warning(
            "node %r: dp_delta=%g is ignored: the node's DP delta is stored already (%g, from "
            "its first start or dp.settings); the owner changes it with dp.settings, until "
            "the first DP release",
            node.name,
            explicit,
            float(stored),
        )


def set_delta(node: Node, value: object) -> float:
    """Set and store the node's delta; ``UsageError`` if it is not in (0, 1), or if it
    changes after the first DP release (every balance is converted at it)."""
    delta = check_delta(value)
    svc = service(node)
    if delta != svc.delta and node.stores.ledger.list():
        raise UsageError(
            "the node's delta is fixed once a DP release was made (every balance is "
            "converted at it)"
        )
    node.stores.settings.set(DELTA_KEY, delta)
    svc.accountant.node_delta = delta
    return delta


def _asset_of(node: Node, record: ObjectRecord) -> tuple[AssetRecord, str] | None:
    for dataset in node.stores.datasets.list():
        if dataset.name != record.dataset:
            continue
        for asset in dataset.assets:
            if asset.object_id == record.id:
                return asset, dataset.name
    return None


def _leaves(
    node: Node, principal: Principal, actions: list[ops.Action], target: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, AssetRecord]]:
    """(abstract leaves, their values, assets by id) for every id the graph reads."""
    defined = {a.id for a in actions}
    ids = [r for a in actions for r in ops.refs_of(a) if r not in defined]
    if target not in defined:
        ids.append(target)
    abstract: dict[str, Any] = {}
    values: dict[str, Any] = {}
    assets: dict[str, AssetRecord] = {}
    for rid in dict.fromkeys(ids):
        record = _usable(node, principal, rid)
        values[rid] = node.stores.objects.value(rid)
        if may_read(principal, record):
            if record.error is not None:  # a failed result holds a stand-in, not a value
                check_release(principal, record)  # raises the failure
            abstract[rid] = dp.Const(values[rid])
            continue
        found = _asset_of(node, record)
        table = (
            None if found is None else dp.source_table(found[0], record.public_meta, rid, found[1])
        )
        if table is None or found is None:
            raise dp.not_releasable(
                f"object {rid[:8]} is private and carries no DP metadata (only tables of "
                "dataset assets do)"
            )
        if table.max_rows > dp.MAX_ROWS:
            raise dp.not_releasable(f"asset {found[0].name!r} has more than {dp.MAX_ROWS} rows")
        abstract[rid] = table
        assets[rid] = found[0]
    return abstract, values, assets


def _per_id(value: Any, asset: AssetRecord) -> Any:
    """At most ``max_rows_per_id`` rows per privacy id (the first ones), as declared."""
    column, k = asset.privacy_id, asset.max_rows_per_id
    if column is None:
        return value
    if hasattr(value, "groupby") and hasattr(value, "columns"):
        label = next(c for c in value.columns if str(c) == column)
        return value.groupby(label, sort=False, dropna=False).head(k)
    array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    _, inverse = np.unique(array[:, int(column)], return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    ranked = inverse[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ranked)) + 1]
    rank = np.arange(len(ranked)) - np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
    keep = np.zeros(len(ranked), dtype=bool)
    keep[order] = rank < k
    if hasattr(value, "detach"):
        import torch

        return value[torch.as_tensor(keep)]
    return value[keep]


def _needed(actions: list[ops.Action], target: str) -> list[ops.Action]:
    """The actions ``target`` derives from, in order."""
    index = {a.id: a for a in actions}
    wanted: set[str] = set()
    stack = [target]
    while stack:
        rid = stack.pop()
        if rid in index and rid not in wanted:
            wanted.add(rid)
            stack.extend(ops.refs_of(index[rid]))
    return [a for a in actions if a.id in wanted]


def _parse(node: Node, request: DPGetRequest) -> tuple[list[ops.Action], str]:
    actions: list[ops.Action] = list(request.actions)
    if len(actions) > node.limits.max_actions:
        raise UsageError(f"a graph of {len(actions)} actions is over this node's limit")
    seen: set[str] = set()
    for action in actions:
        if not isinstance(action, ops.Action):
            raise UsageError("'actions' must be a list of unseen actions")
        if action.id in seen:
            raise UsageError(f"the graph defines {action.id!r} twice")
        seen.add(action.id)
    return actions, request.target


def _failed(charge: float) -> RemoteError:
    return RemoteError(
        "the computation failed on the node (details withheld: the inputs are private); "
        f"the charge of {charge:.6g} stands, since whether it failed is private too",
        operation="dp.get",
    )


def _check_on_mocks(
    node: Node,
    actions: list[ops.Action],
    values: dict[str, Any],
    abstract: dict[str, Any],
    assets: dict[str, AssetRecord],
    release: dp.Release,
) -> None:
    """Before any charge: run the graph on the assets' mocks and refuse (nothing charged, the
    mocks are public) if the value the statistic reads does not have the claimed dimensions
    and columns. Skipped when an asset has no mock of its data's shape, or the graph fails on
    the mocks (mocks are often zeros); the check on the private value after the run stays."""
    query = release.query
    env = dict(values)
    for rid, asset in assets.items():
        if asset.mock_id is None:
            return
        mock = node.stores.objects.value(asset.mock_id)
        if not dp.shape_ok(abstract[rid], mock, None, None):
            return
        env[rid] = mock
    source = env.get(query.table.source)
    source_shape = None if source is None else dp.shape_of(source)
    try:
        if query.input in env:
            data = env[query.input]
        else:
            steps = _needed(actions, query.input)
            data = ops.execute(steps, env, keep={query.input}, limits=node.limits)[query.input]
    except Exception:
        return
    most = source_shape[0] if source_shape else None
    if not dp.shape_ok(query.table, data, None, most):
        raise dp.not_releasable(
            "on the mock, the value the statistic reads does not have the shape the DP "
            "analysis expects (each row a function of one row of the source, with the same "
            f"columns: {release.query.description}); broadcasting may pair rows with rows"
        )


def _answer(
    node: Node, release: dp.Release, actions: list[ops.Action], env: dict[str, Any]
) -> tuple[Any, Exception | None]:
    """(the noised answer, None), or (None, the first failure). A failure does not cut the
    work short: the rest of the expression runs on stand-ins (``on_failure="continue"``), and
    the statistic and its noise are computed on a stand-in of the query's input, so that the
    time taken does not tell whether a step on private data failed (docs/security.md)."""
    query_input = release.query.input
    failure: Exception | None = None
    data: Any = None
    if query_input in env:
        data = env[query_input]
    else:
        steps = _needed(actions, query_input)
        try:
            data = ops.execute(
                steps, env, keep={query_input}, limits=node.limits, on_failure="continue"
            )[query_input]
        except Exception as exc:  # ExecutionError / OperationNotAllowed carry the stand-ins
            failure = exc
            data = getattr(exc, "results", {}).get(query_input)
    try:
        if failure is None:  # the analysis' claim, checked on what ran (an analysis bug if not)
            source = env.get(release.query.table.source)
            source_shape = None if source is None else dp.shape_of(source)
            most = source_shape[0] if source_shape else None
            dp.check_executed(release.query, data, most)
        value = dp.answer(release, data)
    except dp.ShapeMismatch as exc:  # loud in the owner's log, the generic failure outside
        log.warning("DP release refused after the charge: %s", exc)
        failure = exc
        try:
            dp.answer(release, ops.standin(data))
        except Exception:
            pass
    except Exception as exc:
        if failure is None:  # failed on the true data: do the statistic's work on a stand-in
            failure = exc
            try:
                dp.answer(release, ops.standin(data))
            except Exception:
                pass
    return (None, failure) if failure is not None else (value, None)


@typed_route(DP_GET, MEMBERS)
def dp_get(node: Node, principal: Principal, request: DPGetRequest) -> DPAnswer:
    """A DP answer for the graph's ``target``, charged to the caller's budget."""
    node.drop_objects(principal, request.drop)
    svc = service(node)
    actions, target = _parse(node, request)
    epsilon, delta = dp.check_parameters(request.epsilon, request.delta, svc.delta)
    actions = _needed(actions, target)
    abstract, values, assets = _leaves(node, principal, actions, target)
    if all(isinstance(a, dp.Const) for a in abstract.values()):
        value = (
            values[target]
            if not actions
            else ops.execute(actions, values, keep={target}, limits=node.limits)[target]
        )
        return DPAnswer(value=value, exact=True, charged=0.0, epsilon=0.0, delta=0.0)
    release = dp.prepare(actions, abstract, target, epsilon, delta)
    _check_on_mocks(node, actions, values, abstract, assets, release)
    uid = principal.user_id
    record = svc.accountant.charge(
        uid, lambda: float(node.stores.users.get(uid).budget), release.cost
    )
    try:  # the users table mirrors the ledger's spend for the owner's user list
        node.stores.users.charge_budget(uid, record.charge, limit_check=False)
    except Exception:  # the ledger is the record; a mirror failure must not undo a release
        log.exception("could not mirror a DP charge into the users table")
    node.audit(principal, "dp.release", ",".join(release.query.datasets) or "-")
    env = {
        rid: _per_id(values[rid], assets[rid]) if rid in assets else values[rid] for rid in values
    }
    value, exc = _answer(node, release, actions, env)
    if exc is not None:
        log.info("DP release of %s failed: %s: %s", uid, type(exc).__name__, exc)
        raise _failed(record.charge) from None
    return DPAnswer(
        value=value,
        exact=False,
        epsilon=release.cost.epsilon,
        delta=release.cost.delta,
        mechanism=release.cost.mechanism,
        charged=record.charge,
        spent=record.spent,
        query=release.query.description,
    )


def _balance(node: Node, user_id: str) -> DPBalance:
    svc = service(node)
    user = node.stores.users.get(user_id)
    count, odometer = svc.accountant.odometer(user_id)
    spent = odometer.spent(svc.delta)
    return DPBalance(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        budget=float(user.budget),
        spent=spent,
        remaining=max(float(user.budget) - spent, 0.0),
        releases=count,
        epsilon_sum=odometer.epsilon,
        delta=svc.delta,
    )


@typed_route(DP_BUDGET, MEMBERS)
def dp_budget(node: Node, principal: Principal, request: DPBudgetRequest) -> DPBalance:
    return _balance(node, principal.user_id)


def _entry_view(entry: LedgerRecord) -> DPRelease:
    return DPRelease(
        seq=entry.seq,
        at=entry.created_at,
        query=entry.query,
        datasets=list(entry.datasets),
        epsilon=entry.epsilon,
        delta=entry.delta,
        mechanism=entry.mechanism,
        charged=entry.charge,
        spent=entry.spent,
    )


@typed_route(DP_HISTORY, MEMBERS)
def dp_history(node: Node, principal: Principal, request: DPHistoryRequest) -> list[DPRelease]:
    return [_entry_view(e) for e in node.stores.ledger.entries(principal.user_id)]


@typed_route(DP_SPEND, ADMINS)
def dp_spend(node: Node, principal: Principal, request: DPSpendRequest) -> DPSpend:
    """Every user's balance, and the spend per user and dataset (each release's charge
    counted towards every dataset it read)."""
    users = [u for u in node.stores.users.list() if u.role not in ("owner", "admin")]
    per: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for entry in node.stores.ledger.list():
        for name in entry.datasets or ("-",):
            cell = per[(entry.user_id, name)]
            cell[0] += 1
            cell[1] += entry.epsilon
            cell[2] += entry.charge
    names = {u.id: u.email for u in node.stores.users.list()}
    rows = [
        DPSpendRow(
            user_id=uid,
            email=names.get(uid, uid),
            dataset=name,
            releases=int(c[0]),
            epsilon_sum=c[1],
            charged=c[2],
        )
        for (uid, name), c in sorted(
            per.items(), key=lambda kv: (names.get(kv[0][0], ""), kv[0][1])
        )
    ]
    return DPSpend(users=[_balance(node, u.id) for u in users], datasets=rows)


@typed_route(DP_SETTINGS, ADMINS)
def dp_settings(node: Node, principal: Principal, request: DPSettingsRequest) -> DPSettings:
    """The node's delta; the owner may set it until the first DP release."""
    svc = service(node)
    if request.delta is not None:
        if principal.role != "owner":
            raise UsageError("only the owner sets the node's delta")
        delta = set_delta(node, request.delta)
        node.audit(principal, "dp.settings", f"delta={delta:g}")
    return DPSettings(delta=svc.delta)
