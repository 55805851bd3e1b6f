"""Arithmetic protocols on additive shares (SPMD: every party calls each with its own share).

Shares are int64 tensors whose sum modulo 2^64 is the fixed-point secret. Linear operations
are local; products use Beaver triples from the dealer (one round: both masked operands are
opened in one message); truncation after a product either runs locally (two parties, SecureML)
or with a dealer pair (any number of parties, one round).

Error and failure bounds (f fractional bits; see docs/mpc.md):

* a product is computed exactly in the ring, then divided by 2^f: the result is within one
  unit (2^-f) of the exact product of the two encoded inputs;
* truncation fails (the result is off by about 2^(64-f) units) with probability below
  ``|v| / 2^63`` per element, where ``v`` is the untruncated product in ring units
  (2^-31 for a product of magnitude 1 with f = 16).
"""

from __future__ import annotations

from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc import ring, shapes
from unseen.mpc.context import PartyContext

__all__ = [
    "public_share",
    "add_public",
    "truncate",
    "beaver",
    "square_raw",
    "mul",
    "mul_int",
    "square",
    "matmul",
    "bilinear_fixed",
    "mul_public",
    "mul_batch",
]


def public_share(ctx: PartyContext, value: torch.Tensor) -> torch.Tensor:
    """Shares of a public ring tensor: party 0 holds it, the others hold zeros."""
    return value.clone() if ctx.is_leader else torch.zeros_like(value)


