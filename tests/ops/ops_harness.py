"""Test harness for the vocabulary: a case, the oracle (the library called directly), a strict
comparison, and running one case through ``execute``."""

from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from unseen.ops import Action, ExecutionError, OpSpec, Ref, execute

__all__ = ["Case", "C", "E", "oracle", "assert_same", "run_case", "snapshot"]


@dataclass
class Case:
    """``op`` called with ``args`` (receiver first for methods and properties)."""

    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    raises: bool = False  # the library itself raises here (the error path is what is tested)

    def __repr__(self) -> str:
        return self.op


def C(op: str, *args: Any, **kwargs: Any) -> Case:
    return Case(op, args, kwargs)


def E(op: str, *args: Any, **kwargs: Any) -> Case:
    """A case where the library raises: execute must raise ExecutionError wrapping the same."""
    return Case(op, args, kwargs, raises=True)


def _round(value: Any, ndigits: Any = None) -> Any:
    if isinstance(value, np.ndarray):
        return np.round(value, ndigits or 0)
    if isinstance(value, torch.Tensor):
        return torch.round(value, decimals=ndigits or 0)
    return round(value, ndigits)


_DUNDERS: dict[str, Any] = {
    "__add__": lambda a, b: a + b,
    "__radd__": lambda a, b: b + a,
    "__sub__": lambda a, b: a - b,
    "__rsub__": lambda a, b: b - a,
    "__mul__": lambda a, b: a * b,
    "__rmul__": lambda a, b: b * a,
    "__truediv__": lambda a, b: a / b,
    "__rtruediv__": lambda a, b: b / a,
    "__floordiv__": lambda a, b: a // b,
    "__rfloordiv__": lambda a, b: b // a,
    "__mod__": lambda a, b: a % b,
    "__rmod__": lambda a, b: b % a,
    "__pow__": lambda a, b: a**b,
    "__rpow__": lambda a, b: b**a,
    "__matmul__": lambda a, b: a @ b,
    "__rmatmul__": lambda a, b: b @ a,
    "__and__": lambda a, b: a & b,
    "__rand__": lambda a, b: b & a,
    "__or__": lambda a, b: a | b,
    "__ror__": lambda a, b: b | a,
    "__xor__": lambda a, b: a ^ b,
    "__rxor__": lambda a, b: b ^ a,
    "__lt__": lambda a, b: a < b,
    "__le__": lambda a, b: a <= b,
    "__gt__": lambda a, b: a > b,
    "__ge__": lambda a, b: a >= b,
    "__eq__": lambda a, b: a == b,
    "__ne__": lambda a, b: a != b,
    "__neg__": lambda a: -a,
    "__pos__": lambda a: +a,
    "__abs__": abs,
    "__invert__": lambda a: ~a,
    "__getitem__": lambda a, k: a[k],
    "__len__": len,
    "__round__": _round,
}


def oracle(spec: OpSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call the library directly, the way a user would."""
    if spec.kind == "function":
        namespace, _, short = spec.name.rpartition(".")
        fn = getattr(importlib.import_module(namespace), short)
        return fn(*args, **kwargs, **dict(spec.forced))
    receiver, rest = args[0], args[1:]
    if spec.kind == "attr":
        return getattr(receiver, spec.short)
    if spec.short in _DUNDERS:
        return _DUNDERS[spec.short](receiver, *rest)
    return getattr(receiver, spec.short)(*rest, **kwargs)


def _scalar_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, complex) and isinstance(b, complex):
        return _scalar_equal(a.real, b.real) and _scalar_equal(a.imag, b.imag)
    return bool(a == b)


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal values of the same type (and dtype), NaN equal to NaN."""
    assert type(got) is type(want), f"{where}: type {type(got)} != {type(want)}"
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
        assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype, where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, torch.Tensor):
        assert got.dtype == want.dtype and got.shape == want.shape, where
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, pd.Index):
        pd.testing.assert_index_equal(got, want, exact=True)
    elif isinstance(want, (pd.api.typing.DataFrameGroupBy, pd.api.typing.SeriesGroupBy)):
        assert_same(got.size(), want.size(), where)
    elif type(want).__module__ == "pandas.core.indexing":
        assert_same(got.obj, want.obj, where)
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    else:
        assert _scalar_equal(got, want), f"{where}: {got!r} != {want!r}"


def snapshot(value: Any) -> Any:
    """A deep copy for checking that nothing changed a value."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return value.copy(deep=True)
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(snapshot(v) for v in value)
    return value


_AS_REF = (np.ndarray, torch.Tensor, pd.DataFrame, pd.Series, pd.Index)


def _to_refs(value: Any, env: dict[str, Any], top: bool = False) -> Any:
    """Put arrays, tensors, pandas objects (and any receiver) in ``env``; return Refs."""
    if top or isinstance(value, _AS_REF) or type(value).__module__.startswith("pandas.core"):
        rid = f"in{len(env)}"
        env[rid] = value
        return Ref(rid)
    if type(value) is tuple:
        return tuple(_to_refs(v, env) for v in value)
    if type(value) is list:
        return [_to_refs(v, env) for v in value]
    if type(value) is dict:
        return {k: _to_refs(v, env) for k, v in value.items()}
    return value


def run_case(spec: OpSpec, case: Case) -> None:
    """Run ``case`` through ``execute`` and directly; same value, or the same exception; the
    inputs unchanged."""
    env: dict[str, Any] = {}
    args = tuple(
        _to_refs(a, env, top=(i == 0 and spec.kind != "function")) for i, a in enumerate(case.args)
    )
    kwargs = {k: _to_refs(v, env) for k, v in case.kwargs.items()}
    before = {k: snapshot(v) for k, v in env.items()}
    action = Action(
        "out", spec.kind, spec.name if spec.kind == "function" else spec.short, args, kwargs
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            want = oracle(spec, case.args, case.kwargs)
        except Exception as exc:
            assert case.raises, f"{case.op}: the oracle raised {exc!r}; fix the case"
            try:
                execute([action], env)
            except ExecutionError as got:
                assert isinstance(got.original, type(exc)), (
                    f"{case.op}: {got.original!r} vs {exc!r}"
                )
                return
            raise AssertionError(f"{case.op}: the library raised {exc!r}, execute did not") from exc
        got = execute([action], env)["out"]
    assert_same(got, want, case.op)
    for key, value in before.items():
        if type(value) is type(env[key]):
            assert_same(env[key], value, f"{case.op}: input {key} changed")
