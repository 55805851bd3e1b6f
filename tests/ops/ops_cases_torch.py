"""Cases for every torch, torch.linalg and torch.nn.functional function and tensor method.

Elementwise functions and reductions are generated from their signatures; tensor methods
shared with a torch function reuse its case (receiver first) unless they have their own.
"""

from __future__ import annotations

import torch
from ops_harness import C, Case, E
from ops_inputs import (
    LABELS,
    TA,
    TB,
    TC,
    TI1,
    TI2,
    TIDX,
    TMASK,
    TP3,
    TQ3,
    TRHS,
    TSPECIAL,
    TSQ,
    TV,
    TV4,
    TW,
    X1D,
    X2D,
)

from unseen.ops import OpSpec

T = "torch."
LA = "torch.linalg."
F = "torch.nn.functional."

_INT_BINARY = {"gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor"}
_ARGSORT = torch.argsort(TA, dim=1)
_LOGITS = torch.log_softmax(TA, 1)

_EXPLICIT: list[Case] = [
    C(T + "bitwise_not", TI1),
    C(T + "round", TA),
    C(T + "round", TA, decimals=2),
    C(T + "nan_to_num", TSPECIAL),
    C(T + "nan_to_num", TSPECIAL, 0.0, 9.0),
    C(T + "logit", TA),
    C(T + "clamp", TA, 0.3, 0.7),
    C(T + "clip", TA, min=0.2),
    C(T + "lerp", TA, TB, 0.5),
    C(T + "addcmul", TA, TB, TB, value=0.5),
    C(T + "addcdiv", TA, TB, TB + 2.0, value=-0.25),
    # a gradient of a value that does not depend on the inputs: torch's own error (a real
    # gradient needs the forward in the same graph: tests/ops/test_autograd.py)
    E("torch.autograd.grad", torch.tensor(1.0), [TA]),
    C(T + "softmax", TA, 1),
    C(T + "log_softmax", TA, 0),
    C(T + "real", TC),
    C(T + "imag", TC),
    C(T + "angle", TC),
    C(T + "conj", TA),
    C(T + "pow", TA, 2.0),
    C(T + "heaviside", TA - 0.5, TB),
    C(T + "div", TA, TB, rounding_mode="floor"),
    C(T + "divide", TA, TB),
    C(T + "add", TA, TB, alpha=2),
    C(T + "isclose", TA, TB),
    C(T + "where", TMASK, TA, TB),
    C(T + "where", TMASK),
    C(T + "allclose", TA, TB),
    C(T + "equal", TA, TA),
    C(T + "quantile", TA, 0.5),
    C(T + "quantile", TA, 0.25, 1),
    C(T + "nanquantile", TA, 0.5),
    C(T + "dist", TA, TB),
    C(T + "cov", TA),
    C(T + "corrcoef", TA),
    C(T + "argsort", TA),
    C(T + "searchsorted", TV, torch.tensor([0.3, 0.6])),
    C(T + "bucketize", torch.tensor([0.3, 0.6]), TV),
    C(T + "count_nonzero", TI1 - 5),
    C(T + "logcumsumexp", TA, 1),
    C(T + "logsumexp", TA, 1),
    C(T + "logsumexp", TA, 0, True),
    C(T + "cumsum", TA, 1),
    C(T + "cumprod", TA, 0),
    C(T + "diff", TA),
    C(T + "norm", TA),
    C(T + "std_mean", TA),
    C(T + "var_mean", TA, 1),
    C(T + "aminmax", TA),
    C(T + "mode", TI1, 1),
    C(T + "kthvalue", TA, 2, 1),
    C(T + "cummax", TA, 1),
    C(T + "cummin", TA, 1),
    C(T + "topk", TA, 2),
    C(T + "sort", TA),
    C(T + "sort", TA, 0, True),
    C(T + "unique", TI1),
    C(T + "unique", TI1, return_counts=True),
    C(T + "unique_consecutive", TI1),
    C(T + "histogram", TA, 5),
    C(T + "bincount", TI1.ravel()),
    C(T + "histc", TA, 5),
    C(T + "reshape", TA, (4, 3)),
    C(T + "cat", [TA, TB]),
    C(T + "concat", [TA, TB], 1),
    C(T + "concatenate", [TA, TB]),
    C(T + "stack", [TA, TB]),
    C(T + "hstack", [TA, TB]),
    C(T + "vstack", [TA, TB]),
    C(T + "dstack", [TA, TB]),
    C(T + "column_stack", [TA, TB]),
    C(T + "transpose", TA, 0, 1),
    C(T + "swapaxes", TA, 0, 1),
    C(T + "swapdims", TA, 0, 1),
    C(T + "permute", TA, (1, 0)),
    C(T + "squeeze", TA[None]),
    C(T + "diagonal", TA),
    C(T + "diagonal", TA, 1),
    C(T + "flatten", TA),
    C(T + "flatten", TA[None], 1),
    C(T + "rot90", TA),
    C(T + "rot90", TA, 2),
    C(T + "triu", TA),
    C(T + "tril", TA, -1),
    C(T + "unsqueeze", TA, 0),
    C(T + "unflatten", TA, 1, (2, 2)),
    C(T + "flip", TA, (0,)),
    C(T + "roll", TA, 1, 0),
    C(T + "movedim", TA, 0, 1),
    C(T + "moveaxis", TA, 0, 1),
    C(T + "narrow", TA, 1, 0, 2),
    C(T + "gather", TA, 1, TIDX),
    C(T + "index_select", TA, 1, torch.tensor([0, 2])),
    C(T + "masked_select", TA, TMASK),
    C(T + "masked_fill", TA, TMASK, 0.0),
    C(T + "take", TA, torch.tensor([0, 5])),
    C(T + "take_along_dim", TA, _ARGSORT, 1),
    C(T + "atleast_1d", TV),
    C(T + "atleast_2d", TV),
    C(T + "atleast_3d", TV),
    C(T + "chunk", TA, 2, 1),
    C(T + "split", TA, 2, 1),
    C(T + "tensor_split", TA, 2, 1),
    C(T + "unbind", TA),
    C(T + "nonzero", TMASK),
    C(T + "nonzero", TMASK, as_tuple=True),
    C(T + "broadcast_tensors", TA, TV4),
    C(T + "meshgrid", TV, TW, indexing="ij"),
    C(T + "tile", TA, (2, 1)),
    C(T + "repeat_interleave", TA, 2),
    C(T + "broadcast_to", TV4, (3, 4)),
    C(T + "diag", TV),
    C(T + "diag_embed", TA),
    C(T + "kron", TA, TB),
    C(T + "outer", TV, TW),
    C(T + "cdist", TA, TB),
    C(T + "matmul", TA, TB.T),
    C(T + "mm", TA, TB.T),
    C(T + "bmm", TA[None], TB.T[None]),
    C(T + "mv", TA, TV4),
    C(T + "dot", TV, TW),
    C(T + "vdot", TV, TW),
    C(T + "inner", TA, TB),
    C(T + "tensordot", TA, TB, 2),
    C(T + "einsum", "ij,kj->ik", TA, TB),
    C(T + "trace", TA),
    C(T + "det", TSQ),
    C(T + "logdet", TSQ),
    C(T + "inverse", TSQ),
    C(T + "pinverse", TA),
    C(T + "cross", TP3, TQ3, 0),
    C(T + "matrix_power", TSQ, 2),
    C(T + "slogdet", TSQ),
    C(T + "zeros", 2, 3),
    C(T + "zeros", (2, 3), dtype=torch.int32),
    C(T + "ones", (2, 3)),
    C(T + "full", (2, 3), 7.0),
    C(T + "zeros_like", TA),
    C(T + "ones_like", TA, dtype=torch.float32),
    C(T + "full_like", TA, 3.0),
    C(T + "arange", 5),
    C(T + "arange", 1, 10, 2),
    C(T + "linspace", 0, 1, 5),
    C(T + "logspace", 0, 1, 5),
    C(T + "eye", 3),
    C(T + "tensor", [[1, 2], [3, 4]]),
    C(T + "tensor", [1.0, 2.0], dtype=torch.float16),
    C(T + "as_tensor", [1.0, 2.0]),
    C(LA + "norm", TA),
    C(LA + "matrix_norm", TA),
    C(LA + "vector_norm", TA),
    C(LA + "inv", TSQ),
    C(LA + "det", TSQ),
    C(LA + "solve", TSQ, TRHS),
    C(LA + "svdvals", TA),
    C(LA + "eigvalsh", TSQ),
    C(LA + "eigvals", TSQ),
    C(LA + "pinv", TA),
    C(LA + "cholesky", TSQ),
    C(LA + "matrix_rank", TA),
    C(LA + "matrix_power", TSQ, 2),
    C(LA + "cross", TP3, TQ3),
    C(LA + "multi_dot", [TA, TB.T, TA]),
    C(LA + "vecdot", TA, TB),
    C(LA + "slogdet", TSQ),
    C(LA + "svd", TA),
    C(LA + "eigh", TSQ),
    C(LA + "eig", TSQ),
    C(LA + "qr", TA),
    C(LA + "lstsq", TSQ, TRHS[:, None], driver="gelsd"),  # the default gelsy varies in the last bit
]

