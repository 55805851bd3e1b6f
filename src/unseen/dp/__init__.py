"""Differential privacy: ``ptr.get(epsilon=...)`` answers, charged to per-user budgets.

The node analyses a scientist's graph statically (:func:`prepare`): from the owner's declared
metadata of each asset (bounds, nullability, privacy id and rows per id, public row count,
public keys) it tracks what every value of the graph is, finds the aggregate asked for, and
derives its sensitivity. Only public parameters enter: the cost of a release never depends on
the data. The :class:`Accountant` charges the release to the user's odometer in the ledger in
one compare-and-set step; only then does the node run the graph and :func:`answer` draw
OpenDP noise. See docs/dp.md.

OpenDP and dp-accounting are imported on first use; importing this package imports neither.
"""

from __future__ import annotations

from unseen.dp._ledger import Accountant, Charge, replay
from unseen.dp._meta import MAX_ROWS, asset_dp_fields, source_table
from unseen.dp._odometer import ORDERS, Odometer, curve, rdp_epsilon, subsampled_gaussian
from unseen.dp._plan import rho_of
from unseen.dp._release import (
    MAX_EPSILON,
    MIN_DELTA,
    MIN_EPSILON,
    Release,
    answer,
    check_parameters,
    not_releasable,
    prepare,
)
from unseen.dp._sgd import SGDPlan, plan_sgd
from unseen.dp._shape import ShapeMismatch, check_executed, shape_of, shape_ok
from unseen.dp._values import Col, Const, Grouped, Table
from unseen.dp._view import DPTable, table

__all__ = [
    "MAX_EPSILON",
    "MAX_ROWS",
    "MIN_DELTA",
    "MIN_EPSILON",
    "ORDERS",
    "Accountant",
    "Charge",
    "Col",
    "Const",
    "Grouped",
    "Odometer",
    "Release",
    "SGDPlan",
    "ShapeMismatch",
    "Table",
    "answer",
    "asset_dp_fields",
    "check_executed",
    "check_parameters",
    "curve",
    "not_releasable",
    "plan_sgd",
    "prepare",
    "rdp_epsilon",
    "replay",
    "rho_of",
    "shape_of",
    "shape_ok",
    "source_table",
    "subsampled_gaussian",
    "DPTable",
    "table",
]
