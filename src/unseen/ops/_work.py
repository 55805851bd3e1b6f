"""Work estimates: from an expensive operation's resolved arguments (shapes only, like the size
guards), roughly how many elementary operations it would do. :func:`check_work` compares the
estimate with :attr:`Limits.max_work` before the operation runs.

Counts are orders of magnitude, not benchmarks: a multiply-add for products and convolutions,
``m*n*min(m, n)`` per matrix for factorizations (times 10 for the iterative ones: SVD,
eigenvalues, pseudo-inverse, least squares), ``n*log2(n)`` for sorts, quantiles, set operations,
joins and groupings. Operations not listed here are linear in their inputs, which the element
limit already bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from unseen.ops._guard_util import numel, shape_of, split
from unseen.ops._guards import einsum_dims, tensordot_contracted
from unseen.ops._spec import OpSpec

__all__ = ["WORK", "work_of"]

Work = Callable[[OpSpec, tuple[Any, ...], Mapping[str, Any]], float]


def _shape(value: Any) -> tuple[int, ...]:
    shape = shape_of(value)
    if shape is None and isinstance(value, (list, tuple)):
        shape = tuple(int(d) for d in np.shape(value))
    return shape or ()


def _matmul(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """matmul / @ / mm / bmm / mv: batch * m * n * k multiply-adds."""
    a, b = args[0], args[1] if len(args) > 1 else next(iter(kwargs.values()))
    if spec.short.startswith("__r"):
        a, b = b, a
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return float(numel(a) * numel(b))
    sa = sa if len(sa) >= 2 else (1, *sa)
    sb = sb if len(sb) >= 2 else (*sb, 1)
    try:
        batch = math.prod(np.broadcast_shapes(sa[:-2], sb[:-2]))
    except ValueError:
        batch = max(math.prod(sa[:-2]), math.prod(sb[:-2]))
    return float(batch * sa[-2] * sa[-1] * sb[-1])


def _dot(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """dot / inner / vdot / tensordot / kron / outer-like products: every pair of elements that
    meets in a sum."""
    a, b = args[0], args[1] if len(args) > 1 else next(iter(kwargs.values()))
    sa, sb = _shape(a), _shape(b)
    na, nb = math.prod(sa), math.prod(sb)
    if spec.short == "tensordot" and sa and sb:
        return float(na * nb // max(1, tensordot_contracted(spec, args, kwargs, sa, sb)))
    if spec.short in ("vdot", "kron", "cross") or not sa or not sb:
        return float(max(na, nb) if spec.short in ("vdot", "cross") else na * nb)
    if spec.short == "dot" and len(sb) >= 2:
        return float(na * nb // max(1, sb[-2]))
    return float(na * nb // max(1, sb[-1]))


def _einsum(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """einsum: the product of every index's size (numpy's default, unoptimized loop)."""
    dims, ellipsis, operands = einsum_dims(args)
    return float(math.prod(dims.values()) * ellipsis * max(1, operands - 1))


def _multi_dot(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    arrays = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    shapes = [_shape(x) for x in arrays]
    total = 0
    for left, right in zip(shapes, shapes[1:]):
        total += (math.prod(left) if left else 1) * (right[-1] if len(right) >= 2 else 1)
    return float(total)


def _linear(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    _, bound = split(spec, args, kwargs)
    weight = _shape(bound.get("weight"))
    x = _shape(bound.get("input", bound.get("input1")))
    rows = math.prod(x[:-1]) if x else 1
    return float(rows * math.prod(weight or (1,)))


def _conv(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """conv1d / conv2d: output elements (stride 1, with padding) times the kernel's size per
    output channel."""
    from unseen.ops._guards import GUARDS

    out = GUARDS["conv"](spec, args, kwargs) or 0
    _, bound = split(spec, args, kwargs)
    weight = _shape(bound["weight"])
    return float(out * math.prod(weight[1:]))


def _cdist(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    sa, sb = _shape(args[0]), _shape(args[1])
    return float(math.prod(sa) * math.prod(sb[:-1] or (1,)))


_ITERATIVE = frozenset(
    "svd svdvals eig eigvals eigh eigvalsh pinv pinverse lstsq matrix_rank cond".split()
)


def _factor(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """Factorizations and solves: m*n*min(m, n) per matrix (x10 for iterative ones); a
    matrix power costs one product per bit of the exponent."""
    shape = _shape(args[0])
    if len(shape) < 2:
        return float(numel(args[0]))
    m, n = shape[-2], shape[-1]
    work = math.prod(shape[:-2]) * m * n * min(m, n)
    if spec.short in _ITERATIVE:
        work *= 10
    if spec.short == "matrix_power":
        _, bound = split(spec, args, kwargs)
        power = abs(int(bound.get("n", bound.get("exponent", 1)) or 1))
        work *= 2 * max(1, power.bit_length())
    if spec.short in ("solve", "lstsq") and len(args) > 1:
        work += m * n * numel(args[1]) // max(1, shape[-2])
    return float(work)


def _norm(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """A norm is linear, except the spectral and nuclear matrix norms (an SVD)."""
    _, bound = split(spec, args, kwargs)
    order = bound.get("ord", bound.get("p"))
    if order in (2, -2, "nuc") and len(_shape(args[0])) >= 2:
        return _factor(spec, args, kwargs) * 10
    return float(numel(args[0]))


def _sizes(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    total = 0
    for value in (*args, *kwargs.values()):
        if isinstance(value, (list, tuple)) and value and shape_of(value[0]) is not None:
            total += sum(numel(v) for v in value)
        elif shape_of(value) is not None or isinstance(value, (list, tuple)):
            total += numel(value)
        elif hasattr(value, "obj") and shape_of(value.obj) is not None:  # a GroupBy
            total += numel(value.obj)
    return total


def _nlogn(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float:
    """Sorts, quantiles, set operations, joins and groupings: n*log2(n) comparisons over every
    argument's elements."""
    n = max(1, _sizes(args, kwargs))
    return float(n * max(1.0, math.log2(n)))


_BY_NAME: dict[str, Work] = {}
for _names, _fn in (
    ("matmul __matmul__ __rmatmul__ mm bmm mv", _matmul),
    ("dot inner vdot tensordot kron", _dot),
    ("einsum", _einsum),
    ("multi_dot", _multi_dot),
    ("linear bilinear", _linear),
    ("conv1d conv2d", _conv),
    ("cdist", _cdist),
    (
        "solve inv inverse det slogdet logdet cholesky qr matrix_power "
        + " ".join(sorted(_ITERATIVE)),
        _factor,
    ),
    ("norm matrix_norm", _norm),
    (
        "sort argsort sort_values sort_index unique unique_consecutive nunique value_counts "
        "quantile nanquantile median nanmedian percentile nanpercentile rank topk kthvalue mode "
        "searchsorted isin intersect1d setdiff1d setxor1d union1d intersection difference "
        "symmetric_difference union drop_duplicates duplicated nlargest nsmallest describe qcut "
        "merge join groupby pivot pivot_table",
        _nlogn,
    ),
):
    for _name in _names.split():
        _BY_NAME[_name] = _fn

#: Families whose methods may be expensive (scalars' ``count``/``find`` are string methods).
_ARRAYS = frozenset({"ndarray", "tensor", "dataframe", "series", "index", "groupby"})


def work_of(spec: OpSpec) -> Work | None:
    """The work estimate of ``spec``, or None when it is linear in its inputs."""
    if spec.kind == "function" or spec.family in _ARRAYS:
        if spec.family == "groupby":
            return _nlogn
        return _BY_NAME.get(spec.short)
    return None


WORK = _BY_NAME