_NN: list[Case] = [
    C(F + "gelu", TA, approximate="tanh"),
    C(F + "leaky_relu", TA - 0.5, 0.1),
    C(F + "elu", TA - 0.5),
    C(F + "celu", TA - 0.5),
    C(F + "softplus", TA),
    C(F + "hardtanh", TA),
    C(F + "threshold", TA, 0.5, 0.0),
    C(F + "glu", TA, 1),
    C(F + "softmax", TA, 1),
    C(F + "log_softmax", TA, 1),
    C(F + "softmin", TA, 1),
    C(F + "normalize", TA),
    C(F + "cosine_similarity", TA, TB),
    C(F + "pairwise_distance", TA, TB),
    C(F + "linear", TA, TB[:2], TV[:2]),
    C(F + "bilinear", TA, TB, torch.ones(2, 4, 4, dtype=torch.float64), TV[:2]),
    C(F + "embedding", torch.tensor([0, 2, 1]), TA),
    C(F + "layer_norm", TA, (4,)),
    C(F + "group_norm", X1D, 2),
    C(F + "conv1d", X1D, torch.ones(3, 4, 3, dtype=torch.float64)),
    C(F + "conv1d", X1D, torch.ones(3, 4, 3, dtype=torch.float64), padding=1),
    C(F + "conv2d", X2D, torch.ones(3, 2, 3, 3, dtype=torch.float64), stride=2),
    C(F + "max_pool1d", X1D, 2),
    C(F + "max_pool2d", X2D, 2),
    C(F + "max_pool2d", X2D, 2, return_indices=True),
    C(F + "avg_pool1d", X1D, 2),
    C(F + "avg_pool2d", X2D, 3),
    C(F + "adaptive_avg_pool1d", X1D, 3),
    C(F + "adaptive_avg_pool2d", X2D, (2, 2)),
    C(F + "adaptive_max_pool1d", X1D, 3),
    C(F + "adaptive_max_pool2d", X2D, 2),
    C(F + "mse_loss", TA, TB),
    C(F + "l1_loss", TA, TB, reduction="sum"),
    C(F + "smooth_l1_loss", TA, TB),
    C(F + "huber_loss", TA, TB),
    C(F + "cross_entropy", TA, LABELS),
    C(F + "nll_loss", _LOGITS, LABELS),
    C(F + "binary_cross_entropy", torch.sigmoid(TA), TB),
    C(F + "binary_cross_entropy_with_logits", TA, TB),
    C(F + "kl_div", _LOGITS, torch.softmax(TB, 1), reduction="batchmean"),
    C(F + "dropout", TA, 0.5),
    C(F + "batch_norm", TA, TV4, TV4 + 1),
    C(F + "one_hot", LABELS, 5),
    C(F + "one_hot", LABELS),
    C(F + "pad", TA, (1, 1)),
    C(F + "pad", TA, (1, 0, 0, 2), value=3.0),
]

