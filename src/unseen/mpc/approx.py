"""Approximations of exp, log, reciprocal, sqrt, sigmoid, tanh and softmax on shares.

All are polynomial or Newton iterations built from products and sign tests, so they run as
SPMD party programs with a fixed number of rounds. Accuracy with f = 16, as asserted by
tests/mpc/test_approx.py (``|err| <= rel |f(x)| + abs`` on the rounded input; docs/mpc.md):

==============  ===========================================  ==================  ==============
function        method                                       domain              rel / abs
==============  ===========================================  ==================  ==============
exp             p(x/16)^16, p Taylor of degree 6; x >= -40   x <= 10             1e-3 / 1e-4
reciprocal      Newton, 10 its, y0 = 3 e^(0.5 - |x|) + .003  0.01 <= |x| <= 500  2e-3 / 5e-5
sqrt            x * rsqrt(x), rsqrt by Newton (4 its)        0.1 <= x <= 148     2e-3 / 1e-4
log             Householder order 8, 2 its                   0.01 <= x <= 500    2e-3 / 2e-3
sigmoid         1 / (1 + e^-|x|), mirrored by sign           all x               0 / 2e-4
tanh            2 sigmoid(2x) - 1                            all x               0 / 3e-4
softmax         max-shifted exp / sum                        all logits          0 / 3e-4
log_softmax     shifted logits - log(sum)                    all logits          4e-3 / 1e-3
==============  ===========================================  ==================  ==============
"""

from __future__ import annotations

import torch

from unseen.mpc import arithmetic as arith
from unseen.mpc.binary import bit_mul, msb
from unseen.mpc.context import PartyContext
from unseen.mpc.nonlinear import max_tree, relu

__all__ = [
    "exp",
    "reciprocal",
    "sqrt",
    "inv_sqrt",
    "log",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
]

EXP_HALVINGS = 4


def _const(ctx: PartyContext, x: torch.Tensor, value: float) -> torch.Tensor:
    """``x + value`` for a public float."""
    return arith.add_public(
        ctx, x, ctx.fp.encode(torch.tensor(value, dtype=torch.float64), warn=False).to(x.device)
    )


def _scale(ctx: PartyContext, x: torch.Tensor, value: float) -> torch.Tensor:
    """``x * value`` for a public float."""
    return arith.mul_public(ctx, x, torch.tensor(value, dtype=torch.float64))


EXP_FLOOR = -40.0
EXP_DEGREE = 6


def clamp_low(ctx: PartyContext, x: torch.Tensor, low: float) -> torch.Tensor:
    """``max(x, low)`` for a public ``low``, as ``relu(x - low) + low`` (one sign test)."""
    y, _ = relu(ctx, _const(ctx, x, -low))
    return _const(ctx, y, low)


