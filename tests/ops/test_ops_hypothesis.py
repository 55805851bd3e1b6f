"""Property tests: elementwise functions and reductions through execute equal the library on
random shapes and dtypes."""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops_harness import Case, run_case

from unseen.ops._registry import all_specs

_SPECS = all_specs()
_UNARY = [
    s
    for s in _SPECS
    if s.category == "elementwise" and s.namespace == "numpy" and s.params == ("x",)
]
_BINARY = [
    s
    for s in _SPECS
    if s.category == "elementwise" and s.namespace == "numpy" and s.params[:2] == ("x1", "x2")
]
_REDUCE = [
    s
    for s in _SPECS
    if s.category == "reduction" and s.namespace == "numpy" and s.params[:2] == ("a", "axis")
]
_TORCH = [s for s in _SPECS if s.namespace == "torch" and s.category in ("elementwise", "reduction")
          and s.params in (("input",), ("input", "other"), ("input", "dim", "keepdim"))]  # fmt: skip

_DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_])
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def _arrays(shape: tuple[int, ...] | st.SearchStrategy = _SHAPES) -> st.SearchStrategy:
    return _DTYPES.flatmap(
        lambda dt: hnp.arrays(
            dt,
            shape,
            elements=hnp.from_dtype(
                np.dtype(dt), allow_nan=True, allow_infinity=True, min_value=-50, max_value=50
            )
            if np.dtype(dt).kind in "iu"
            else hnp.from_dtype(np.dtype(dt)),
        )
    )


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(spec=st.sampled_from(_UNARY), x=_arrays())
def test_numpy_unary(spec, x) -> None:  # type: ignore[no-untyped-def]
    run_case(spec, Case(spec.name, (x,), raises=True))


@_SETTINGS
@given(
    spec=st.sampled_from(_BINARY),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    data=st.data(),
)
def test_numpy_binary_broadcasting(spec, shape, data) -> None:  # type: ignore[no-untyped-def]
    x = data.draw(_arrays(shape))
    y = data.draw(_arrays(hnp.broadcastable_shapes(shape, max_side=4)))
    run_case(spec, Case(spec.name, (x, y), raises=True))


@_SETTINGS
@given(
    spec=st.sampled_from(_REDUCE),
    x=_arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    data=st.data(),
)
def test_numpy_reductions(spec, x, data) -> None:  # type: ignore[no-untyped-def]
    axis = data.draw(st.none() | st.integers(0, x.ndim - 1))
    run_case(spec, Case(spec.name, (x, axis), raises=True))


@_SETTINGS
@given(
    spec=st.sampled_from(_TORCH),
    x=_arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    data=st.data(),
)
def test_torch_elementwise_and_reductions(spec, x, data) -> None:  # type: ignore[no-untyped-def]
    t = torch.from_numpy(np.ascontiguousarray(x))
    if spec.params == ("input",):
        args: tuple = (t,)
    elif spec.params[1] == "other":
        args = (t, torch.from_numpy(np.ascontiguousarray(data.draw(_arrays(x.shape)))))
    else:
        args = (t, data.draw(st.integers(0, x.ndim - 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_case(spec, Case(spec.name, args, raises=True))