# Tensor methods that are not plain copies of a torch function's case.
_METHODS: list[Case] = [
    C("tensor.expand_as", TV4, TA),
    C("tensor.view_as", TA, TB),
    C("tensor.reshape_as", TA, TB),
    C("tensor.type_as", TA, TI1),
    C("tensor.where", TA, TMASK, TB),
    C("tensor.reshape", TA, 4, 3),
    C("tensor.reshape", TA, (2, 6)),
    C("tensor.view", TA, 4, 3),
    C("tensor.permute", TA, 1, 0),
    C("tensor.tile", TA, 2, 1),
    C("tensor.expand", TV4, 3, 4),
    C("tensor.expand", TV4, 2, -1),
    C("tensor.repeat", TA, 2, 1),
    C("tensor.new_zeros", TA, 2, 3),
    C("tensor.new_ones", TA, (2, 3)),
    C("tensor.new_full", TA, (2, 3), 1.5),
    C("tensor.new_tensor", TA, [1.0, 2.0]),
    C("tensor.to", TA, torch.float32),
    C("tensor.to", TA, dtype=torch.int64),
    C("tensor.numpy", TA),
    C("tensor.size", TA),
    C("tensor.size", TA, 1),
    C("tensor.item", torch.tensor(3.5)),
    C("tensor.tolist", TA),
    C("tensor.imag", TC),
    C("tensor.real", TA),
    C("tensor.nonzero", TMASK),
    E("tensor.imag", TA),
]
for _name in "float double half bfloat16 long int short bool byte char cfloat cdouble detach contiguous".split():
    _METHODS.append(C("tensor." + _name, TA))
