"""Cases for every numpy function and ndarray method in the vocabulary.

Elementwise ufuncs and reductions are generated from their signatures; everything else has an
explicit case. ndarray methods reuse the function case of the same name (receiver first)
unless they have their own.
"""

from __future__ import annotations

import numpy as np
from ops_harness import C, Case
from ops_inputs import (
    CPLX,
    I1,
    I2,
    MASK,
    P3,
    Q3,
    RHS,
    SPECIAL,
    SQ,
    V4,
    A,
    B,
    V,
    W,
)

from unseen.ops import OpSpec

_INT_UNARY = {"invert", "bitwise_not", "bitwise_invert"}
_INT_BINARY = {
    "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift",
    "bitwise_left_shift", "bitwise_right_shift",
}  # fmt: skip

N = "numpy."
L = "numpy.linalg."

_EXPLICIT: list[Case] = [
    C(N + "clip", A, 0.3, 0.7),
    C(N + "clip", A, min=0.2, max=0.6),
    C(N + "isclose", A, B),
    C(N + "nan_to_num", SPECIAL),
    C(N + "nan_to_num", SPECIAL, nan=0.0, posinf=9.0),
    C(N + "round", A, 2),
    C(N + "around", A, 1),
    C(N + "real", CPLX),
    C(N + "imag", CPLX),
    C(N + "isreal", CPLX),
    C(N + "iscomplex", CPLX),
    C(N + "angle", CPLX),
    C(N + "interp", np.array([0.2, 0.5]), V, W),
    C(N + "where", MASK, A, B),
    C(N + "where", MASK),
    C(N + "divmod", A, B),
    C(N + "frexp", A),
    C(N + "modf", A * 10),
    C(N + "ldexp", A, I1),
    C(N + "allclose", A, B),
    C(N + "array_equal", A, A),
    C(N + "array_equiv", A, B),
    C(N + "percentile", A, 50),
    C(N + "percentile", A, [10, 90], 1),
    C(N + "quantile", A, 0.5, 0),
    C(N + "nanpercentile", A, 50),
    C(N + "nanquantile", A, 0.5),
    C(N + "cumulative_sum", V),
    C(N + "cumulative_sum", A, axis=1),
    C(N + "cumulative_prod", V),
    C(N + "average", A),
    C(N + "average", A, 0, B),
    C(N + "diff", A),
    C(N + "corrcoef", A),
    C(N + "cov", A),
    C(N + "trapezoid", V),
    C(N + "searchsorted", V, 0.5),
    C(N + "digitize", A, V),
    C(N + "isin", I1, I2),
    C(N + "intersect1d", I1, I2),
    C(N + "union1d", I1, I2),
    C(N + "setdiff1d", I1, I2),
    C(N + "setxor1d", I1, I2),
    C(N + "unique", I1),
    C(N + "unique", I1, return_counts=True),
    C(N + "histogram", A),
    C(N + "histogram", A, 5),
    C(N + "histogram_bin_edges", A, 4),
    C(N + "reshape", A, (4, 3)),
    C(N + "transpose", A),
    C(N + "permute_dims", A, (1, 0)),
    C(N + "matrix_transpose", A),
    C(N + "swapaxes", A, 0, 1),
    C(N + "moveaxis", A, 0, 1),
    C(N + "squeeze", A[None]),
    C(N + "expand_dims", A, 0),
    C(N + "ravel", A),
    C(N + "concatenate", [A, B]),
    C(N + "concatenate", [A, B], axis=1),
    C(N + "concat", [A, B]),
    C(N + "stack", [A, B]),
    C(N + "vstack", [A, B]),
    C(N + "hstack", [A, B]),
    C(N + "column_stack", [A, B]),
    C(N + "dstack", [A, B]),
    C(N + "flip", A),
    C(N + "fliplr", A),
    C(N + "flipud", A),
    C(N + "rot90", A),
    C(N + "roll", A, 1),
    C(N + "sort", A),
    C(N + "argsort", A),
    C(N + "atleast_1d", V),
    C(N + "atleast_2d", V),
    C(N + "atleast_3d", V),
    C(N + "diagonal", A),
    C(N + "triu", A),
    C(N + "tril", A),
    C(N + "take", A, [0, 2]),
    C(N + "take_along_axis", A, np.argsort(A, axis=1), 1),
    C(N + "argwhere", MASK),
    C(N + "flatnonzero", MASK),
    C(N + "astype", A, "float32"),
    C(N + "astype", I1, np.float16),
    C(N + "copy", A),
    C(N + "append", V, W),
    C(N + "split", A, 2, 1),
    C(N + "array_split", A, 3),
    C(N + "nonzero", MASK),
    C(N + "shape", A),
    C(N + "ndim", A),
    C(N + "size", A),
    C(N + "meshgrid", V, W),
    C(N + "dot", A, B.T),
    C(N + "vdot", A, B),
    C(N + "inner", A, B),
    C(N + "matmul", A, B.T),
    C(N + "tensordot", A, B, 2),
    C(N + "trace", A),
    C(N + "cross", P3, Q3),
    C(N + "einsum", "ij,kj->ik", A, B),
    C(N + "einsum", "ii", SQ),
    C(N + "zeros", (2, 3)),
    C(N + "zeros", 4, dtype="int32"),
    C(N + "ones", (2, 3), np.float32),
    C(N + "full", (2, 3), 7.0),
    C(N + "zeros_like", A),
    C(N + "ones_like", A, dtype="int64"),
    C(N + "full_like", A, 3.0),
    C(N + "arange", 5),
    C(N + "arange", 1, 10, 2),
    C(N + "linspace", 0, 1, 5),
    C(N + "logspace", 0, 1, 5),
    C(N + "geomspace", 1, 10, 4),
    C(N + "eye", 3),
    C(N + "identity", 3),
    C(N + "tri", 3),
    C(N + "array", [[1, 2], [3, 4]]),
    C(N + "array", [1, 2], dtype="float32"),
    C(N + "asarray", [1.0, 2.0]),
    C(N + "tile", A, (2, 1)),
    C(N + "repeat", A, 2),
    C(N + "repeat", A, [1, 2, 3], 0),
    C(N + "broadcast_to", V4, (3, 4)),
    C(N + "outer", V, W),
    C(N + "kron", A, B),
    C(N + "diag", V),
    C(N + "diag", A),
    C(N + "diagflat", V),
    C(N + "pad", A, 1),
    C(N + "pad", A, ((1, 0), (0, 2)), "edge"),
    C(N + "bincount", I1.ravel()),
    C(N + "bincount", I1.ravel(), minlength=20),
    C(L + "norm", A),
    C(L + "norm", A, None, 1),
    C(L + "inv", SQ),
    C(L + "det", SQ),
    C(L + "solve", SQ, RHS),
    C(L + "svdvals", A),
    C(L + "eigvalsh", SQ),
    C(L + "eigvals", SQ),
    C(L + "pinv", A),
    C(L + "matrix_rank", A),
    C(L + "cholesky", SQ),
    C(L + "matrix_power", SQ, 3),
    C(L + "cond", SQ),
    C(L + "multi_dot", [A, B.T, A]),
    C(L + "svd", A),
    C(L + "svd", A, compute_uv=False),
    C(L + "eigh", SQ),
    C(L + "eig", SQ),
    C(L + "qr", A),
    C(L + "lstsq", SQ, RHS),
    C(L + "slogdet", SQ),
]