def add_public(ctx: PartyContext, x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``x + value`` for a public ring tensor ``value`` (party 0 adds it)."""
    if ctx.is_leader:
        return x + value
    shape = shapes.broadcast(x.shape, value.shape)
    return x if tuple(shape) == tuple(x.shape) else x.expand(shape).contiguous()


def truncate(
    ctx: PartyContext, x: torch.Tensor, d: int | None = None, *, inplace: bool = False
) -> torch.Tensor:
    """Divide a shared value by the public integer ``d`` (default ``2^f``), rounding down.

    Local (two parties): party 0 floors its share, party 1 takes the ceiling of its share.
    Dealer: open ``z = x + r`` for a dealer pair ``(r, floor(r_u / d))``, then
    ``x / d = floor(z_u / d) - floor(r_u / d)`` (within one unit) when ``x + r`` does not wrap.
    ``inplace`` lets the local protocol overwrite ``x`` (a temporary of the caller).
    """
    if d is None:
        d = ctx.fp.scale
    d = int(d)
    if d == 1:
        return x
    if ctx.trunc == "local":
        if d & (d - 1) == 0:  # shifts: several times faster than floor division
            k = d.bit_length() - 1
            if ctx.is_leader:
                return x.__irshift__(k) if inplace else x >> k
            up = x.add_(d - 1) if inplace else x + (d - 1)  # ceil(x / d) = floor((x + d - 1) / d)
            return up.__irshift__(k)
        if ctx.is_leader:
            return torch.div(x, d, rounding_mode="floor")
        return -torch.div(-x, d, rounding_mode="floor")
    draw = ctx.rand.request("trunc", {"shape": list(x.shape), "d": d})
    (z,), _ = ctx.open("trunc", [x + draw["r"]])
    q = draw["q"]
    return ring.udiv(z, d) - q if ctx.is_leader else -q


def beaver(
    ctx: PartyContext, op: str, x: torch.Tensor, y: torch.Tensor, p: dict[str, Any] | None = None
) -> torch.Tensor:
    """``op(x, y)`` on shares with a Beaver triple, not truncated (scale ``2^(2f)``).

    Opens ``eps = x - a`` and ``delta = y - b`` in one round; then
    ``z = c + eps (x) b + a (x) delta (+ eps (x) delta on party 0)``, computed as
    ``c + eps (x) b + (a + eps) (x) delta`` on party 0 (two bilinear products per party)."""
    p = p or {}
    ring.shape_of(op, tuple(x.shape), tuple(y.shape), p)  # UsageError on mismatched shapes
    draw = ctx.rand.request("beaver", {"op": op, "a": list(x.shape), "b": list(y.shape), "p": p})
    a, b = draw["a"], draw["b"]
    (eps, delta), _ = ctx.open("beaver", [x - a, y - b])
    if ctx.is_leader:
        a = a + eps
    z = draw["c"]  # a fresh tensor of this draw: updated in place
    if op == "mul" and tuple(z.shape) == shapes.broadcast(eps.shape, b.shape):
        return z.addcmul_(eps, b).addcmul_(a, delta)
    lim = ctx.limbs
    return z + ring.bilinear(op, eps, b, p, limbs=lim) + ring.bilinear(op, a, delta, p, limbs=lim)


def square_raw(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    """``x * x`` on shares (one opened value instead of two), not truncated:
    ``z = c + 2 eps a (+ eps^2 on party 0)``."""
    draw = ctx.rand.request("square", {"shape": list(x.shape)})
    a = draw["a"]
    (eps,), _ = ctx.open("square", [x - a])
    if ctx.is_leader:
        a = eps + 2 * a  # 2 eps a + eps^2 = eps (eps + 2a)
        return draw["c"].addcmul_(eps, a)
    return draw["c"].addcmul_(eps, a, value=2)


def mul(ctx: PartyContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fixed-point product of two shared tensors (broadcasting)."""
    return truncate(ctx, beaver(ctx, "mul", x, y), inplace=True)


def mul_int(ctx: PartyContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Product where one factor is integer-valued (scale 1): no truncation."""
    return beaver(ctx, "mul", x, y)


def square(ctx: PartyContext, x: torch.Tensor) -> torch.Tensor:
    return truncate(ctx, square_raw(ctx, x), inplace=True)


def matmul(ctx: PartyContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return truncate(ctx, beaver(ctx, "matmul", x, y), inplace=True)


def bilinear_fixed(
    ctx: PartyContext, op: str, x: torch.Tensor, y: torch.Tensor, p: dict[str, Any]
) -> torch.Tensor:
    return truncate(ctx, beaver(ctx, op, x, y, p))


def mul_public(
    ctx: PartyContext,
    x: torch.Tensor,
    value: torch.Tensor,
    *,
    op: str = "mul",
    p: dict[str, Any] | None = None,
    public_first: bool = False,
) -> torch.Tensor:
    """``op(x, value)`` (or ``op(value, x)``) for a public tensor: exact for integer dtypes,
    truncated once for floating ones (the public value is encoded with ``f`` bits)."""
    p = p or {}
    if value.is_floating_point():
        enc = ctx.fp.encode(value.to(ctx.device), warn=False)
        scaled = True
    elif value.dtype in (
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
    ):
        enc = value.to(torch.int64).to(ctx.device)
        scaled = False
    else:
        raise ProtocolError(f"unsupported public operand dtype {value.dtype}")
    a, b = (enc, x) if public_first else (x, enc)
    out = ring.bilinear(op, a, b, p, limbs=ctx.limbs)
    return truncate(ctx, out) if scaled else out


def mul_batch(
    ctx: PartyContext, xs: list[torch.Tensor], ys: list[torch.Tensor]
) -> list[torch.Tensor]:
    """Several independent fixed-point products in one round (one flat Beaver triple)."""
    pairs = [torch.broadcast_tensors(x, y) for x, y in zip(xs, ys)]
    flat_x = torch.cat([x.reshape(-1) for x, _ in pairs])
    flat_y = torch.cat([y.reshape(-1) for _, y in pairs])
    z = truncate(ctx, beaver(ctx, "mul", flat_x, flat_y))
    out, pos = [], 0
    for x, _ in pairs:
        n = x.numel()
        out.append(z[pos : pos + n].view(x.shape))
        pos += n
    return out