for _name in "dim ndimension nelement element_size is_contiguous T mT H mH shape ndim".split():
    _METHODS.append(C("tensor." + _name, TA))


def _generated(spec: OpSpec) -> list[Case]:
    short = spec.short
    if spec.category == "elementwise" and spec.params[:2] in (("input", "other"),):
        if short in _INT_BINARY:
            return [C(spec.name, TI1, TI2)]
        return [C(spec.name, TA, TB), C(spec.name, TA, TB[0])]
    if spec.category == "elementwise" and spec.params == ("input",):
        return [C(spec.name, TA)]
    if spec.category == "reduction" and spec.params[:2] == ("input", "dim"):
        out = [C(spec.name, TA), C(spec.name, TA, 1)]
        if "keepdim" in spec.params:
            out.append(C(spec.name, TA, dim=0, keepdim=True))
        return out
    if spec.category == "shape" and spec.params == ("input",):
        return [C(spec.name, TA)]
    if spec.category == "nn" and spec.params == ("input",):
        return [C(spec.name, TA - 0.5)]
    return []


def torch_cases(specs: list[OpSpec]) -> list[Case]:
    """Every torch case for the given specs (the ones that have one)."""
    by_name: dict[str, list[Case]] = {}
    for case in _EXPLICIT + _NN + _METHODS:
        by_name.setdefault(case.op, []).append(case)
    out: list[Case] = []
    functions = {s.short: s for s in specs if s.namespace == "torch"}
    for spec in specs:
        if spec.kind == "function" and spec.name.startswith("torch"):
            out += by_name.get(spec.name) or _generated(spec)
        elif spec.family == "tensor" and not spec.target.startswith("op:"):
            own = by_name.get(spec.name)
            if own:
                out += own
            elif spec.short in functions:
                fn = functions[spec.short]
                source = by_name.get(fn.name) or _generated(fn)
                out += [C(spec.name, *c.args, **c.kwargs) for c in source]
    return out
