"""Exact arithmetic in Z_2^64 on torch int64 tensors.

Additions and products of int64 tensors wrap modulo 2^64, which is exactly the ring. This
module adds what torch lacks:

* :func:`bilinear`: the bilinear maps the protocols use (elementwise product, matmul, conv2d
  and the two conv2d gradients), exact modulo 2^64 on every device. On CPU torch has int64
  kernels for all of them. On CUDA (no int64 GEMM/conv), both operands are split into signed
  limbs of ``w`` bits and every limb product runs as a float64 GEMM/conv whose sums stay below
  2^53, hence exact; the limb results are shifted and added back in int64.
* :func:`udiv`: floor division of ring elements read as unsigned 64-bit integers.
* :func:`shape_of`: the output shape of a bilinear map, from meta tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from unseen.errors import UsageError
from unseen.mpc import shapes

__all__ = ["bilinear", "udiv", "lshr", "shape_of", "BILINEAR_OPS", "fan_in"]


def lshr(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 words (zeros come in at the top)."""
    if k == 0:
        return x
    return (x >> k) & ((1 << (64 - k)) - 1)


def udiv(x: torch.Tensor, d: int) -> torch.Tensor:
    """``floor(x_u / d)`` where ``x_u`` reads ``x`` as an unsigned 64-bit integer."""
    if d <= 0 or d >= 2**31:
        raise UsageError(f"public divisor must be in [1, 2^31), got {d}")
    if d & (d - 1) == 0:
        return lshr(x, d.bit_length() - 1)
    hi = lshr(x, 32)
    lo = x & 0xFFFFFFFF
    q1 = torch.div(hi, d, rounding_mode="floor")
    r1 = hi - q1 * d
    q2 = torch.div((r1 << 32) | lo, d, rounding_mode="floor")
    return (q1 << 32) + q2


def _conv2d(a: torch.Tensor, b: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    return F.conv2d(
        a, b, stride=p.get("stride", 1), padding=p.get("padding", 0),
        dilation=p.get("dilation", 1), groups=p.get("groups", 1),
    )  # fmt: skip


def _conv2d_input_grad(g: torch.Tensor, w: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    """d(conv2d(x, w)) / dx applied to the output gradient ``g`` (a conv_transpose2d)."""
    stride, padding, dilation = (
        _pair(p.get("stride", 1)),
        _pair(p.get("padding", 0)),
        _pair(p.get("dilation", 1)),
    )
    in_hw = p["input_hw"]
    k = w.shape[-2:]
    out_pad = []
    for i in range(2):
        full = (g.shape[-2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k[i] - 1) + 1
        out_pad.append(in_hw[i] - full)
    return F.conv_transpose2d(
        g, w, stride=stride, padding=padding, output_padding=tuple(out_pad),
        groups=p.get("groups", 1), dilation=dilation,
    )  # fmt: skip


def _conv2d_weight_grad(x: torch.Tensor, g: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    """d(conv2d(x, w)) / dw applied to the output gradient ``g`` (groups == 1)."""
    if p.get("groups", 1) != 1:
        raise UsageError("conv2d weight gradients support groups=1 only")
    stride, padding, dilation = (
        _pair(p.get("stride", 1)),
        _pair(p.get("padding", 0)),
        _pair(p.get("dilation", 1)),
    )
    kh, kw = p["kernel_hw"]
    # grad_w[o, c, i, j] = sum_{b,h,w} g[b, o, h, w] * x_pad[b, c, h*s + i*d, w*s + j*d]:
    # a convolution of x (batch as channels) with g (batch as channels), dilated by stride.
    out = F.conv2d(
        x.transpose(0, 1), g.transpose(0, 1), stride=dilation, padding=padding, dilation=stride,
    )  # fmt: skip
    return out[:, :, :kh, :kw].transpose(0, 1).contiguous()


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


BILINEAR_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor, dict[str, Any]], torch.Tensor]] = {
    "mul": lambda a, b, p: a * b,
    "matmul": lambda a, b, p: torch.matmul(a, b),
    "conv2d": _conv2d,
    "conv2d_input_grad": _conv2d_input_grad,
    "conv2d_weight_grad": _conv2d_weight_grad,
}


def fan_in(op: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], p: dict[str, Any]) -> int:
    """An upper bound on the number of products summed into one output element."""
    if op == "mul":
        return 1
    if op == "matmul":
        return int(a_shape[-1])
    if op == "conv2d":
        return int(b_shape[1] * b_shape[2] * b_shape[3])
    if op == "conv2d_input_grad":
        return int(b_shape[0] * b_shape[2] * b_shape[3])
    if op == "conv2d_weight_grad":
        return int(a_shape[0] * b_shape[2] * b_shape[3])
    raise UsageError(f"unknown bilinear op {op!r}")


