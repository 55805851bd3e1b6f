"""Argument checks: the kinds of value an action may carry, and the op-specific validators for
arguments whose strings select behaviour (dtypes, aggregation names, einsum subscripts, pad
modes).

Allowed kinds, recursively: :class:`Ref`, ``None``, ``...``, bool, int, float, complex, str
(up to :data:`MAX_STR` characters), slices of ints/None/Refs, tuples and lists of allowed
kinds, dicts with scalar keys, numpy scalars, dtypes and arrays (not of object dtype), torch
dtypes and tensors, pandas DataFrame/Series/Index constants. Type objects (``float``,
``numpy.float32``) only where a dtype is expected. Never callables, modules or classes.
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from unseen.errors import OperationNotAllowed
from unseen.ops._families import SCALAR_TYPES, is_pandas_object, is_tensor
from unseen.ops._graph import Ref
from unseen.ops._spec import OpSpec

__all__ = ["MAX_STR", "AGGREGATIONS", "bind", "check_arg", "check_call", "VALIDATORS"]

#: The longest string argument.
MAX_STR = 10_000
#: The deepest nesting of tuples, lists and dicts in an argument.
MAX_DEPTH = 32
#: The largest integer argument, in bits.
MAX_INT_BITS = 1024
#: The largest itemsize of a dtype argument (string and void dtypes), in bytes.
MAX_ITEMSIZE = 65_536

#: The aggregation names that pandas ``agg``/``transform``/``pivot_table`` may look up.
AGGREGATIONS = frozenset(
    "sum mean median min max count std var size first last nunique prod".split()
)

_NEVER_KWARGS = {"out": "in-place", "inplace": "in-place"}

_DTYPE_TYPES: frozenset[type] = frozenset(SCALAR_TYPES)
_PLAIN_NUMBERS: frozenset[type] = frozenset({bool, float})


def _kind_name(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return "a module"
    if isinstance(value, type):
        return f"a class ({value.__name__})"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "a function"
    if callable(value):
        return f"a callable {type(value).__name__}"
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return f"a numpy value of dtype {value.dtype}"
    return f"a {type(value).__module__}.{type(value).__qualname__}"


def _refuse(where: str, value: Any, why: str = "") -> OperationNotAllowed:
    why = why or (
        "only constants (numbers, strings, slices, tuples/lists/dicts of them, numpy/torch/pandas "
        "values) and pointers may be arguments"
    )
    return OperationNotAllowed(f"{where} is {_kind_name(value)}; {why}.")


def _is_dtype_type(value: Any) -> bool:
    return isinstance(value, type) and (
        value in _DTYPE_TYPES or (issubclass(value, np.generic) and value is not np.object_)
    )


def check_arg(value: Any, where: str, *, dtype_ok: bool = False, depth: int = 0) -> None:
    """Raise :class:`OperationNotAllowed` unless ``value`` is of an allowed kind."""
    cls = type(value)
    if cls in SCALAR_TYPES:
        if cls is str and len(value) > MAX_STR:
            raise OperationNotAllowed(
                f"{where} is a string of {len(value)} characters; at most {MAX_STR} are allowed."
            )
        if cls is int and value.bit_length() > MAX_INT_BITS:
            raise OperationNotAllowed(f"{where} is an integer of over {MAX_INT_BITS} bits.")
        return
    if value is None or value is Ellipsis or cls is Ref:
        return
    if depth > MAX_DEPTH:
        raise OperationNotAllowed(f"{where} is nested deeper than {MAX_DEPTH} levels.")
    if cls in (tuple, list):
        if {type(item) for item in value} <= _PLAIN_NUMBERS:
            return
        for item in value:
            check_arg(item, where, dtype_ok=dtype_ok, depth=depth + 1)
        return
    if cls is dict:
        for key, item in value.items():
            if (
                key is not None
                and type(key) not in SCALAR_TYPES
                and not isinstance(key, np.generic)
            ):
                raise _refuse(f"a dict key in {where}", key, "dict keys must be numbers or strings")
            check_arg(key, where, depth=depth + 1)
            check_arg(item, where, dtype_ok=dtype_ok, depth=depth + 1)
        return
    if cls is slice:
        for part in (value.start, value.stop, value.step):
            if (
                part is not None
                and type(part) not in (int, Ref)
                and not isinstance(part, np.integer)
            ):
                raise _refuse(
                    f"a slice bound in {where}",
                    part,
                    "slice bounds must be integers, None or pointers",
                )
        return
    if isinstance(value, np.generic):
        if value.dtype.hasobject:
            raise _refuse(where, value, "object values are not allowed")
        return
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise _refuse(where, value, "arrays of object dtype may hold arbitrary objects")
        return
    if isinstance(value, np.dtype):
        _check_np_dtype(value, where)
        return
    if dtype_ok and _is_dtype_type(value):
        return
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.dtype):
        return
    if is_tensor(value) or is_pandas_object(value):
        return
    raise _refuse(where, value)


def _check_np_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.hasobject:
        raise OperationNotAllowed(
            f"{where} is an object dtype; results of object dtype are not allowed."
        )
    if dtype.itemsize > MAX_ITEMSIZE:
        raise OperationNotAllowed(
            f"{where} is a dtype of {dtype.itemsize} bytes per element; at most {MAX_ITEMSIZE}."
        )


def bind(spec: OpSpec, positional: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> value, for the positional (after the receiver) and keyword arguments."""
    out: dict[str, Any] = {}
    n = len(spec.params)
    for i, value in enumerate(positional[:n]):
        out[spec.params[i]] = value
    if spec.varargs is not None and len(positional) > n:
        out[spec.varargs] = tuple(positional[n:])
    out.update(kwargs)
    return out


