"""An action's arguments by parameter name, from its vocabulary entry (:func:`bind`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen import ops

__all__ = ["Bound", "bind"]


@dataclass(frozen=True)
class Bound:
    """``short`` name, the receiver (the data argument of a function), and the other
    arguments by parameter name (positional ones under their names, ``_1``... past them)."""

    short: str
    kind: str
    receiver: Any
    args: dict[str, Any]
    positional: tuple[Any, ...]

    def get(self, *names: str, default: Any = None) -> Any:
        for name in names:
            if name in self.args:
                return self.args[name]
        return default

    def has(self, *names: str) -> bool:
        return any(name in self.args for name in names)


def bind(action: ops.Action, family: str | None) -> Bound:
    """Bind ``action`` for a receiver of ``family`` (ignored for functions)."""
    short = action.name.rsplit(".", 1)[-1] if action.kind == "function" else action.name
    if action.kind == "attr":
        return Bound(short, "attr", action.args[0], {}, ())
    if action.kind == "function":
        spec = ops.lookup_function(action.name)
        params = spec.params
        receiver = action.args[0] if action.args else None
        rest = tuple(action.args[1:])
        names = params[1:] if params else ()
    else:
        spec = ops.lookup_method(family or "value", action.name)
        receiver = action.args[0]
        rest = tuple(action.args[1:])
        names = spec.params
    args: dict[str, Any] = {}
    for i, value in enumerate(rest):
        args[names[i] if i < len(names) else f"_{i + 1}"] = value
    args.update(action.kwargs)
    if action.kind == "function" and not action.args and params:
        receiver = action.kwargs.get(params[0])
        args.pop(params[0], None)
    return Bound(short, action.kind, receiver, args, rest)
