"""Comparison-based layers on shares: compare, ReLU, max/argmax, max and average pooling.

All run as SPMD party programs. Outputs marked "integer scale" are 0/1 shares without the
fixed-point factor (used as masks); callers multiply by ``2^f`` to make them fixed-point.

* ``compare``: ``x < y`` etc. are exact on the encoded values (one sign test each; ``==``
  tests two signs in the same rounds). 7 rounds for two parties.
* ``relu``: ``x - x * [x < 0]`` with the sign bit multiplied in while it is converted (7).
* ``max_tree``: pairwise tournament along the last dimension, ``ceil(log2 n)`` levels of
  one sign test and one selection each; ties pick the lower index, like torch.
* pooling: windows by ``Tensor.unfold`` (any dtype and device), gradients scattered back by
  strided slice additions.
"""

from __future__ import annotations

import torch

from unseen.mpc import arithmetic as arith
from unseen.mpc.binary import b2a, bit_mul, msb
from unseen.mpc.context import PartyContext

__all__ = [
    "compare",
    "relu",
    "relu_backward",
    "max_tree",
    "one_hot_index",
    "windows",
    "scatter_windows",
    "max_pool2d",
    "avg_pool2d",
    "avg_pool2d_backward",
    "pool_geometry",
]


def compare(ctx: PartyContext, x: torch.Tensor, op: str) -> torch.Tensor:
    """Integer-scale 0/1 shares of ``x <op> 0`` for op in lt, gt, le, ge, eq, ne."""
    if op in ("eq", "ne"):
        both = msb(ctx, torch.stack([x, -x]))  # [x < 0], [x > 0] in the same rounds
        lt_or_gt = b2a(ctx, both)
        nonzero = lt_or_gt[0] + lt_or_gt[1]
        if op == "ne":
            return nonzero
        return arith.add_public(ctx, -nonzero, torch.ones((), dtype=torch.int64, device=x.device))
    if op == "lt":
        return b2a(ctx, msb(ctx, x))
    if op == "gt":
        return b2a(ctx, msb(ctx, -x))
    one = torch.ones((), dtype=torch.int64, device=x.device)
    if op == "ge":  # not x < 0
        return arith.add_public(ctx, -b2a(ctx, msb(ctx, x)), one)
    if op == "le":  # not x > 0
        return arith.add_public(ctx, -b2a(ctx, msb(ctx, -x)), one)
    raise ValueError(f"unknown comparison {op!r}")


def relu(ctx: PartyContext, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(relu(x), s)`` where ``s`` is the XOR-shared sign bit (kept for the backward pass)."""
    s = msb(ctx, x)
    xs, _ = bit_mul(ctx, s, x)
    return x - xs, s


def relu_backward(ctx: PartyContext, grad: torch.Tensor, sign_bit: torch.Tensor) -> torch.Tensor:
    """``grad * [x >= 0]`` from the sign bit saved by :func:`relu` (one round)."""
    gs, _ = bit_mul(ctx, sign_bit, grad)
    return grad - gs


def max_tree(
    ctx: PartyContext, x: torch.Tensor, track: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Maximum over the last dimension of ``x`` (shares); optionally carry ``track``.

    ``track`` has the shape of ``x`` plus one trailing dimension (per-candidate payloads such
    as one-hot vectors or indices, any scale): the payload of the winner comes out with it.
    """
    vals = x
    pay = track
    while vals.shape[-1] > 1:
        n = vals.shape[-1]
        even = n - (n % 2)
        a, b = vals[..., 0:even:2], vals[..., 1:even:2]
        d = a - b
        s = msb(ctx, d)  # 1 where a < b: take b
        if pay is None:
            ds, _ = bit_mul(ctx, s, d)
            best = a - ds
            new_pay = None
        else:
            pa, pb = pay[..., 0:even:2, :], pay[..., 1:even:2, :]
            stacked = torch.cat([d.unsqueeze(-1), pa - pb], dim=-1)
            bits = s.unsqueeze(-1).expand(stacked.shape).contiguous()
            prod, _ = bit_mul(ctx, bits, stacked)
            best = a - prod[..., 0]
            new_pay = pa - prod[..., 1:]
        if n % 2:
            best = torch.cat([best, vals[..., n - 1 :]], dim=-1)
            if new_pay is not None and pay is not None:
                new_pay = torch.cat([new_pay, pay[..., n - 1 :, :]], dim=-2)
        vals, pay = best, new_pay
    return vals[..., 0], (pay[..., 0, :] if pay is not None else None)


def one_hot_index(
    ctx: PartyContext, n: int, shape: tuple[int, ...], device: torch.device
) -> torch.Tensor:
    """Public identity payloads (integer scale) for tracking argmax: shape + (n, n)."""
    eye = torch.eye(n, dtype=torch.int64, device=device)
    eye = eye.expand(*shape, n, n).contiguous()
    return arith.public_share(ctx, eye)


def pool_geometry(
    h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[int, int]:
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    return oh, ow


def windows(
    ctx: PartyContext,
    x: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: int = 0,
) -> torch.Tensor:
    """Sliding windows of an NCHW share: shape (N, C, OH, OW, kh * kw). Padding holds the
    public ``pad_value`` (party 0 pads with it, the others with 0)."""
    if padding[0] or padding[1]:
        fill = pad_value if ctx.is_leader else 0
        x = torch.nn.functional.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=fill)
    u = x.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])
    return u.reshape(*u.shape[:4], kernel[0] * kernel[1])


def scatter_windows(
    per_window: torch.Tensor,
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """Adjoint of :func:`windows`: add each window entry back to its input position."""
    n, c, oh, ow, _ = per_window.shape
    hp, wp = in_hw[0] + 2 * padding[0], in_hw[1] + 2 * padding[1]
    out = torch.zeros((n, c, hp, wp), dtype=per_window.dtype, device=per_window.device)
    pw = per_window.reshape(n, c, oh, ow, kernel[0], kernel[1])
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            out[
                :,
                :,
                i : i + stride[0] * (oh - 1) + 1 : stride[0],
                j : j + stride[1] * (ow - 1) + 1 : stride[1],
            ] += pw[..., i, j]
    return out[:, :, padding[0] : padding[0] + in_hw[0], padding[1] : padding[1] + in_hw[1]]


def max_pool2d(
    ctx: PartyContext,
    x: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    with_mask: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Max pooling; with ``with_mask`` also the integer-scale one-hot argmax per window."""
    low = -(1 << 46)  # below every representable fixed-point value; differences stay in range
    win = windows(ctx, x, kernel, stride, padding, pad_value=low)
    k = win.shape[-1]
    track = one_hot_index(ctx, k, tuple(win.shape[:-1]), x.device) if with_mask else None
    return max_tree(ctx, win, track)


def avg_pool2d(
    ctx: PartyContext,
    x: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """Average pooling (zero padding counted, like torch's default)."""
    win = windows(ctx, x, kernel, stride, padding)
    return arith.truncate(ctx, win.sum(dim=-1), kernel[0] * kernel[1])


def avg_pool2d_backward(
    ctx: PartyContext,
    grad: torch.Tensor,
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    g = arith.truncate(ctx, grad, kernel[0] * kernel[1])
    per = g.unsqueeze(-1).expand(*g.shape, kernel[0] * kernel[1])
    return scatter_windows(per, in_hw, kernel, stride, padding)