# ndarray methods whose call differs from the function of the same name.
_METHODS: list[Case] = [
    C("ndarray.reshape", A, 4, 3),
    C("ndarray.reshape", A, (2, 6)),
    C("ndarray.transpose", A, 1, 0),
    C("ndarray.flatten", A),
    C("ndarray.item", A, 0),
    C("ndarray.item", np.float64(2.5)),
    C("ndarray.tolist", A),
    C("ndarray.tolist", np.int64(3)),
    C("ndarray.sum", np.float64(2.5)),
    C("ndarray.astype", np.float64(2.5), "float32"),
    C("ndarray.trace", SQ),
    C("ndarray.searchsorted", V, 0.5),
    C("ndarray.take", A, [0, 2]),
    C("ndarray.round", A, 2),
    C("ndarray.clip", A, 0.3, 0.7),
    C("ndarray.dot", A, B.T),
    C("ndarray.nonzero", MASK),
    C("ndarray.squeeze", A[None]),
    C("ndarray.conj", CPLX),
    C("ndarray.conjugate", CPLX),
]
for _attr in ("T", "mT", "real", "imag", "shape", "ndim", "size", "nbytes", "itemsize"):
    _METHODS.append(C("ndarray." + _attr, CPLX if _attr in ("real", "imag") else A))
_METHODS.append(C("ndarray.T", np.float64(1.5)))


def _generated(spec: OpSpec) -> list[Case]:
    short = spec.short
    if spec.category == "elementwise" and spec.params[:2] == ("x1", "x2"):
        return (
            [C(spec.name, I1, I2)]
            if short in _INT_BINARY
            else [C(spec.name, A, B), C(spec.name, A, 2.0)]
        )
    if spec.category == "elementwise" and spec.params == ("x",):
        return [C(spec.name, I1)] if short in _INT_UNARY else [C(spec.name, A)]
    if spec.category == "reduction" and spec.params[:2] == ("a", "axis"):
        out = [C(spec.name, A), C(spec.name, A, 1)]
        if "keepdims" in spec.kwargs:
            out.append(C(spec.name, A, axis=0, keepdims=True))
        if "ddof" in spec.kwargs:
            out.append(C(spec.name, A, ddof=1))
        return out
    return []


def numpy_cases(specs: list[OpSpec]) -> list[Case]:
    """Every numpy case for the given specs (the ones that have one)."""
    by_name: dict[str, list[Case]] = {}
    for case in _EXPLICIT + _METHODS:
        by_name.setdefault(case.op, []).append(case)
    out: list[Case] = []
    for spec in specs:
        if spec.kind == "function" and spec.name.startswith("numpy"):
            out += by_name.get(spec.name) or _generated(spec)
        elif (
            spec.family == "ndarray"
            and spec.category not in ("operator", "comparison", "indexing")
            and spec.short != "__round__"
        ):
            own = by_name.get(spec.name)
            if own:
                out += own
                continue
            fn = next((s for s in specs if s.name == "numpy." + spec.short), None)
            if fn is not None:
                source = by_name.get(fn.name) or _generated(fn)
                out += [C(spec.name, *c.args, **c.kwargs) for c in source]
    return out