def check_call(spec: OpSpec, positional: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Static checks of one call: counts, keyword names, argument kinds, validators."""
    label = spec.name
    if len(positional) > spec.max_positional:
        raise OperationNotAllowed(
            f"{label} takes at most {spec.max_positional} positional argument(s) here, got "
            f"{len(positional)}; pass the others by keyword ({_allowed(spec)})."
        )
    for i, value in enumerate(positional):
        param = spec.param_name(i)
        check_arg(value, f"argument {i + 1} of {label}", dtype_ok=param == "dtype")
    forced = {name for name, _ in spec.forced}
    for key, value in kwargs.items():
        if type(key) is not str:
            raise OperationNotAllowed(f"keyword names must be strings in {label}")
        if key in _NEVER_KWARGS:
            raise OperationNotAllowed(
                f"keyword '{key}' is never allowed ({label}): in-place operations are not allowed; "
                "every result is a new object."
            )
        if key in forced:
            raise OperationNotAllowed(
                f"keyword '{key}' of {label} is fixed on a node and cannot be set."
            )
        if key not in spec.kwargs and "**" not in spec.kwargs:
            raise OperationNotAllowed(
                f"keyword '{key}' is not allowed for {label}; allowed: {_allowed(spec)}."
            )
        check_arg(value, f"keyword '{key}' of {label}", dtype_ok=key == "dtype")
    if spec.checks:
        bound = bind(spec, positional, kwargs)
        for name in spec.checks:
            VALIDATORS[name](spec, bound)


def _allowed(spec: OpSpec) -> str:
    names = sorted(k for k in spec.kwargs if k != "**")
    return ", ".join(names) if names else "none"


# -- validators ------------------------------------------------------------------------------

_PANDAS_DTYPE = re.compile(
    r"(category|string|str|boolean|U?Int(8|16|32|64)|Float(32|64)"
    r"|(string|str)\[(python|pyarrow)\]|[a-z0-9_]+\[pyarrow\]"
    r"|datetime64\[(ns|us|ms|s)(, [A-Za-z0-9_/+\-]+)?\]|timedelta64\[(ns|us|ms|s)\])"
)


def _check_dtype_value(value: Any, where: str) -> None:
    if value is None or is_torch_dtype(value) or _is_dtype_type(value):
        return
    if isinstance(value, Ref):
        raise OperationNotAllowed(f"{where} must be given as a constant, not a pointer.")
    if isinstance(value, np.dtype):
        _check_np_dtype(value, where)
        return
    if isinstance(value, dict):
        for item in value.values():
            _check_dtype_value(item, where)
        return
    if isinstance(value, str):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = np.dtype(value)
        except (TypeError, ValueError):
            if _PANDAS_DTYPE.fullmatch(value):
                return
            raise OperationNotAllowed(
                f"{where} is {value!r}, which is not a known dtype."
            ) from None
        _check_np_dtype(parsed, f"{where} ({value!r})")
        return
    raise _refuse(where, value, "a dtype must be a dtype, a type such as float, or a dtype name")


def is_torch_dtype(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.dtype)


def _v_dtype(spec: OpSpec, bound: dict[str, Any]) -> None:
    if "dtype" in bound:
        _check_dtype_value(bound["dtype"], f"the dtype of {spec.name}")


def _is_agg_name(value: Any) -> bool:
    return isinstance(value, str) and value in AGGREGATIONS


def _check_agg(value: Any, where: str) -> None:
    if value is None or _is_agg_name(value):
        return
    if isinstance(value, (list, tuple)) and value and all(_is_agg_name(v) for v in value):
        return
    if isinstance(value, dict) and all(
        _is_agg_name(v) or isinstance(v, (list, tuple)) and all(_is_agg_name(x) for x in v)
        for v in value.values()
    ):
        return
    raise OperationNotAllowed(
        f"{where} must name aggregations from {', '.join(sorted(AGGREGATIONS))} (a name, a list "
        "of names, or a dict of them), given as constants; functions are never allowed."
    )


def _v_agg(spec: OpSpec, bound: dict[str, Any]) -> None:
    for key in ("func", "aggfunc"):
        if key in bound:
            _check_agg(bound[key], f"the aggregation of {spec.name}")
    named = set(bound) - spec.kwargs - set(spec.params)
    for key in named:
        value = bound[key]
        if isinstance(value, tuple) and len(value) == 2:
            _check_agg(value[1], f"the named aggregation '{key}' of {spec.name}")
        elif isinstance(value, (str, Ref)):
            _check_agg(value, f"the named aggregation '{key}' of {spec.name}")


_EINSUM = re.compile(r"[A-Za-z ,.]*(->[A-Za-z .]*)?")


def _v_einsum(spec: OpSpec, bound: dict[str, Any]) -> None:
    subscripts = bound.get(spec.params[0])
    if not isinstance(subscripts, str) or not _EINSUM.fullmatch(subscripts):
        raise OperationNotAllowed(
            f"the subscripts of {spec.name} must be a constant string of letters, ',', '->', '...' "
            "and spaces."
        )


_NUMPY_PAD_MODES = frozenset(
    "constant edge linear_ramp maximum mean median minimum reflect symmetric wrap".split()
)


def _v_pad_mode(spec: OpSpec, bound: dict[str, Any]) -> None:
    mode = bound.get("mode", "constant")
    if mode not in _NUMPY_PAD_MODES:
        raise OperationNotAllowed(
            f"the mode of {spec.name} must be one of {', '.join(sorted(_NUMPY_PAD_MODES))}."
        )


def _v_constant_pad(spec: OpSpec, bound: dict[str, Any]) -> None:
    if bound.get("mode", "constant") not in ("constant", None):
        raise OperationNotAllowed(f"{spec.name} allows only mode='constant'.")


def _v_torch_dtype(spec: OpSpec, bound: dict[str, Any]) -> None:
    if not is_torch_dtype(bound.get("dtype")):
        raise OperationNotAllowed(
            f"{spec.name} allows only a torch dtype (e.g. torch.float32); device moves are not allowed."
        )


VALIDATORS: dict[str, Callable[[OpSpec, dict[str, Any]], None]] = {
    "dtype": _v_dtype,
    "agg": _v_agg,
    "einsum": _v_einsum,
    "pad_mode": _v_pad_mode,
    "constant_pad": _v_constant_pad,
    "torch_dtype": _v_torch_dtype,
}