def exp(ctx: PartyContext, x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """``e^x`` as ``p(x / 16)^16`` with ``p`` the degree-6 Taylor polynomial of exp.

    ``p`` leaves (0, 1) below x = -50, so with ``clamp`` (one sign test) the input is first
    raised to at least -40, where e^x is 0 at 16 fractional bits anyway. Without it the
    caller guarantees x >= -40."""
    if clamp:
        x = clamp_low(ctx, x, EXP_FLOOR)
    t = arith.truncate(ctx, x, 1 << EXP_HALVINGS)
    powers = _powers(ctx, t, EXP_DEGREE)
    raw = torch.zeros_like(t)
    fact = 1.0
    for k in range(2, EXP_DEGREE + 1):
        fact *= k
        raw = raw + powers[k - 1] * int(
            ctx.fp.encode(torch.tensor(1.0 / fact, dtype=torch.float64), warn=False)
        )
    y = _const(ctx, arith.truncate(ctx, raw) + t, 1.0)
    for _ in range(EXP_HALVINGS):
        y = arith.square(ctx, y)
    return y


def reciprocal(
    ctx: PartyContext, x: torch.Tensor, positive: bool = False, iters: int = 10
) -> torch.Tensor:
    """``1 / x`` by Newton's iteration ``y <- y (2 - x y)`` from ``y0 = 3 e^(0.5 - |x|) + 0.003``."""
    s = None
    if not positive:
        s = msb(ctx, x)
        xs, _ = bit_mul(ctx, s, x)
        x = x - 2 * xs
    y = _const(ctx, _scale(ctx, exp(ctx, _const(ctx, -x, 0.5)), 3.0), 0.003)
    for _ in range(iters):
        xy = arith.mul(ctx, x, y)
        y = arith.mul(ctx, y, _const(ctx, -xy, 2.0))
    if s is not None:
        ys, _ = bit_mul(ctx, s, y)
        y = y - 2 * ys
    return y


def inv_sqrt(ctx: PartyContext, x: torch.Tensor, iters: int = 4) -> torch.Tensor:
    """``1 / sqrt(x)`` (x > 0): Newton ``y <- y (3 - x y^2) / 2`` from
    ``y0 = 2.2 e^(-(x/2 + 0.2)) + 0.2 - x / 1024``."""
    half = arith.truncate(ctx, x, 2)
    e = exp(ctx, _const(ctx, -half, -0.2))
    y = _const(ctx, _scale(ctx, e, 2.2) - arith.truncate(ctx, x, 1024), 0.2)
    for _ in range(iters):
        y2 = arith.square(ctx, y)
        xy2 = arith.mul(ctx, half, y2)  # x y^2 / 2
        y = arith.mul(ctx, y, _const(ctx, -xy2, 1.5))
    return y


def sqrt(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    return arith.mul(ctx, x, inv_sqrt(ctx, x))


def log(ctx: PartyContext, x: torch.Tensor, iters: int = 2, order: int = 8) -> torch.Tensor:
    """``ln x`` (x > 0) by Householder iterations ``y <- y - sum_k h^k / k``, ``h = 1 - x e^-y``,
    from ``y0 = x / 120 - 20 e^(-2x - 1) + 3``."""
    e = exp(ctx, _const(ctx, -2 * x, -1.0))
    y = _const(ctx, _scale(ctx, x, 1 / 120) - 20 * e, 3.0)
    for _ in range(iters):
        h = _const(ctx, -arith.mul(ctx, x, exp(ctx, -y, clamp=False)), 1.0)
        powers = _powers(ctx, h, order)
        coef = [
            int(ctx.fp.encode(torch.tensor(1.0 / k, dtype=torch.float64), warn=False))
            for k in range(1, order + 1)
        ]
        raw = sum(p * c for p, c in zip(powers, coef))
        y = y - arith.truncate(ctx, raw)  # type: ignore[arg-type]
    return y


def _powers(ctx: PartyContext, h: torch.Tensor, order: int) -> list[torch.Tensor]:
    """``[h, h^2, ..., h^order]`` in ``ceil(log2 order)`` rounds."""
    pw = [h]
    while len(pw) < order:
        top = pw[-1]
        n = len(pw)
        todo = min(n, order - n)
        pw.extend(arith.mul_batch(ctx, [top] * todo, pw[:todo]))
    return pw


def sigmoid(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    """``1 / (1 + e^-|x|)``, then ``1 - that`` where ``x < 0``. The denominator lies in
    (1, 2], so Newton starts from ``24/17 - 8/17 d`` and needs three iterations."""
    s = msb(ctx, x)
    xs, _ = bit_mul(ctx, s, x)
    neg_abs = 2 * xs - x
    d = _const(ctx, exp(ctx, neg_abs), 1.0)
    r = _const(ctx, _scale(ctx, d, -8 / 17), 24 / 17)
    for _ in range(3):
        dr = arith.mul(ctx, d, r)
        r = arith.mul(ctx, r, _const(ctx, -dr, 2.0))
    flip, _ = bit_mul(ctx, s, _const(ctx, -2 * r, 1.0))
    return r + flip


def tanh(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    return _const(ctx, 2 * sigmoid(ctx, 2 * x), -1.0)


def _shifted_exp(ctx: PartyContext, x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    xt = x.movedim(dim, -1)
    m, _ = max_tree(ctx, xt)
    z = xt - m.unsqueeze(-1)
    return z, exp(ctx, z)


def softmax(ctx: PartyContext, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    _, e = _shifted_exp(ctx, x, dim)
    total = e.sum(dim=-1, keepdim=True)  # in [1, n]
    r = reciprocal(ctx, total, positive=True)
    return arith.mul(ctx, e, r.expand_as(e)).movedim(-1, dim)


def log_softmax(ctx: PartyContext, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    z, e = _shifted_exp(ctx, x, dim)
    total = e.sum(dim=-1, keepdim=True)
    return (z - log(ctx, total)).movedim(-1, dim)
