"""Human-readable lines for an owner reviewing a graph (:func:`render`).

``x3 = x1.sum(axis=0)``, ``x4 = numpy.log(x3)``, ``x5 = x4 + 1``, ``x6 = x5[0:2]``. Arrays,
tensors and pandas constants show as ``<ndarray float64 (3,)>``, with their values only when
they are tiny; long strings and sequences are cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from unseen.ops._families import is_pandas_object, is_tensor
from unseen.ops._graph import Action, Ref, refs_of

__all__ = ["render"]

_INFIX = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and": "&", "or": "|", "xor": "^", "lt": "<", "le": "<=",
    "gt": ">", "ge": ">=", "eq": "==", "ne": "!=",
}  # fmt: skip
_PREFIX = {"neg": "-", "pos": "+", "invert": "~"}
_MAX_ITEMS = 8
_MAX_STR = 40
_TINY = 6


def _short_names(actions: Sequence[Action], names: Mapping[str, str] | None) -> dict[str, str]:
    ids: dict[str, None] = {}
    for action in actions:
        for arg in refs_of(action):
            ids.setdefault(arg, None)
        ids.setdefault(action.id, None)
    out: dict[str, str] = dict(names or {})
    used: set[str] = set(out.values())
    for rid in ids:
        if rid in out:
            continue
        short = rid if len(rid) <= 8 and rid.isidentifier() else "x" + rid[-6:]
        if short in used:
            short = rid
        out[rid] = short
        used.add(short)
    return out


def _array(kind: str, dtype: Any, shape: Any, values: Any, size: int) -> str:
    if size <= _TINY:
        return f"{kind}({values})"
    return f"<{kind} {dtype} {tuple(shape)}>"


def _value(value: Any, names: Mapping[str, str]) -> str:
    if isinstance(value, Ref):
        return names.get(value.id, value.id)
    if type(value) is int and value.bit_length() > 256:
        return f"<int of {value.bit_length()} bits>"
    if isinstance(value, str):
        text = value if len(value) <= _MAX_STR else value[:_MAX_STR] + "..."
        return repr(text) + ("" if len(value) <= _MAX_STR else f" ({len(value)} chars)")
    if value is Ellipsis:
        return "..."
    if isinstance(value, slice):
        parts = [
            _value(p, names) if p is not None else "" for p in (value.start, value.stop, value.step)
        ]
        return ":".join(parts[:2]) + (f":{parts[2]}" if value.step is not None else "")
    if isinstance(value, (list, tuple)):
        items = [_value(v, names) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"... ({len(value)} items)")
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        items = [
            f"{_value(k, names)}: {_value(v, names)}" for k, v in list(value.items())[:_MAX_ITEMS]
        ]
        if len(value) > _MAX_ITEMS:
            items.append(f"... ({len(value)} items)")
        return "{" + ", ".join(items) + "}"
    if isinstance(value, np.ndarray):
        return _array(
            "ndarray",
            value.dtype,
            value.shape,
            value.tolist() if value.size <= _TINY else None,
            value.size,
        )
    if is_tensor(value):
        n = value.numel()
        return _array(
            "tensor",
            str(value.dtype).replace("torch.", ""),
            value.shape,
            value.tolist() if n <= _TINY else None,
            n,
        )
    if is_pandas_object(value):
        return f"<{type(value).__name__} {tuple(value.shape)}>"
    if isinstance(value, np.generic):
        return f"numpy.{type(value).__name__}({value.item()!r})"
    if isinstance(value, type):
        return (
            f"{value.__module__}.{value.__qualname__}"
            if value.__module__ != "builtins"
            else value.__name__
        )
    text = repr(value)
    return text if len(text) <= _MAX_STR else text[:_MAX_STR] + "..."


def _call_args(args: Sequence[Any], kwargs: Mapping[str, Any], names: Mapping[str, str]) -> str:
    parts = [_value(a, names) for a in args]
    parts += [f"{k}={_value(v, names)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _key(value: Any, names: Mapping[str, str]) -> str:
    if isinstance(value, tuple) and value:
        return ", ".join(_value(v, names) for v in value)
    return _value(value, names)


def _line(action: Action, names: Mapping[str, str]) -> str:
    target = names[action.id]
    if action.kind == "function":
        return f"{target} = {action.name}({_call_args(action.args, action.kwargs, names)})"
    receiver, rest = _value(action.args[0], names) if action.args else "?", action.args[1:]
    name = action.name
    if action.kind == "attr":
        return f"{target} = {receiver}.{name}"
    op = name[2:-2] if name.startswith("__") and name.endswith("__") else None
    if op is not None and not action.kwargs:
        if op in _INFIX and len(rest) == 1:
            return f"{target} = {receiver} {_INFIX[op]} {_value(rest[0], names)}"
        if op.startswith("r") and op[1:] in _INFIX and len(rest) == 1:
            return f"{target} = {_value(rest[0], names)} {_INFIX[op[1:]]} {receiver}"
        if op in _PREFIX and not rest:
            return f"{target} = {_PREFIX[op]}{receiver}"
        if op in ("abs", "len", "round"):
            return f"{target} = {op}({_call_args((action.args[0], *rest), {}, names)})"
        if op == "getitem" and len(rest) == 1:
            return f"{target} = {receiver}[{_key(rest[0], names)}]"
    return f"{target} = {receiver}.{name}({_call_args(rest, action.kwargs, names)})"


def render(actions: Sequence[Action], names: Mapping[str, str] | None = None) -> list[str]:
    """One readable line per action. ``names`` may give display names for ids (e.g. a
    dataset's asset names); other ids show as themselves if short, else as ``x`` and their
    last 6 characters."""
    actions = list(actions)
    short = _short_names(actions, names)
    return [_line(action, short) for action in actions]
