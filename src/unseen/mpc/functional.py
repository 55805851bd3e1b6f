"""torch.nn.functional-style operations on MPCTensors, with gradients.

``linear``, ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``relu``, ``mse_loss`` and
``cross_entropy``. Convolutions and matrix products use Beaver triples of the matching
bilinear map (the dealer computes ``conv2d(a, b)`` for the mask tensors), so one round each.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from unseen.errors import UsageError
from unseen.mpc import shapes
from unseen.mpc.ring import conv2d_shape
from unseen.mpc.tensor import MPCTensor, run_op

__all__ = [
    "linear",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "relu",
    "mse_loss",
    "cross_entropy",
    "flatten",
]


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def relu(x: MPCTensor) -> MPCTensor:
    return x.relu()


def flatten(x: MPCTensor, start_dim: int = 0, end_dim: int = -1) -> MPCTensor:
    return x.flatten(start_dim, end_dim)


def linear(
    x: MPCTensor, weight: MPCTensor | torch.Tensor, bias: MPCTensor | torch.Tensor | None = None
) -> MPCTensor:
    """``x @ weight.T + bias`` (weight shaped (out, in), like torch)."""
    y = x @ weight.t()
    return y + bias if bias is not None else y


def conv2d(
    x: MPCTensor,
    weight: MPCTensor,
    bias: MPCTensor | torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> MPCTensor:
    """2-D convolution of shared input and shared weights (NCHW)."""
    if not isinstance(weight, MPCTensor):
        raise UsageError("conv2d needs shared weights; share the model with share_module()")
    if isinstance(padding, str):
        raise UsageError("conv2d padding must be numbers, not a string")
    p = {
        "stride": list(_pair(stride)),
        "padding": list(_pair(padding)),
        "dilation": list(_pair(dilation)),
        "groups": int(groups),
    }
    shape = conv2d_shape(tuple(x.shape), tuple(weight.shape), p)
    in_hw = list(x.shape[-2:])
    k_hw = list(weight.shape[-2:])

    def back(g: MPCTensor, out: MPCTensor) -> tuple[MPCTensor, MPCTensor]:
        gx = run_op(
            x.cluster,
            "bilinear",
            [g, weight],
            [x.shape],
            {"op": "conv2d_input_grad", "p": {**p, "input_hw": in_hw}},
            dtype=x.dtype,
        )[0]
        gw = run_op(
            x.cluster,
            "bilinear",
            [x, g],
            [weight.shape],
            {"op": "conv2d_weight_grad", "p": {**p, "kernel_hw": k_hw}},
            dtype=x.dtype,
        )[0]
        return gx, gw

    def unsupported(g: MPCTensor, out: MPCTensor) -> tuple[MPCTensor, MPCTensor]:
        raise UsageError("conv2d gradients with groups > 1 are not supported")

    y = run_op(x.cluster, "bilinear", [x, weight], [shape], {"op": "conv2d", "p": p}, dtype=x.dtype,
               grad=("conv2d", back if groups == 1 else unsupported))[0]  # fmt: skip
    if bias is not None:
        y = y + (
            bias.reshape(1, -1, 1, 1) if isinstance(bias, MPCTensor) else bias.reshape(1, -1, 1, 1)
        )
    return y


def _pool_args(kernel_size: Any, stride: Any, padding: Any) -> dict[str, list[int]]:
    k = _pair(kernel_size)
    s = _pair(stride) if stride is not None else k
    return {"kernel": list(k), "stride": list(s), "padding": list(_pair(padding))}


def max_pool2d(
    x: MPCTensor, kernel_size: Any, stride: Any = None, padding: Any = 0, **kw: Any
) -> MPCTensor:
    if kw.get("dilation", 1) not in (1, (1, 1)) or kw.get("ceil_mode") or kw.get("return_indices"):
        raise UsageError("max_pool2d supports kernel_size, stride and padding only")
    a = _pool_args(kernel_size, stride, padding)
    shape = shapes.pool2d(x.shape, a["kernel"], a["stride"], a["padding"])
    from unseen.mpc import autograd

    keep = autograd.is_grad_enabled() and x.requires_grad
    k = a["kernel"][0] * a["kernel"][1]
    out_shapes = [shape, (*shape, k)] if keep else [shape]
    in_hw = list(x.shape[-2:])

    def back(g: MPCTensor, out: MPCTensor, mask: MPCTensor) -> tuple[MPCTensor]:
        return (
            run_op(
                x.cluster,
                "maxpool2d_backward",
                [g, mask],
                [x.shape],
                {**a, "in_hw": in_hw},
                dtype=x.dtype,
            )[0],
        )

    return run_op(
        x.cluster,
        "maxpool2d",
        [x],
        out_shapes,
        {**a, "keep_mask": keep},
        dtype=x.dtype,
        grad=("max_pool2d", back),
    )[0]


def avg_pool2d(
    x: MPCTensor, kernel_size: Any, stride: Any = None, padding: Any = 0, **kw: Any
) -> MPCTensor:
    if (
        kw.get("ceil_mode")
        or kw.get("divisor_override")
        or kw.get("count_include_pad", True) is False
    ):
        raise UsageError(
            "avg_pool2d supports kernel_size, stride and padding (count_include_pad) only"
        )
    a = _pool_args(kernel_size, stride, padding)
    shape = shapes.pool2d(x.shape, a["kernel"], a["stride"], a["padding"])
    in_hw = list(x.shape[-2:])

    def back(g: MPCTensor, out: MPCTensor) -> tuple[MPCTensor]:
        return (
            run_op(
                x.cluster,
                "avgpool2d_backward",
                [g],
                [x.shape],
                {**a, "in_hw": in_hw},
                dtype=x.dtype,
            )[0],
        )

    return run_op(
        x.cluster, "avgpool2d", [x], [shape], a, dtype=x.dtype, grad=("avg_pool2d", back)
    )[0]


def mse_loss(pred: MPCTensor, target: Any, reduction: str = "mean") -> MPCTensor:
    diff = pred - target
    sq = diff.square()
    if reduction == "mean":
        return sq.mean()
    if reduction == "sum":
        return sq.sum()
    if reduction == "none":
        return sq
    raise UsageError(f"unknown reduction {reduction!r}")


def cross_entropy(logits: MPCTensor, target: Any) -> MPCTensor:
    """Mean cross-entropy of (N, C) logits against class indices (a public tensor) or a
    shared one-hot / probability tensor. The gradient is ``(softmax(logits) - target) / N``;
    the loss value itself (which needs a log) is only computed if it is used or revealed."""
    if logits.dim() != 2:
        raise UsageError("cross_entropy expects (N, C) logits")
    n, c = logits.shape
    if isinstance(target, MPCTensor):
        if tuple(target.shape) != (n, c):
            raise UsageError(
                f"a shared target must be one-hot (N, C) = {(n, c)}, got {tuple(target.shape)}"
            )
        tgt: MPCTensor | torch.Tensor = target
    else:
        labels = torch.as_tensor(target)
        if labels.shape != (n,) or labels.is_floating_point():
            raise UsageError("public cross_entropy targets must be N class indices")
        tgt = F.one_hot(labels.long(), c).to(torch.float64)
    from unseen.mpc import autograd

    with autograd.no_grad(), autograd.training_forward(logits.requires_grad):
        probs = logits.softmax(dim=1) if logits.requires_grad else None

    def value() -> MPCTensor:
        with autograd.no_grad():
            picked = logits.log_softmax(dim=1) * tgt
            return -(picked.sum() / n)

    loss = MPCTensor.lazy(logits.cluster, value, (), logits.dtype)
    if probs is not None and autograd.is_grad_enabled():

        def back(g: MPCTensor) -> tuple[MPCTensor]:
            d = (probs - tgt) / n
            if g.public_value is not None and bool((g.public_value == 1).all()):
                return (d,)
            return (d * g,)

        loss.requires_grad = True
        loss.grad_fn = autograd.Node("cross_entropy", [logits], back)
    return loss
