"""The party-side op table: command name -> SPMD program on this party's shares.

Every entry takes ``(ctx, inputs, args)`` where ``inputs`` are this party's share tensors
(looked up by id in its store) and ``args`` is public metadata (numbers, shapes, and public
tensors sent with the command), and returns the output shares. The orchestrator names an op
and ids; it never sends or sees shares of other parties. Adding an op here and a method on
:class:`unseen.mpc.tensor.MPCTensor` is all it takes to extend the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc import approx, nonlinear
from unseen.mpc import arithmetic as arith
from unseen.mpc.binary import b2a, bit_mul, msb
from unseen.mpc.context import PartyContext

__all__ = ["OPS", "VIEW_METHODS", "build_index"]

OpFn = Callable[[PartyContext, list[torch.Tensor], dict[str, Any]], list[torch.Tensor]]
OPS: dict[str, OpFn] = {}

# Linear, data-independent tensor methods that act on shares exactly as on values.
VIEW_METHODS = frozenset(
    {"reshape", "permute", "transpose", "unsqueeze", "squeeze", "flatten", "expand",
     "movedim", "t", "narrow", "repeat", "flip", "roll", "diagonal", "tril", "triu"}
)  # fmt: skip


def op(name: str) -> Callable[[OpFn], OpFn]:
    def register(fn: OpFn) -> OpFn:
        OPS[name] = fn
        return fn

    return register


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def _to_fixed(ctx: PartyContext, bits: torch.Tensor) -> torch.Tensor:
    """Integer-scale shares -> fixed-point shares (exact: multiply by 2^f)."""
    return bits * ctx.fp.scale


def build_index(spec: list[Any]) -> tuple[Any, ...]:
    """A tensor index from its public JSON form: ints, None, "...", {"s": [a, b, c]}, tensors."""
    out: list[Any] = []
    for item in spec:
        if item is None or isinstance(item, (int, torch.Tensor)):
            out.append(item)
        elif item == "...":
            out.append(Ellipsis)
        elif isinstance(item, dict) and "s" in item:
            out.append(slice(*item["s"]))
        else:
            raise ProtocolError(f"unsupported index item {item!r}")
    return tuple(out)


# -- linear, local -------------------------------------------------------------------------
@op("add")
def _add(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [ins[0] + ins[1]]


@op("sub")
def _sub(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [ins[0] - ins[1]]


@op("neg")
def _neg(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [-ins[0]]


@op("add_public")
def _add_public(
    ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]
) -> list[torch.Tensor]:
    value = a["value"]
    enc = ctx.fp.encode(value.to(ctx.device), warn=False)
    x = -ins[0] if a.get("reverse") else ins[0]  # reverse: value - x
    return [arith.add_public(ctx, x, enc)]


@op("mul_public")
def _mul_public(
    ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]
) -> list[torch.Tensor]:
    return [
        arith.mul_public(
            ctx, ins[0], a["value"], op=a.get("op", "mul"), p=a.get("p") or {},
            public_first=bool(a.get("public_first")),
        )
    ]  # fmt: skip


@op("div_int")
def _div_int(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [arith.truncate(ctx, ins[0], int(a["d"]))]


@op("sum")
def _sum(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    dim = a.get("dim")
    if dim is None:
        return [ins[0].sum()]
    return [ins[0].sum(dim=tuple(dim), keepdim=bool(a.get("keepdim")))]


@op("sum_to")
def _sum_to(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """Sum a broadcast gradient back to ``shape``."""
    x, shape = ins[0], tuple(a["shape"])
    lead = x.dim() - len(shape)
    if lead:
        x = x.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    if dims:
        x = x.sum(dim=dims, keepdim=True)
    return [x.reshape(shape)]


@op("view")
def _view(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    name = a["fn"]
    if name not in VIEW_METHODS:
        raise ProtocolError(f"{name!r} is not an allowed view method")
    out = getattr(ins[0], name)(*a.get("args", []), **a.get("kw", {}))
    return [out.contiguous()]


@op("getitem")
def _getitem(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [ins[0][build_index(a["index"])].contiguous()]


@op("pad_index")
def _pad_index(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """Adjoint of basic indexing: a zero tensor of the input shape with the slice filled in."""
    g = ins[0]
    out = torch.zeros(tuple(a["shape"]), dtype=g.dtype, device=g.device)
    out[build_index(a["index"])] = g
    return [out]


@op("cat")
def _cat(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    if a.get("stack"):
        return [torch.stack(ins, dim=int(a.get("dim", 0)))]
    return [torch.cat(ins, dim=int(a.get("dim", 0)))]


@op("pad")
def _pad(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [torch.nn.functional.pad(ins[0], tuple(a["pad"]))]


# -- products ------------------------------------------------------------------------------
@op("mul")
def _mul(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [arith.mul(ctx, ins[0], ins[1])]


@op("mul_int")
def _mul_int(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """Product with integer-scale shares (0/1 masks): no truncation."""
    x, m = torch.broadcast_tensors(ins[0], ins[1])
    return [arith.mul_int(ctx, x.contiguous(), m.contiguous())]


@op("square")
def _square(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [arith.square(ctx, ins[0])]


@op("matmul")
def _matmul(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [arith.matmul(ctx, ins[0], ins[1])]


@op("bilinear")
def _bilinear(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [arith.bilinear_fixed(ctx, a["op"], ins[0], ins[1], a.get("p") or {})]


# -- comparisons and nonlinear layers -------------------------------------------------------
@op("compare")
def _compare(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    return [_to_fixed(ctx, nonlinear.compare(ctx, ins[0], a["cmp"]))]


@op("sign_bit")
def _sign_bit(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """XOR-shared sign bits (for masks kept by the orchestrator)."""
    return [msb(ctx, ins[0])]


@op("relu")
def _relu(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    y, s = nonlinear.relu(ctx, ins[0])
    return [y, s] if a.get("keep_mask") else [y]


@op("relu_backward")
def _relu_backward(
    ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]
) -> list[torch.Tensor]:
    return [nonlinear.relu_backward(ctx, ins[0], ins[1])]


@op("abs")
def _abs(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    x = ins[0]
    xs, _ = bit_mul(ctx, msb(ctx, x), x)
    return [x - 2 * xs]


@op("max")
def _max(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """Max over ``dim`` (or all); with ``index`` also the argmax, as a fixed-point index or a
    fixed-point one-hot vector (``one_hot``)."""
    x = ins[0]
    dim = a.get("dim")
    keep = bool(a.get("keepdim"))
    if dim is None:
        x, dim, keep = x.reshape(-1), 0, False
    dim = int(dim) % x.dim()
    xt = x.movedim(dim, -1)
    n = xt.shape[-1]
    track = None
    if a.get("index"):
        idx = torch.arange(n, dtype=torch.int64, device=xt.device).reshape(n, 1)
        track = arith.public_share(ctx, idx.expand(*xt.shape, 1).contiguous())
    vals, pay = max_or_raise(ctx, xt, track)
    outs = [vals.unsqueeze(dim) if keep else vals]
    if pay is not None:
        index = pay[..., 0]  # integer scale
        if a.get("one_hot"):
            # [i == j] = [i - j - 1 < 0] - [i - j < 0] for j = 0 .. n-1, all in one sign test.
            js = torch.arange(n + 1, dtype=torch.int64, device=xt.device)
            diffs = arith.add_public(ctx, index.unsqueeze(-1).expand(*index.shape, n + 1), -js)
            below = b2a(ctx, msb(ctx, diffs.contiguous()))
            hot = below[..., 1:] - below[..., :-1]
            outs.append(_to_fixed(ctx, hot.movedim(-1, dim)))
        else:
            outs.append(_to_fixed(ctx, index.unsqueeze(dim) if keep else index))
    return outs


def max_or_raise(
    ctx: PartyContext, xt: torch.Tensor, track: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if xt.shape[-1] == 0:
        raise ProtocolError("max of an empty dimension")
    return nonlinear.max_tree(ctx, xt, track)


@op("maxpool2d")
def _maxpool2d(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    k, s, p = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    y, mask = nonlinear.max_pool2d(ctx, ins[0], k, s, p, with_mask=bool(a.get("keep_mask")))
    return [y] if mask is None else [y, mask]


@op("maxpool2d_backward")
def _maxpool2d_backward(
    ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]
) -> list[torch.Tensor]:
    g, mask = ins
    k, s, p = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    per = arith.mul_int(ctx, g.unsqueeze(-1).expand(mask.shape).contiguous(), mask)
    return [nonlinear.scatter_windows(per, tuple(a["in_hw"]), k, s, p)]  # type: ignore[arg-type]


@op("avgpool2d")
def _avgpool2d(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    k, s, p = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    return [nonlinear.avg_pool2d(ctx, ins[0], k, s, p)]


@op("avgpool2d_backward")
def _avgpool2d_backward(
    ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]
) -> list[torch.Tensor]:
    k, s, p = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    return [nonlinear.avg_pool2d_backward(ctx, ins[0], _pair(a["in_hw"]), k, s, p)]


# -- approximations ------------------------------------------------------------------------
def _unary(name: str, fn: Callable[..., torch.Tensor]) -> None:
    def run(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
        return [fn(ctx, ins[0], **a)]

    OPS[name] = run


_unary("exp", approx.exp)
_unary("log", approx.log)
_unary("reciprocal", approx.reciprocal)
_unary("sqrt", approx.sqrt)
_unary("inv_sqrt", approx.inv_sqrt)
_unary("sigmoid", approx.sigmoid)
_unary("tanh", approx.tanh)
_unary("softmax", approx.softmax)
_unary("log_softmax", approx.log_softmax)


@op("div")
def _div(ctx: PartyContext, ins: list[torch.Tensor], a: dict[str, Any]) -> list[torch.Tensor]:
    """``x / y`` for shared ``y`` (reciprocal domain applies to ``y``)."""
    x, y = ins
    return [arith.mul(ctx, x, approx.reciprocal(ctx, y, positive=bool(a.get("positive"))))]
