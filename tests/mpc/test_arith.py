"""Arithmetic on shares against plaintext torch, for 2 and 3 parties, random shapes.

Bounds asserted (f = 16): a product (elementwise, matmul, conv) is within 2^-14 of the exact
product of the fixed-point-rounded inputs (one truncation: at most one unit 2^-16 for two
parties, [0, 1] unit with dealer pairs, plus float32 rounding of the result).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpc_helpers import gen, rounded

from unseen.mpc import LocalCluster

BOUND = 2.0**-14


def _shape(g: torch.Generator, max_dims: int = 3) -> tuple[int, ...]:
    nd = int(torch.randint(1, max_dims + 1, (1,), generator=g))
    return tuple(int(v) for v in torch.randint(1, 9, (nd,), generator=g))


@pytest.mark.parametrize("seed", range(4))
def test_add_sub_neg_and_public_operands(cluster: LocalCluster, seed: int) -> None:
    g = gen(seed)
    shape = _shape(g)
    a = torch.randn(shape, generator=g, dtype=torch.float64) * 50
    b = torch.randn(shape, generator=g, dtype=torch.float64) * 50
    x, y = cluster.share(a), cluster.share(b)
    ra, rb = rounded(a), rounded(b)
    assert torch.equal((x + y).get(torch.float64), ra + rb)
    assert torch.equal((x - y).get(torch.float64), ra - rb)
    assert torch.equal((-x).get(torch.float64), -ra)
    assert torch.equal((x + 2.5).get(torch.float64), ra + 2.5)
    assert torch.equal((7 - x).get(torch.float64), 7 - ra)
    assert torch.equal((x * 3).get(torch.float64), ra * 3)  # public integer: exact
    assert torch.equal((x + b).get(torch.float64), ra + rb)  # public tensor operand
    assert torch.allclose((x * 0.25).get(torch.float64), ra * 0.25, atol=BOUND, rtol=0)
    assert torch.allclose((x * b).get(torch.float64), ra * rb, atol=BOUND * 100, rtol=0)


@pytest.mark.parametrize("seed", range(6))
def test_mul_error_bound(cluster: LocalCluster, seed: int) -> None:
    g = gen(100 + seed)
    shape = _shape(g)
    a = (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5) * 20
    b = (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5) * 20  # |a * b| < 100
    got = (cluster.share(a, dtype=torch.float64) * cluster.share(b)).get()
    assert got.dtype == torch.float64
    assert (got - rounded(a) * rounded(b)).abs().max().item() <= BOUND
    # and against the unrounded floats: input rounding adds (|a| + |b|) 2^-17
    assert bool(((got - a * b).abs() <= (a.abs() + b.abs()) * 2.0**-17 + BOUND).all())


def test_mul_broadcasts_and_squares(cluster: LocalCluster) -> None:
    g = gen(7)
    a = torch.randn(4, 1, 5, generator=g, dtype=torch.float64)
    b = torch.randn(3, 1, generator=g, dtype=torch.float64)
    x, y = cluster.share(a), cluster.share(b)
    assert (x * y).get(torch.float64).sub(rounded(a) * rounded(b)).abs().max() <= BOUND
    assert (x * x).get(torch.float64).sub(rounded(a) ** 2).abs().max() <= BOUND
    assert (x**3).get(torch.float64).sub(rounded(a) ** 3).abs().max() <= 4 * BOUND


@pytest.mark.parametrize("seed", range(5))
def test_matmul_error_bound(cluster: LocalCluster, seed: int) -> None:
    g = gen(200 + seed)
    m, k, n = (int(v) for v in torch.randint(1, 40, (3,), generator=g))
    a = torch.randn(m, k, generator=g, dtype=torch.float64) * 3
    b = torch.randn(k, n, generator=g, dtype=torch.float64) * 3
    got = (cluster.share(a) @ cluster.share(b)).get(torch.float64)
    assert (got - rounded(a) @ rounded(b)).abs().max().item() <= BOUND
    # public right and left operands
    assert (
        (cluster.share(a) @ b).get(torch.float64) - rounded(a) @ rounded(b)
    ).abs().max() <= BOUND
    assert (
        (a @ cluster.share(b)).get(torch.float64) - rounded(a) @ rounded(b)
    ).abs().max() <= BOUND


def test_matmul_vectors_and_batches(cluster: LocalCluster) -> None:
    x = cluster.share(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (x @ x).get().item() == 55.0
    g = gen(9)
    a = torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64)
    b = torch.randn(6, 5, generator=g, dtype=torch.float64)
    got = (cluster.share(a) @ cluster.share(b)).get(torch.float64)
    assert (got - rounded(a) @ rounded(b)).abs().max() <= BOUND


def test_sum_mean_and_division_by_public(cluster: LocalCluster) -> None:
    g = gen(11)
    a = torch.randn(6, 7, generator=g, dtype=torch.float64) * 10
    x = cluster.share(a)
    ra = rounded(a)
    assert torch.equal(x.sum().get(torch.float64), ra.sum())
    assert torch.equal(x.sum(1).get(torch.float64), ra.sum(1))
    assert torch.equal(x.sum(0, keepdim=True).get(torch.float64), ra.sum(0, keepdim=True))
    assert (x.mean().get(torch.float64) - ra.mean()).abs() <= 2 * 2.0**-16
    assert ((x.mean(0).get(torch.float64) - ra.mean(0)).abs() <= 2 * 2.0**-16).all()
    assert ((x / 3).get(torch.float64) - ra / 3).abs().max() <= 2 * 2.0**-16
    assert ((x / 2.5).get(torch.float64) - ra / 2.5).abs().max() <= BOUND * 10


def test_views_and_indexing(cluster: LocalCluster) -> None:
    a = torch.arange(24.0).reshape(2, 3, 4) - 11.5
    x = cluster.share(a)
    assert torch.equal(x.reshape(6, 4).get(), a.reshape(6, 4))
    assert torch.equal(x.transpose(0, 2).get(), a.transpose(0, 2))
    assert torch.equal(x.permute(2, 0, 1).get(), a.permute(2, 0, 1))
    assert torch.equal(x[1, :, 1:3].get(), a[1, :, 1:3])
    assert torch.equal(x[..., None, 0].get(), a[..., None, 0])
    assert torch.equal(x[torch.tensor([1, 0])].get(), a[torch.tensor([1, 0])])
    assert torch.equal(x.flatten(1).get(), a.flatten(1))
    assert torch.equal(x.unsqueeze(1).squeeze(1).get(), a)
    assert x.shape == a.shape and x.dim() == 3 and len(x) == 2


def test_conv2d_and_pooling(cluster: LocalCluster) -> None:
    from unseen.mpc import functional as MF

    g = gen(13)
    a = torch.randn(2, 3, 8, 7, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(4, generator=g, dtype=torch.float64)
    x = cluster.share(a)
    got = MF.conv2d(x, cluster.share(w), cluster.share(bias), stride=2, padding=1).get(
        torch.float64
    )
    ref = torch.nn.functional.conv2d(rounded(a), rounded(w), rounded(bias), stride=2, padding=1)
    assert (got - ref).abs().max() <= BOUND
    got = MF.avg_pool2d(x, 2).get(torch.float64)
    assert (got - torch.nn.functional.avg_pool2d(rounded(a), 2)).abs().max() <= 2.0**-15
    got = MF.avg_pool2d(x, 3, stride=2, padding=1).get(torch.float64)
    assert (
        got - torch.nn.functional.avg_pool2d(rounded(a), 3, stride=2, padding=1)
    ).abs().max() <= 2.0**-15


@pytest.mark.parametrize("trunc", ["local", "dealer"])
def test_two_party_truncation_modes(trunc: str) -> None:
    g = gen(17)
    a = torch.randn(50, 30, generator=g, dtype=torch.float64) * 5
    b = torch.randn(30, 20, generator=g, dtype=torch.float64) * 5
    with LocalCluster(2, trunc=trunc, timeout=20) as c:
        got = (c.share(a) @ c.share(b)).get(torch.float64)
        assert (got - rounded(a) @ rounded(b)).abs().max() <= BOUND
        got = (c.share(a) * c.share(a)).get(torch.float64)
        assert (got - rounded(a) ** 2).abs().max() <= BOUND


def test_dealer_truncation_rounds_down_within_one_unit(cluster3: LocalCluster) -> None:
    a = torch.arange(-2000, 2000, dtype=torch.float64) * 0.37
    got = (cluster3.share(a) * 0.5).get(torch.float64)
    exact = rounded(a) * rounded(torch.tensor(0.5, dtype=torch.float64))
    err = got - exact
    assert bool(((err >= -(2.0**-16)) & (err <= 2.0**-16)).all())


def test_limb_products_on_cpu() -> None:
    """The CUDA code path (float64 limbs) run on CPU: same results."""
    g = gen(19)
    a = torch.randn(16, 33, generator=g, dtype=torch.float64)
    b = torch.randn(33, 9, generator=g, dtype=torch.float64)
    with LocalCluster(2, limbs=True, timeout=20) as c:
        got = (c.share(a) @ c.share(b)).get(torch.float64)
    assert (got - rounded(a) @ rounded(b)).abs().max() <= BOUND


def test_more_parties() -> None:
    with LocalCluster(5, timeout=20) as c:
        a = torch.tensor([-3.0, -0.5, 0.0, 2.0, 7.25])
        x = c.share(a)
        assert torch.equal((x * x).get(), a * a)
        assert torch.equal((x > 0).get(), (a > 0).float())
        assert torch.equal(x.relu().get(), a.relu())


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    m=st.integers(1, 12),
    k=st.integers(1, 12),
    n=st.integers(1, 12),
    scale=st.sampled_from([0.01, 1.0, 9.0]),
    parties=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**16),
)
def test_products_and_signs_random_shapes(
    cluster2: LocalCluster,
    cluster3: LocalCluster,
    m: int,
    k: int,
    n: int,
    scale: float,
    parties: int,
    seed: int,
) -> None:
    c = cluster2 if parties == 2 else cluster3
    g = gen(seed)
    a = torch.randn(m, k, generator=g, dtype=torch.float64) * scale
    b = torch.randn(k, n, generator=g, dtype=torch.float64) * scale
    x, y = c.share(a), c.share(b)
    assert ((x @ y).get(torch.float64) - rounded(a) @ rounded(b)).abs().max() <= BOUND
    assert ((x * x).get(torch.float64) - rounded(a) ** 2).abs().max() <= BOUND
    assert torch.equal((x > 0).get(), (rounded(a) > 0).float())


@pytest.mark.parametrize("bits", [12, 20])
def test_other_precisions(bits: int) -> None:
    g = gen(bits)
    a = torch.randn(40, generator=g, dtype=torch.float64) * 3
    b = torch.randn(40, generator=g, dtype=torch.float64) * 3
    with LocalCluster(2, frac_bits=bits, timeout=20) as c:
        x, y = c.share(a), c.share(b)
        ra, rb = rounded(a, bits), rounded(b, bits)
        assert ((x * y).get(torch.float64) - ra * rb).abs().max() <= 2.0 ** (2 - bits)
        assert torch.equal(x.relu().get(torch.float64), ra.relu())
        # exp amplifies the input's precision 16-fold (16 squarings): relative ~ 2^(5 - bits)
        err = (x.exp().get(torch.float64) - ra.exp()).abs()
        assert bool((err <= (1e-3 + 2.0 ** (5 - bits)) * ra.exp() + 2.0 ** (2 - bits)).all())