def conv2d_shape(x: Sequence[int], w: Sequence[int], p: dict[str, Any]) -> tuple[int, ...]:
    """Output shape of conv2d(x, w) (NCHW, OIHW), by formula; UsageError if they do not fit."""
    if len(x) != 4 or len(w) != 4:
        raise UsageError(f"conv2d needs 4-d input and weight, got {tuple(x)} and {tuple(w)}")
    groups = int(p.get("groups", 1))
    stride, padding, dilation = (
        _pair(p.get("stride", 1)),
        _pair(p.get("padding", 0)),
        _pair(p.get("dilation", 1)),
    )
    if x[1] != w[1] * groups or w[0] % groups:
        raise UsageError(
            f"mismatched shapes for conv2d: input {tuple(x)}, weight {tuple(w)}, groups {groups}"
        )
    out = []
    for i in range(2):
        size = (x[2 + i] + 2 * padding[i] - dilation[i] * (w[2 + i] - 1) - 1) // stride[i] + 1
        if size < 1:
            raise UsageError(
                f"conv2d kernel {tuple(w[2:])} larger than the padded input {tuple(x[2:])}"
            )
        out.append(size)
    return (int(x[0]), int(w[0]), out[0], out[1])


def shape_of(op: str, a_shape: Any, b_shape: Any, p: dict[str, Any]) -> tuple[int, ...]:
    """The output shape of ``bilinear(op, a, b, p)``; UsageError when shapes do not fit."""
    fn = BILINEAR_OPS.get(op)
    if fn is None:
        raise UsageError(f"unknown bilinear op {op!r}")
    if op == "mul":  # by rule: a meta tensor's first product imports ~480 modules (sympy)
        return shapes.broadcast(a_shape, b_shape, "mul")
    if op == "matmul":
        return shapes.matmul(a_shape, b_shape)
    if op == "conv2d":
        return conv2d_shape(a_shape, b_shape, p)
    if op == "conv2d_input_grad":
        groups = int(p.get("groups", 1))
        return (
            int(a_shape[0]),
            int(b_shape[1]) * groups,
            int(p["input_hw"][0]),
            int(p["input_hw"][1]),
        )
    if op == "conv2d_weight_grad":
        kh, kw = p["kernel_hw"]
        return (int(b_shape[1]), int(a_shape[1]) // int(p.get("groups", 1)), int(kh), int(kw))
    a = torch.empty(tuple(a_shape), device="meta", dtype=torch.float32)
    b = torch.empty(tuple(b_shape), device="meta", dtype=torch.float32)
    try:
        return tuple(fn(a, b, p).shape)
    except (RuntimeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"mismatched shapes for {op}: {tuple(a_shape)} and {tuple(b_shape)} ({exc})"
        ) from None


def bilinear(
    op: str, a: torch.Tensor, b: torch.Tensor, p: dict[str, Any], *, limbs: bool | None = None
) -> torch.Tensor:
    """``op(a, b)`` exactly modulo 2^64. ``limbs`` forces (or forbids) the float64 limb path."""
    fn = BILINEAR_OPS[op]
    use_limbs = a.device.type != "cpu" if limbs is None else limbs
    if op == "mul" or not use_limbs:
        return fn(a, b, p)
    return _limb_bilinear(fn, a, b, p, fan_in(op, tuple(a.shape), tuple(b.shape), p))


def _split_limbs(x: torch.Tensor, w: int, n: int) -> list[torch.Tensor]:
    """Signed balanced limbs: ``x = sum_i limb_i * 2^(w*i)`` mod 2^64, ``|limb_i| <= 2^(w-1)``.

    The top limb holds the remaining high bits (signed, at most ``64 - w*(n-1)`` bits)."""
    out = []
    rest = x
    half, full, mask = 1 << (w - 1), 1 << w, (1 << w) - 1
    for _ in range(n - 1):
        d = rest & mask
        d = torch.where(d >= half, d - full, d)
        out.append(d.to(torch.float64))
        rest = (rest - d) >> w
    out.append(rest.to(torch.float64))
    return out


def _limb_bilinear(
    fn: Callable[[torch.Tensor, torch.Tensor, dict[str, Any]], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    p: dict[str, Any],
    k: int,
) -> torch.Tensor:
    # Each float64 output sums k products of two limbs bounded by 2^(w-1) (top limbs by
    # 2^(top-1)); all must stay below 2^53 to be exact.
    log_k = math.log2(max(k, 1))
    for n in range(2, 9):
        w = -(-64 // n)
        top = 64 - w * (n - 1)
        worst = max(2 * (w - 1), (w - 1) + top)
        if worst + log_k < 52.5:
            break
    else:  # pragma: no cover - fan-in beyond 2^30
        raise UsageError(f"fan-in {k} too large for exact float64 limb products")
    la, lb = _split_limbs(a, w, n), _split_limbs(b, w, n)
    acc: torch.Tensor | None = None
    for i in range(n):
        for j in range(n):
            shift = w * (i + j)
            if shift >= 64:
                continue
            part = fn(la[i], lb[j], p).round().to(torch.int64) << shift
            acc = part if acc is None else acc + part
    assert acc is not None
    return acc
