"""Comparisons, ReLU, max/argmax and max pooling against torch (exact on encoded values)."""

from __future__ import annotations

import pytest
import torch
from mpc_helpers import gen, rounded

from unseen.mpc import LocalCluster
from unseen.mpc import functional as MF

pytestmark = pytest.mark.filterwarnings("ignore::unseen.mpc.encoding.RangeWarning")

EDGES = torch.tensor(
    [
        0.0,
        2.0**-16,
        -(2.0**-16),
        1.0,
        -1.0,
        3.0,
        2.0**-16 + 3,
        3 - 2.0**-16,
        1e6,
        -1e6,
        2.0**40,
        -(2.0**40),
    ],
    dtype=torch.float64,
)


def _values(seed: int, n: int = 400) -> torch.Tensor:
    g = gen(seed)
    return torch.cat(
        [EDGES, torch.randn(n, generator=g, dtype=torch.float64) * 10, torch.tensor([3.0, -3.0])]
    )


@pytest.mark.parametrize("seed", range(2))
def test_comparisons_with_public_and_shared(cluster: LocalCluster, seed: int) -> None:
    a = rounded(_values(seed))
    b = rounded(torch.roll(a, 3))
    x, y = cluster.share(a, dtype=torch.float64), cluster.share(b, dtype=torch.float64)
    for got, ref in [
        (x > 3, a > 3), (x < 3, a < 3), (x >= 3, a >= 3), (x <= 3, a <= 3), (x == 3, a == 3),
        (x.ne(3), a != 3), (x > y, a > b), (x <= y, a <= b), (x == y, a == b), (x == x, a == a),
    ]:  # fmt: skip
        assert torch.equal(got.get(), ref.double())


def test_relu_exact(cluster: LocalCluster) -> None:
    a = rounded(_values(5))
    assert torch.equal(cluster.share(a, dtype=torch.float64).relu().get(), a.relu())


@pytest.mark.parametrize("shape,dim", [((7, 10), 1), ((5, 3, 4), 0), ((9,), 0), ((4, 6), -1)])
def test_max_and_argmax(cluster: LocalCluster, shape: tuple[int, ...], dim: int) -> None:
    g = gen(sum(shape))
    a = rounded(torch.randn(shape, generator=g, dtype=torch.float64) * 5)
    x = cluster.share(a, dtype=torch.float64)
    vals, idx = x.max(dim)
    ref = a.max(dim)
    assert torch.equal(vals.get(), ref.values)
    assert torch.equal(idx.get(), ref.indices.double())
    assert torch.equal(x.argmax(dim).get(), a.argmax(dim).double())
    oh = x.argmax(dim, one_hot=True).get()
    assert torch.equal(
        oh, torch.nn.functional.one_hot(a.argmax(dim), a.shape[dim]).movedim(-1, dim).double()
    )
    assert x.max().get().item() == a.max().item()


def test_argmax_ties_pick_the_first_like_torch(cluster2: LocalCluster) -> None:
    a = torch.tensor([[1.0, 5.0, 5.0, 2.0], [3.0, 3.0, 3.0, 3.0], [0.0, -1.0, 0.0, -1.0]])
    assert torch.equal(cluster2.share(a).argmax(1).get(), a.argmax(1).float())


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_max_pool2d(cluster: LocalCluster, k: int, s: int, p: int) -> None:
    g = gen(k * 100 + s * 10 + p)
    a = rounded(torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64) * 4 - 2)
    got = MF.max_pool2d(cluster.share(a, dtype=torch.float64), k, s, p).get()
    assert torch.equal(got, torch.nn.functional.max_pool2d(a, k, s, p))


def test_abs(cluster2: LocalCluster) -> None:
    a = rounded(_values(3))
    assert torch.equal(cluster2.share(a, dtype=torch.float64).abs().get(), a.abs())
