"""Fixtures of the DP tests: a node with a numeric asset, a DataFrame asset and a scientist."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import unseen
from unseen import dp
from unseen.node._dp import _leaves


def make_node(seed: int = 0, budget: float = 1000.0, **declared: Any) -> tuple[Any, Any]:
    """(owner worker, scientist) with a dataset "D": ``x`` (1000 x 2 in [0, 10]), ``y`` (1-D,
    [0, 10]), ``pub`` (like ``x`` with public_rows), ``df`` (age, bmi, sex) and ``ids``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, size=(1000, 2))
    df = pd.DataFrame(
        {
            "age": rng.uniform(20, 80, 300),
            "bmi": rng.uniform(15, 40, 300),
            "sex": rng.integers(1, 3, 300),
        }
    )
    ids = np.column_stack([rng.integers(0, 50, 400).astype(float), rng.uniform(0, 10, 400)])
    owner = unseen.VirtualWorker(name=f"clinic-{seed}")
    ds = unseen.Dataset("D", tags=["#d"])
    ds.add_asset("x", x, mock=np.zeros((4, 2)), bounds=(0, 10))
    ds.add_asset("y", x[:, 0].copy(), mock=np.zeros(4), bounds=(0, 10))
    ds.add_asset("pub", x.copy(), mock=np.zeros((4, 2)), bounds=(0, 10), public_rows=1000)
    ds.add_asset(
        "df",
        df,
        mock=df.head(3),
        bounds=[(20, 80), (15, 40), (1, 2)],
        categories={"sex": [1, 2]},
        **declared,
    )
    ds.add_asset(
        "ids",
        ids,
        mock=np.zeros((4, 2)),
        bounds=[(0, 50), (0, 10)],
        privacy_id=0,
        max_rows_per_id=3,
    )
    owner.upload_dataset(ds)
    scientist = owner.new_client("Ana")
    owner.users.update(scientist.user_id, budget=budget)
    return owner, scientist


@pytest.fixture
def node() -> tuple[Any, Any]:
    return make_node()


def assets(scientist: Any) -> Any:
    return scientist.datasets["D"]


def release_of(
    owner: Any, scientist: Any, pointer: Any, epsilon: float = 1.0, delta: Any = None
) -> dp.Release:
    """The planned release of a pointer, as the node prepares it (nothing charged or run)."""
    from unseen.client._graph import ancestry

    _, order = ancestry(pointer._vertex)
    actions = [v.action for v in order if v.action is not None]
    principal = owner.node.principal(scientist.user_id)
    abstract, _, _ = _leaves(owner.node, principal, actions, pointer.id)
    return dp.prepare(actions, abstract, pointer.id, epsilon, delta)


def value_l1(release: dp.Release, stat: str, col: int = 0) -> float:
    """A part's L1 sensitivity in value units (grid steps scaled back)."""
    for part in release.plan.parts:
        if part.stat == stat and part.col == col:
            if part.grid is None:
                return part.l1
            power = 2 if stat == "csq" else 1
            return part.l1 * 2.0 ** (-part.grid.shift * power)
    raise AssertionError(f"no {stat} part for column {col}: {release.plan.parts}")
