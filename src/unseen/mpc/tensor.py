"""MPCTensor: the orchestrator's handle on a secret-shared tensor.

It holds a share id, the public shape and the dtype to decode into; every operation sends
one command to all parties and returns a new handle at once (the parties catch up in the
background). Only :meth:`MPCTensor.get` reconstructs a value. Shapes are checked here, on
meta tensors, before anything is sent, so a mismatch is a :class:`~unseen.errors.UsageError`
with the cluster still usable.

Operands may be MPCTensors, torch tensors, numpy arrays or Python numbers. Public integer
operands multiply exactly (no truncation); public floats are encoded with f fractional bits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from unseen.errors import UsageError
from unseen.mpc import autograd, shapes
from unseen.mpc.autograd import Node
from unseen.mpc.dispatch import (
    index_spec,
    matmul_grads,
    matmul_grads_public,
    meta_index,
    public_operand,
    rmatmul_public,
    run_op,
)

if TYPE_CHECKING:
    from unseen.mpc.cluster import Cluster

__all__ = ["MPCTensor", "infer_shape", "run_op"]


infer_shape = shapes.via_meta
_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)


class MPCTensor:
    """A secret-shared tensor of a :class:`~unseen.mpc.cluster.Cluster`."""

    __array_priority__ = 1000  # numpy operands defer to our reflected operators
    __hash__ = object.__hash__

    def __init__(
        self,
        cluster: Cluster,
        sid: str,
        shape: Sequence[int],
        dtype: torch.dtype = torch.float32,
        *,
        requires_grad: bool = False,
    ) -> None:
        self.cluster = cluster
        self._sid = sid
        self._owned = True
        self._thunk: Callable[[], MPCTensor] | None = None
        self.shape = torch.Size(shape)
        self.dtype = dtype
        self.requires_grad = requires_grad
        self.grad: MPCTensor | None = None
        self.grad_fn: Node | None = None
        self.public_value: torch.Tensor | None = None  # set when the value is public

    @classmethod
    def lazy(
        cls,
        cluster: Cluster,
        thunk: Callable[[], MPCTensor],
        shape: Sequence[int],
        dtype: torch.dtype,
    ) -> MPCTensor:
        """A tensor computed by ``thunk`` only when first used or revealed."""
        t = cls(cluster, "", shape, dtype)
        t._thunk = thunk
        return t

    # -- identity -----------------------------------------------------------------------
    @property
    def sid(self) -> str:
        if self._thunk is not None:
            thunk, self._thunk = self._thunk, None
            value = thunk()
            self._sid, value._owned = value._sid, False
        return self._sid

    def _assign(self, other: MPCTensor) -> None:
        """Take over ``other``'s shares (in-place update of a parameter)."""
        self._sid, other._sid = other.sid, self._sid
        self.public_value = None

    def __del__(self) -> None:
        try:
            if self._owned and self._sid and self._thunk is None:
                self.cluster.release_later(self._sid)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self) -> str:
        c = self.cluster
        custom = getattr(c, "tensor_repr", None)  # a node cluster names its share pointers
        if custom is not None:
            return str(custom(self))
        holders = ", ".join(c.comm.name(r) for r in c.parties)
        return (
            f"MPCTensor(shape={tuple(self.shape)}, dtype={self.dtype}, id={self._sid!r}, "
            f"shares held by [{holders}], crypto provider: {c.comm.name(c.n_parties)}"
            + (", requires_grad=True" if self.requires_grad else "")
            + ")"
        )

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def size(self, d: int | None = None) -> Any:
        return self.shape if d is None else self.shape[d]

    def numel(self) -> int:
        return int(self.shape.numel())

    def __bool__(self) -> bool:
        raise UsageError(
            "the truth value of a secret-shared tensor is secret: reveal it with .get() "
            "(every party must agree), or keep computing with it"
        )

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return int(self.shape[0])

    # -- reveal / autograd --------------------------------------------------------------
    def get(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Reconstruct the value (every party must release its share)."""
        return self.cluster.reveal(self, dtype)

    reveal = get

    def request(self, name: str = "", reason: str = "") -> Any:
        """Ask the owners of the private data this value derives from to release it.

        Only for tensors shared on nodes (``unseen.share``): each source node gets a
        request its owner accepts or denies; ``.get()`` works once every one accepted."""
        ask = getattr(self.cluster, "request_release", None)
        if ask is None:
            raise UsageError(
                "this tensor's parties are not nodes: there is no owner to ask; the parties' "
                "release policies decide"
            )
        return ask(self, name=name, reason=reason)

    def backward(self, grad: MPCTensor | None = None) -> None:
        autograd.backward(self, grad)

    def detach(self) -> MPCTensor:
        out = MPCTensor(self.cluster, self.cluster.new_id(), self.shape, self.dtype)
        self.cluster.command(
            "view", [self.sid], [out.sid], {"fn": "reshape", "args": [list(self.shape)]}
        )
        return out

    def requires_grad_(self, flag: bool = True) -> MPCTensor:
        self.requires_grad = flag
        return self

    # -- helpers ------------------------------------------------------------------------
    def _op(self, op: str, ins: Sequence[MPCTensor], shape: Sequence[int], args: dict[str, Any] | None = None,
            tensors: Sequence[torch.Tensor] = (), grad: Any = None, grad_inputs: Any = None) -> MPCTensor:  # fmt: skip
        return run_op(
            self.cluster,
            op,
            ins,
            [shape],
            args,
            tensors,
            dtype=self.dtype,
            grad=grad,
            grad_inputs=grad_inputs,
        )[0]

    def _public(self, other: Any) -> torch.Tensor:
        """A public operand, range-checked here (a bad value must not fail the parties)."""
        v = public_operand(other)
        if v.is_complex() or not (v.is_floating_point() or v.dtype in _INT_DTYPES):
            raise UsageError(f"cannot combine an MPCTensor with a {v.dtype} tensor")
        self.cluster.fp.encode(v, warn=False)
        return v

    def sum_to(self, shape: Sequence[int]) -> MPCTensor:
        """Sum broadcast dimensions away (the adjoint of broadcasting to ``self.shape``)."""
        shape = tuple(shape)
        if tuple(self.shape) == shape:
            return self
        return self._op("sum_to", [self], shape, {"shape": list(shape)})

    # -- linear ops ---------------------------------------------------------------------
    def __add__(self, other: Any) -> MPCTensor:
        if isinstance(other, MPCTensor):
            shape = shapes.broadcast(self.shape, other.shape, "+")
            xs, ys = self.shape, other.shape
            return self._op("add", [self, other], shape,
                            grad=("add", lambda g, out: (g.sum_to(xs), g.sum_to(ys))))  # fmt: skip
        v = self._public(other)
        shape = shapes.broadcast(self.shape, v.shape, "+")
        xs = self.shape
        return self._op("add_public", [self], shape, {"value": {"$t": 0}}, [v],
                        grad=("add", lambda g, out: (g.sum_to(xs),)))  # fmt: skip

    __radd__ = __add__

    def __neg__(self) -> MPCTensor:
        return self._op("neg", [self], self.shape, grad=("neg", lambda g, out: (-g,)))

    def __sub__(self, other: Any) -> MPCTensor:
        if isinstance(other, MPCTensor):
            shape = shapes.broadcast(self.shape, other.shape, "-")
            xs, ys = self.shape, other.shape
            return self._op("sub", [self, other], shape,
                            grad=("sub", lambda g, out: (g.sum_to(xs), (-g).sum_to(ys))))  # fmt: skip
        return self.__add__(-public_operand(other))

    def __rsub__(self, other: Any) -> MPCTensor:
        v = self._public(other)
        shape = shapes.broadcast(v.shape, self.shape, "-")
        xs = self.shape
        return self._op("add_public", [self], shape, {"value": {"$t": 0}, "reverse": True}, [v],
                        grad=("rsub", lambda g, out: ((-g).sum_to(xs),)))  # fmt: skip

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> MPCTensor:
        dims = None if dim is None else ([dim] if isinstance(dim, int) else list(dim))
        shape = shapes.reduce(self.shape, dims, keepdim)
        in_shape = self.shape
        nd = self.dim()

        def back(g: MPCTensor, out: MPCTensor) -> tuple[MPCTensor]:
            if dims is not None and not keepdim:
                for d in sorted(x % nd for x in dims):
                    g = g.unsqueeze(d)
            return (g.expand(*in_shape),)

        return self._op("sum", [self], shape, {"dim": dims, "keepdim": keepdim}, grad=("sum", back))

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> MPCTensor:
        s = self.sum(dim, keepdim)
        count = self.numel() // max(s.numel(), 1)
        return s / count

    # -- views (local, linear) ----------------------------------------------------------
    def _view(
        self,
        fn: str,
        *args: Any,
        inverse: Callable[[MPCTensor], MPCTensor] | None = None,
        **kw: Any,
    ) -> MPCTensor:
        shape = infer_shape(lambda t: getattr(t, fn)(*args, **kw), self.shape, what=fn)
        grad = ("view", lambda g, out: (inverse(g),)) if inverse is not None else None
        return self._op("view", [self], shape, {"fn": fn, "args": list(args), "kw": kw}, grad=grad)

    def reshape(self, *shape: Any) -> MPCTensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        orig = tuple(self.shape)
        return self._view("reshape", [int(s) for s in shape], inverse=lambda g: g.reshape(orig))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> MPCTensor:
        orig = tuple(self.shape)
        return self._view("flatten", start_dim, end_dim, inverse=lambda g: g.reshape(orig))

    def transpose(self, d0: int, d1: int) -> MPCTensor:
        return self._view("transpose", d0, d1, inverse=lambda g: g.transpose(d0, d1))

    def t(self) -> MPCTensor:
        return self.transpose(0, 1) if self.dim() == 2 else self

    @property
    def T(self) -> MPCTensor:  # noqa: N802 - torch's name
        return self.permute(*reversed(range(self.dim())))

    def permute(self, *dims: Any) -> MPCTensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        inv = [0] * len(dims)
        for i, d in enumerate(dims):
            inv[d % len(dims)] = i
        return self._view("permute", list(dims), inverse=lambda g: g.permute(*inv))

    def unsqueeze(self, d: int) -> MPCTensor:
        return self._view("unsqueeze", d, inverse=lambda g: g.squeeze(d))

    def squeeze(self, d: int | None = None) -> MPCTensor:
        orig = tuple(self.shape)
        if d is None:
            return self._view("squeeze", inverse=lambda g: g.reshape(orig))
        return self._view("squeeze", d, inverse=lambda g: g.reshape(orig))

    def expand(self, *shape: Any) -> MPCTensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        orig = tuple(self.shape)
        return self._view("expand", *[int(s) for s in shape], inverse=lambda g: g.sum_to(orig))

    def expand_as(self, other: MPCTensor) -> MPCTensor:
        return self.expand(*other.shape)

    def __getitem__(self, index: Any) -> MPCTensor:
        spec, tensors = index_spec(index)
        shape = infer_shape(lambda t: t[meta_index(spec, tensors)], self.shape, what="indexing")
        if any(isinstance(i, dict) and "$t" in i for i in spec):
            grad = None  # gradients through advanced indexing are not supported
        else:
            orig = tuple(self.shape)
            grad = (
                "index",
                lambda g, out: (
                    g._op("pad_index", [g], orig, {"index": spec, "shape": list(orig)}),
                ),
            )
        return self._op("getitem", [self], shape, {"index": spec}, tensors, grad=grad)

    # -- products -----------------------------------------------------------------------
    def __mul__(self, other: Any) -> MPCTensor:
        if isinstance(other, MPCTensor):
            shape = shapes.broadcast(self.shape, other.shape, "*")
            if other is self:
                return self.square()
            a, b = self, other
            return self._op("mul", [a, b], shape,
                            grad=("mul", lambda g, out: ((g * b).sum_to(a.shape), (g * a).sum_to(b.shape))))  # fmt: skip
        v = self._public(other)
        shape = shapes.broadcast(self.shape, v.shape, "*")
        xs = self.shape
        return self._op("mul_public", [self], shape, {"value": {"$t": 0}}, [v],
                        grad=("mul", lambda g, out: ((g * v).sum_to(xs),)))  # fmt: skip

    __rmul__ = __mul__

    def square(self) -> MPCTensor:
        x = self
        return self._op(
            "square", [self], self.shape, grad=("square", lambda g, out: ((g * x) * 2,))
        )

    def __pow__(self, n: Any) -> MPCTensor:
        if not isinstance(n, int) or n < 0:
            raise UsageError("MPCTensor ** n supports non-negative integer n only")
        if n == 0:
            return self * 0 + 1
        result: MPCTensor | None = None
        base = self
        while n:
            if n & 1:
                result = base if result is None else result * base
            n >>= 1
            if n:
                base = base.square()
        assert result is not None
        return result

    def __matmul__(self, other: Any) -> MPCTensor:
        if isinstance(other, MPCTensor):
            shape = shapes.matmul(self.shape, other.shape)
            a, b = self, other
            return self._op(
                "matmul", [a, b], shape, grad=("matmul", lambda g, out: matmul_grads(g, a, b))
            )
        v = self._public(other)
        shape = shapes.matmul(self.shape, v.shape)
        a = self
        return self._op("mul_public", [self], shape, {"value": {"$t": 0}, "op": "matmul"}, [v],
                        grad=("matmul", lambda g, out: (matmul_grads_public(g, a, v),)))  # fmt: skip

    def __rmatmul__(self, other: Any) -> MPCTensor:
        v = self._public(other)
        shape = shapes.matmul(v.shape, self.shape)
        b = self

        def back(g: MPCTensor, out: MPCTensor) -> tuple[MPCTensor]:
            vt = v.transpose(-1, -2) if v.dim() >= 2 else v
            return (rmatmul_public(vt, g).sum_to(b.shape),)

        return self._op("mul_public", [self], shape, {"value": {"$t": 0}, "op": "matmul", "public_first": True}, [v],
                        grad=("rmatmul", back))  # fmt: skip

    def __truediv__(self, other: Any) -> MPCTensor:
        if isinstance(other, MPCTensor):
            return self * other.reciprocal()
        v = self._public(other)
        if not v.is_floating_point() and v.numel() == 1 and 0 < int(v) < 2**31:
            d = int(v)
            return self._op(
                "div_int", [self], self.shape, {"d": d}, grad=("div", lambda g, out: (g / d,))
            )
        return self * (1.0 / v.to(torch.float64))

    def __rtruediv__(self, other: Any) -> MPCTensor:
        return self.reciprocal() * public_operand(other)

    # -- comparisons (results are 0./1. fixed-point tensors) -----------------------------
    def _compare(self, other: Any, cmp: str) -> MPCTensor:
        with autograd.no_grad():
            diff = self - other
            return diff._op("compare", [diff], diff.shape, {"cmp": cmp})

    def __gt__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "gt")

    def __lt__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "lt")

    def __ge__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "ge")

    def __le__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "le")

    def __eq__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "eq")

    def __ne__(self, other: Any) -> MPCTensor:  # type: ignore[override]
        return self._compare(other, "ne")

    eq, ne, gt, lt, ge, le = __eq__, __ne__, __gt__, __lt__, __ge__, __le__

    # -- nonlinear ----------------------------------------------------------------------
    def relu(self) -> MPCTensor:
        keep = autograd.is_grad_enabled() and self.requires_grad
        outs = run_op(self.cluster, "relu", [self], [self.shape, self.shape] if keep else [self.shape],
                      {"keep_mask": keep}, dtype=self.dtype,
                      grad=("relu", lambda g, out, bit: (g._op("relu_backward", [g, bit], g.shape),)))  # fmt: skip
        return outs[0]

    def abs(self) -> MPCTensor:
        return self._op("abs", [self], self.shape)

    def _unary(
        self, op: str, back: Callable[[MPCTensor, MPCTensor], MPCTensor] | None, **args: Any
    ) -> MPCTensor:
        grad = (op, lambda g, out: (back(g, out),)) if back is not None else None
        return self._op(op, [self], self.shape, args, grad=grad)

    def exp(self) -> MPCTensor:
        return self._unary("exp", lambda g, y: g * y)

    def log(self) -> MPCTensor:
        x = self
        return self._unary("log", lambda g, y: g * x.reciprocal())

    def reciprocal(self, positive: bool = False) -> MPCTensor:
        return self._unary("reciprocal", lambda g, y: -(g * y.square()), positive=positive)

    def sqrt(self) -> MPCTensor:
        return self._unary("sqrt", lambda g, y: g * y.reciprocal(positive=True) * 0.5)

    def sigmoid(self) -> MPCTensor:
        return self._unary("sigmoid", lambda g, y: g * (y * (1 - y)))

    def tanh(self) -> MPCTensor:
        return self._unary("tanh", lambda g, y: g * (1 - y.square()))

    def softmax(self, dim: int = -1) -> MPCTensor:
        def back(g: MPCTensor, y: MPCTensor) -> MPCTensor:
            return y * (g - (g * y).sum(dim, keepdim=True))

        return self._unary("softmax", back, dim=dim)

    def log_softmax(self, dim: int = -1) -> MPCTensor:
        def back(g: MPCTensor, y: MPCTensor) -> MPCTensor:
            return g - y.exp() * g.sum(dim, keepdim=True)

        return self._unary("log_softmax", back, dim=dim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """Like torch: the maximum, or ``(values, indices)`` along ``dim`` (indices shared)."""
        if dim is None:
            return self._op("max", [self], (), {"dim": None})
        shape = shapes.reduce(self.shape, [dim], keepdim)
        vals, idx = run_op(
            self.cluster,
            "max",
            [self],
            [shape, shape],
            {"dim": dim, "keepdim": keepdim, "index": True},
            dtype=self.dtype,
        )
        return vals, idx

    def argmax(
        self, dim: int | None = None, keepdim: bool = False, one_hot: bool = False
    ) -> MPCTensor:
        """Shared argmax (a fixed-point index), or a 0/1 one-hot tensor with ``one_hot``."""
        src = self if dim is not None else self.reshape(-1)
        d = 0 if dim is None else dim
        if one_hot:
            shape = tuple(src.shape)
            return run_op(self.cluster, "max", [src], [shapes.reduce(src.shape, [d], False), shape],
                          {"dim": d, "index": True, "one_hot": True}, dtype=self.dtype)[1]  # fmt: skip
        shape = shapes.reduce(src.shape, [d], keepdim)
        return run_op(
            self.cluster,
            "max",
            [src],
            [shape, shape],
            {"dim": d, "keepdim": keepdim, "index": True},
            dtype=self.dtype,
        )[1]
