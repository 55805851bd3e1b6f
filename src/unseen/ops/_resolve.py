"""From a spec to the Python callable that runs it (:func:`resolve_callable`).

Every callable takes the receiver first for methods and properties, then the positional
arguments, then keywords. Library functions are looked up by their qualified name on first
use, so importing :mod:`unseen.ops` imports neither torch nor pandas.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable
from functools import cache
from typing import Any

from unseen.ops._spec import OpSpec

__all__ = ["resolve_callable"]


def _round(value: Any, ndigits: Any = None) -> Any:
    """``round(value, ndigits)`` for scalars and pandas; numpy/torch round for arrays."""
    if hasattr(type(value), "__round__"):
        return round(value, ndigits)
    module = type(value).__module__.split(".")[0]
    if module == "torch":
        torch = importlib.import_module("torch")
        return torch.round(value, decimals=ndigits or 0)
    np = importlib.import_module("numpy")
    return np.round(value, ndigits or 0)


def _reflected(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(receiver: Any, other: Any) -> Any:
        return fn(other, receiver)

    return call


_OPERATORS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "matmul": operator.matmul,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
    "neg": operator.neg,
    "pos": operator.pos,
    "abs": operator.abs,
    "invert": operator.invert,
    "getitem": operator.getitem,
    "len": len,
    "round": _round,
}


def _operator(name: str) -> Callable[..., Any]:
    if name in _OPERATORS:
        return _OPERATORS[name]
    if name.startswith("r") and name[1:] in _OPERATORS:
        return _reflected(_OPERATORS[name[1:]])
    raise KeyError(f"unknown operator {name!r}")


def _method(name: str) -> Callable[..., Any]:
    def call(receiver: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(receiver, name)(*args, **kwargs)

    call.__name__ = name
    return call


def _function(qualified: str) -> Callable[..., Any]:
    module_name, _, attr = qualified.rpartition(".")
    module = importlib.import_module(module_name)
    fn = getattr(module, attr)
    if not callable(fn):
        raise TypeError(f"{qualified} is not callable")
    return fn  # type: ignore[no-any-return]


def _with_forced(fn: Callable[..., Any], forced: dict[str, Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs, **forced)

    return call


@cache
def resolve_callable(spec: OpSpec) -> Callable[..., Any]:
    """The callable that runs ``spec`` (receiver first for methods and properties)."""
    target = spec.target
    fn: Callable[..., Any]
    if target == "attr":
        fn = operator.attrgetter(spec.short)
    elif target == ".":
        fn = _method(spec.short)
    elif target.startswith("op:"):
        fn = _operator(target[3:])
    elif target.startswith("call:"):
        fn = _function(target[5:])
    else:
        fn = _function(target)
    if spec.forced:
        fn = _with_forced(fn, dict(spec.forced))
    return fn
