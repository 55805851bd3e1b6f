"""Exact ring arithmetic: unsigned division, bilinear maps on CPU and on the float64 limb
path (the CUDA path, exercised here on CPU), conv2d gradients."""

from __future__ import annotations

import pytest
import torch

from unseen.errors import UsageError
from unseen.mpc import ring


def _rand64(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(-(2**63), 2**63 - 1, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("d", [1, 2, 3, 7, 65536, 1000003, 2**30])
def test_udiv_matches_python_integers(d: int) -> None:
    x = torch.cat([_rand64(500), torch.tensor([0, -1, 2**63 - 1, -(2**63)])])
    got = ring.udiv(x, d).tolist()
    for v, q in zip(x.tolist(), got):
        assert q % 2**64 == (v % 2**64) // d


def test_logical_shift() -> None:
    assert ring.lshr(torch.tensor([-1]), 60).item() == 15


@pytest.mark.parametrize(
    ("op", "a", "b", "p"),
    [
        ("matmul", (5, 300), (300, 7), {}),
        ("matmul", (2, 3, 40), (40, 6), {}),
        ("matmul", (40,), (40,), {}),
        ("conv2d", (2, 3, 9, 9), (4, 3, 3, 3), {"stride": [2, 2], "padding": [1, 1]}),
        ("conv2d", (1, 4, 6, 6), (4, 2, 3, 3), {"groups": 2}),
    ],
)
def test_limb_path_is_exact(op: str, a: tuple[int, ...], b: tuple[int, ...], p: dict) -> None:
    x, y = _rand64(*a, seed=1), _rand64(*b, seed=2)
    assert torch.equal(
        ring.bilinear(op, x, y, p, limbs=True), ring.bilinear(op, x, y, p, limbs=False)
    )


def test_int64_products_wrap_mod_2_64() -> None:
    x, y = _rand64(3, 4, seed=3), _rand64(4, 2, seed=4)
    got = ring.bilinear("matmul", x, y, {})
    for i in range(3):
        for j in range(2):
            exact = sum(x[i, k].item() * y[k, j].item() for k in range(4)) % 2**64
            assert got[i, j].item() % 2**64 == exact


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), (2, 0)])
def test_conv_gradients_match_torch(stride: int, padding: int) -> None:
    g = torch.Generator().manual_seed(stride * 10 + padding)
    x = torch.randint(-5, 6, (2, 3, 7, 8), generator=g).double().requires_grad_()
    w = torch.randint(-5, 6, (4, 3, 3, 3), generator=g).double().requires_grad_()
    out = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
    up = torch.randint(-5, 6, out.shape, generator=g).double()
    out.backward(up)
    p = {"stride": [stride] * 2, "padding": [padding] * 2, "input_hw": [7, 8], "kernel_hw": [3, 3]}
    gi = ring.bilinear("conv2d_input_grad", up.long(), w.detach().long(), p)
    gw = ring.bilinear("conv2d_weight_grad", x.detach().long(), up.long(), p)
    assert torch.equal(gi, x.grad.long())
    assert torch.equal(gw, w.grad.long())
    assert ring.shape_of("conv2d_input_grad", up.shape, w.shape, p) == tuple(x.shape)
    assert ring.shape_of("conv2d_weight_grad", x.shape, up.shape, p) == tuple(w.shape)


def test_shape_errors() -> None:
    with pytest.raises(UsageError, match="mismatched"):
        ring.shape_of("matmul", (3, 4), (5, 6), {})
    with pytest.raises(UsageError, match="mismatched"):
        ring.shape_of("conv2d", (1, 3, 5, 5), (2, 4, 3, 3), {})
    with pytest.raises(UsageError):
        ring.udiv(torch.tensor([1]), 0)


def test_bit_planes_transpose_and_packing() -> None:
    from unseen.mpc.binary import pack_bits, to_planes, unpack_bits

    for n in (1, 63, 64, 65, 1000):
        x = _rand64(n, seed=n)
        planes = to_planes(x)
        assert planes.shape == (64, -(-n // 64))
        for j in range(64):
            assert torch.equal(unpack_bits(planes[j], n), (x >> j) & 1)
        bits = (x >> 5) & 1
        assert torch.equal(unpack_bits(pack_bits(bits), n), bits)


def test_shapes_of_products_need_no_meta_tensors() -> None:
    # issue 20: the meta-device check imported ~480 modules (sympy, torch._dynamo): ~1 s on the
    # first MPC product of a process
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from unseen.mpc.ring import shape_of\n"
        "before = set(sys.modules)\n"
        "assert shape_of('matmul', (3, 4), (4, 5), {}) == (3, 5)\n"
        "assert shape_of('mul', (3, 1), (4,), {}) == (3, 4)\n"
        "import torch\n"
        "from unseen.mpc import LocalCluster\n"
        "with LocalCluster(['a', 'b'], dealer='c') as c:\n"
        "    x = c.share(torch.ones(2, 3))\n"
        "    assert (x @ c.share(torch.ones(3, 2))).get().shape == (2, 2)\n"
        "    assert (x * x + 1).get().shape == (2, 3)\n"
        "new = set(sys.modules) - before\n"
        "assert not any(m.startswith(('sympy', 'torch._dynamo')) for m in new), len(new)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("a", "b"),
    [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
     ((4,), (5,)), ((2, 3), (4, 5)), ((2, 2, 3), (3, 3, 4)), ((), (3,)), ((3, 1), (1, 3))],
)  # fmt: skip
def test_product_shapes_match_torch(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    from unseen.errors import UsageError
    from unseen.mpc.ring import shape_of

    for op, fn in (("matmul", torch.matmul), ("mul", torch.mul)):
        try:
            expected: object = tuple(fn(torch.zeros(a), torch.zeros(b)).shape)
        except RuntimeError:
            expected = UsageError
        if expected is UsageError:
            with pytest.raises(UsageError, match="mismatched shapes|at least one dimension"):
                shape_of(op, a, b, {})
        else:
            assert shape_of(op, a, b, {}) == expected, (op, a, b)
