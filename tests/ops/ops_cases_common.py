"""Cases for the operators of every family, and for the scalar and value families."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from ops_harness import C, Case
from ops_inputs import DF, GB, I1, I2, IDX, MASK, SC, SI, TA, TB, TI1, TI2, TMASK, A, B, S

from unseen.ops import OpSpec

_ARITH = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow"}
_BITS = {"and", "or", "xor"}
_COMPARE = {"lt", "le", "gt", "ge", "eq", "ne"}

# family -> (x, other, int x, int other, matmul other, bool x, bool other, getitem keys)
_INPUTS: dict[str, tuple[Any, ...]] = {
    "ndarray": (
        A, B, I1, I2, B.T, MASK, B > 0.5,
        [0, (slice(0, 2), 1), Ellipsis, (None, slice(None)), MASK, [0, 2],
         (slice(None), np.array([0, 3])), (0, slice(None, None, -1))],
    ),
    "tensor": (
        TA, TB, TI1, TI2, TB.T, TMASK, TB > 0.5,
        [0, (slice(0, 2), 1), Ellipsis, (None, slice(None)), TMASK, [0, 2]],
    ),
    "dataframe": (
        DF, DF * 2, DF[["a", "c"]], DF[["a", "c"]] + 1, DF.T, DF > 2, DF > 1,
        ["a", ["a", "b"], SI > 1, slice(0, 2)],
    ),
    "series": (S, SC, SI, SC, SC, SI > 1, SC > 2, [0, slice(0, 2), SI > 1, [0, 2]]),
    "index": (
        IDX, pd.Index([1, 2, 3, 4]), IDX, pd.Index([1, 2, 3, 4]), None,
        pd.Index([True, False, True, False]), pd.Index([True, True, False, False]), [0, slice(0, 2)],
    ),
    "scalar": (3.5, 2, 6, 3, None, True, False, []),
}  # fmt: skip

_KEYS: dict[str, list[tuple[Any, Any]]] = {
    "scalar": [("hello", 1), ("hello", slice(1, 3))],
    "value": [((1, 2, 3), 1), ([1, 2], 0), ({"a": 1}, "a"), ((1, 2, 3), slice(0, 2))],
    "groupby": [(GB, "v"), (GB, ["v", "w"])],
    "indexer": [
        (DF.loc, (slice(0, 2), "a")),
        (DF.iloc, (0, 1)),
        (DF.at, (0, "a")),
        (DF.iat, (0, 1)),
        (DF.loc, SI > 1),
        (S.loc, 2),
    ],
}


def _operator_cases(spec: OpSpec) -> list[Case]:
    fam, op = spec.family, spec.short[2:-2]
    assert fam is not None
    base = op[1:] if op.startswith("r") and op[1:] in _ARITH | _BITS | {"matmul"} else op
    if op == "getitem":
        if fam in _KEYS:
            return [C(spec.name, x, key) for x, key in _KEYS[fam]]
        x = _INPUTS[fam][0]
        return [C(spec.name, x, key) for key in _INPUTS[fam][7]]
    if op == "len":
        return [C(spec.name, (1, 2, 3)), C(spec.name, {"a": 1})]
    x, other, ix, iother, mother, bx, bother, _ = _INPUTS[fam]
    if base in _ARITH or base in _COMPARE:
        return [C(spec.name, x, other), C(spec.name, x, 2)]
    if base == "matmul":
        return [C(spec.name, x, mother)]
    if base in _BITS:
        return [C(spec.name, ix, iother), C(spec.name, bx, bother)]
    if op in ("neg", "pos", "abs"):
        return [C(spec.name, x)]
    if op == "invert":
        return [C(spec.name, ix), C(spec.name, bx)]
    if op == "round":
        return [C(spec.name, x), C(spec.name, x, 2)]
    raise AssertionError(f"no operator case for {spec.name}")


_SCALAR: list[Case] = [
    C("scalar.conjugate", 3.5),
    C("scalar.is_integer", 3.0),
    C("scalar.bit_length", 12),
    C("scalar.startswith", "Hello", "He"),
    C("scalar.endswith", "Hello", "lo"),
    C("scalar.count", "hello", "l"),
    C("scalar.find", "hello", "l"),
    C("scalar.rfind", "hello", "l"),
    C("scalar.split", "a b c"),
    C("scalar.rsplit", "a,b,c", ",", 1),
    C("scalar.real", 3.5),
    C("scalar.imag", 2 + 3j),
]
_STRING_METHODS = (
    "lower upper strip lstrip rstrip title capitalize casefold isdigit isalpha isnumeric isspace "
    "isupper islower"
).split()
_SCALAR += [C("scalar." + name, " Hello World 42 ") for name in _STRING_METHODS]


def common_cases(specs: list[OpSpec]) -> list[Case]:
    """Cases for operators of every family and for scalar and value methods."""
    out: list[Case] = []
    for spec in specs:
        if spec.family is not None and spec.target.startswith("op:"):
            out += _operator_cases(spec)
    return out + _SCALAR
