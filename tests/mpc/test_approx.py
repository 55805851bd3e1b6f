"""The documented accuracy of every approximation (docs/mpc.md), for 2 and 3 parties.

Each bound reads |mpc(x) - f(x~)| <= rel * |f(x~)| + abs over the stated domain, where x~ is
x rounded to the fixed-point grid (16 fractional bits).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from mpc_helpers import rounded

from unseen.mpc import LocalCluster, MPCTensor


def _check(got: torch.Tensor, ref: torch.Tensor, rel: float, abs_: float) -> None:
    err = (got - ref).abs()
    bound = rel * ref.abs() + abs_
    worst = int((err - bound).argmax())
    assert bool((err <= bound).all()), (
        f"error {err[worst].item():.3g} > bound {bound[worst].item():.3g} at {worst}"
    )


CASES: list[tuple[str, Callable[[MPCTensor], MPCTensor], Callable[[torch.Tensor], torch.Tensor], torch.Tensor, float, float]] = [
    ("exp", MPCTensor.exp, torch.exp, torch.linspace(-40, 10, 1201, dtype=torch.float64), 1e-3, 1e-4),
    ("exp far below", MPCTensor.exp, torch.exp, torch.linspace(-1000, -40, 101, dtype=torch.float64), 0.0, 2e-5),
    ("reciprocal", MPCTensor.reciprocal, torch.reciprocal,
     torch.cat([torch.logspace(-2, 2.7, 600, dtype=torch.float64), -torch.logspace(-2, 2.7, 600, dtype=torch.float64)]), 2e-3, 5e-5),
    ("sqrt", MPCTensor.sqrt, torch.sqrt, torch.logspace(-1, 2.17, 600, dtype=torch.float64), 2e-3, 1e-4),
    ("log", MPCTensor.log, torch.log, torch.logspace(-2, 2.7, 600, dtype=torch.float64), 2e-3, 2e-3),
    ("sigmoid", MPCTensor.sigmoid, torch.sigmoid, torch.linspace(-500, 500, 2001, dtype=torch.float64), 0.0, 2e-4),
    ("tanh", MPCTensor.tanh, torch.tanh, torch.linspace(-500, 500, 2001, dtype=torch.float64), 0.0, 3e-4),
]  # fmt: skip


@pytest.mark.parametrize("name,fn,ref,x,rel,abs_", CASES, ids=[c[0] for c in CASES])
def test_unary_accuracy(
    cluster: LocalCluster,
    name: str,
    fn: Callable,
    ref: Callable,
    x: torch.Tensor,
    rel: float,
    abs_: float,
) -> None:
    xr = rounded(x)
    _check(fn(cluster.share(xr, dtype=torch.float64)).get(), ref(xr), rel, abs_)


def test_softmax_and_log_softmax(cluster: LocalCluster) -> None:
    g = torch.Generator().manual_seed(1)
    logits = rounded(torch.randn(64, 10, generator=g, dtype=torch.float64) * 8)
    logits[0] = torch.tensor([200.0, -200.0] + [0.0] * 8)  # a gap beyond the exp floor
    x = cluster.share(logits, dtype=torch.float64)
    _check(x.softmax(1).get(), logits.softmax(1), 0.0, 3e-4)
    _check(x.softmax(0).get(), logits.softmax(0), 0.0, 3e-4)
    _check(x.log_softmax(1).get(), logits.log_softmax(1), 4e-3, 1e-3)


def test_division_by_shared(cluster: LocalCluster) -> None:
    g = torch.Generator().manual_seed(2)
    a = rounded(torch.randn(300, generator=g, dtype=torch.float64) * 10)
    b = rounded(torch.rand(300, generator=g, dtype=torch.float64) * 100 + 0.1) * torch.where(
        torch.arange(300) % 2 == 0, 1.0, -1.0
    )
    _check((cluster.share(a) / cluster.share(b)).get(torch.float64), a / b, 2e-3, 1e-3)
    _check((3 / cluster.share(b)).get(torch.float64), 3 / b, 2e-3, 2e-4)
