"""One DP release from start to end, minus the node's plumbing: check the parameters,
analyse the graph, plan and calibrate the noise, price it (:func:`prepare`); then, after the
node charged the price and ran the graph, noise the answer (:func:`answer`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unseen import ops
from unseen.dp._analysis import Abstract, analyse
from unseen.dp._evaluate import calibrate, evaluate
from unseen.dp._ledger import Charge
from unseen.dp._plan import Plan, make_plan
from unseen.dp._query import NotTrackable, Query
from unseen.errors import CannotRequestPrivateData, UsageError

__all__ = [
    "MAX_EPSILON",
    "MIN_DELTA",
    "MIN_EPSILON",
    "Release",
    "answer",
    "check_parameters",
    "prepare",
    "not_releasable",
]

#: The epsilons a release may ask for. Below ``MIN_EPSILON`` the noise is so large that the
#: answer is only its clamp (and subnormal values overflow the noise scale); above
#: ``MAX_EPSILON`` the accounting overflows: neither is a meaningful release.
MIN_EPSILON = 1e-6
MAX_EPSILON = 1e6
#: The smallest delta of a release or of a node (below, ``log(1/delta)`` stops being finite
#: for subnormal values, and nothing is gained over Laplace noise).
MIN_DELTA = 1e-100


@dataclass
class Release:
    query: Query
    plan: Plan
    cost: Charge


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, not {type(value).__name__}")
    return float(value)


def check_parameters(epsilon: Any, delta: Any, node_delta: float) -> tuple[float, float | None]:
    """``(epsilon, delta)`` as floats, or a :class:`UsageError` saying what is wrong."""
    if epsilon is None:
        raise UsageError("a DP release needs epsilon: .get(epsilon=0.5)")
    eps = _number(epsilon, "epsilon")
    if not math.isfinite(eps) or eps <= 0:
        raise UsageError(
            f"epsilon must be a finite number > 0, got {epsilon!r}: smaller is more private "
            "and noisier, e.g. .get(epsilon=0.5)"
        )
    if not MIN_EPSILON <= eps <= MAX_EPSILON:
        raise UsageError(
            f"epsilon must be between {MIN_EPSILON:g} and {MAX_EPSILON:g}, got {epsilon!r}: "
            "smaller is more private and noisier, e.g. .get(epsilon=0.5)"
        )
    if delta is None:
        return eps, None
    dlt = _number(delta, "delta")
    if not math.isfinite(dlt) or not 0 < dlt < 1:
        raise UsageError(f"delta must be a number in (0, 1), got {delta!r}")
    if dlt < MIN_DELTA:
        raise UsageError(
            f"delta must be between {MIN_DELTA:g} and this node's delta of {node_delta:g}, "
            f"got {delta!r}; or leave delta out for Laplace noise"
        )
    if dlt > node_delta * (1 + 1e-9):
        raise UsageError(
            f"delta={dlt:g} is above this node's delta of {node_delta:g}: ask for "
            f"delta <= {node_delta:g}, or leave delta out for Laplace noise"
        )
    return eps, dlt


def not_releasable(reason: str) -> CannotRequestPrivateData:
    return CannotRequestPrivateData(
        f"This graph is not DP-releasable: {reason}. Nothing was charged. Use "
        ".request(name=..., reason=...) to ask the data owner instead."
    )


def prepare(
    actions: Sequence[ops.Action],
    leaves: Mapping[str, Abstract],
    target: str,
    epsilon: float,
    delta: float | None,
) -> Release:
    """Analyse, plan, calibrate and price a release; raises CannotRequestPrivateData."""
    try:
        query = analyse(actions, leaves, target)
    except NotTrackable as exc:
        raise not_releasable(str(exc)) from None
    plan = make_plan(query, epsilon, delta)
    calibrate(plan)
    cost = Charge(
        epsilon=plan.epsilon,
        delta=plan.delta,
        mechanism=plan.mechanism,
        components=tuple(plan.components),
        datasets=query.datasets,
        query=query.description,
    )
    return Release(query, plan, cost)


def answer(release: Release, value: Any) -> Any:
    """The noised answer, from the graph's value for the query's input."""
    return evaluate(release.query, release.plan, value)
