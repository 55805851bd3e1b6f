"""Gradients of MPCTensor operations against torch autograd."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from unseen.errors import UsageError
from unseen.mpc import LocalCluster
from unseen.mpc.autograd import no_grad

OPS: list[tuple[str, Callable]] = [
    ("add-mul-broadcast", lambda a, b: ((a + b) * a[:1]).sum()),
    ("sub-public", lambda a, b: ((a - 2.0) * (3.0 - b)).sum()),
    ("matmul", lambda a, b: (a @ b.T).sum()),
    ("square-mean", lambda a, b: ((a - b) ** 2).mean()),
    ("views", lambda a, b: (a.reshape(-1)[2:7] * b.t().flatten()[1:6]).sum()),
    ("sum-dim", lambda a, b: (a.sum(0) * b.mean(0)).sum()),
    ("relu", lambda a, b: (a.relu() * b).sum()),
    ("exp-sigmoid", lambda a, b: (a.exp() + b.sigmoid()).sum()),
    ("softmax", lambda a, b: (a.softmax(1) * b).sum()),
    ("div-public", lambda a, b: (a / 4 + b / 2.5).sum()),
    ("expand-unsqueeze", lambda a, b: (a.unsqueeze(0).expand(2, 3, 4) * b).sum()),
]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_gradients(cluster: LocalCluster, name: str, fn: Callable) -> None:
    g = torch.Generator().manual_seed(len(name))
    a = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    x = cluster.share(a.detach(), requires_grad=True)
    y = cluster.share(b.detach(), requires_grad=True)
    out = fn(x, y)
    out.backward()
    ref = fn(a, b)
    ref.backward()
    assert abs(out.get().item() - ref.item()) < 5e-3
    # exp's approximation error is relative (docs/mpc.md), so large gradients get a share of it
    for got, want in ((x.grad, a.grad), (y.grad, b.grad)):
        assert ((got.get(torch.float64) - want).abs() <= 2e-3 + 2e-4 * want.abs()).all()


def test_no_grad_and_detach(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.ones(3), requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad
    z = (x * 2).detach()
    assert not z.requires_grad
    with pytest.raises(UsageError, match="does not require grad"):
        y.backward()
    with pytest.raises(UsageError, match="one-element"):
        (x * 2).backward()


def test_grads_accumulate(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.tensor([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * 2).sum().backward()
    assert torch.equal(x.grad.get(), torch.tensor([5.0, 5.0]))
