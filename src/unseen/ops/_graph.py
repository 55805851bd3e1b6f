"""The data of a computation graph: references to objects and the actions that use them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

ActionKind = Literal["method", "function", "attr"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference, inside an action's arguments, to an object by id (on the node or earlier
    in the same graph)."""

    id: str


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a graph: ``id = receiver.name(*args, **kwargs)`` or ``id = name(*args)``.

    kind "method": ``args[0]`` is the receiver (a Ref) and ``name`` a method of its family,
    e.g. ``"sum"`` or ``"__add__"``. kind "function": ``name`` is qualified by its namespace,
    e.g. ``"numpy.log"`` or ``"torch.nn.functional.relu"``. kind "attr": ``args == (receiver,)``
    and ``name`` is a property such as ``"T"`` or ``"loc"``.
    """

    id: str
    kind: ActionKind
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name for messages: ``sum``, ``numpy.log``, ``.T``."""
        return "." + self.name if self.kind == "attr" else self.name


_NO_REFS = frozenset({bool, int, float, complex, str, bytes, type(None)})


def _collect(value: Any, out: list[Ref]) -> None:
    cls = type(value)
    if cls in _NO_REFS:  # the common case, without the isinstance chain
        return
    if isinstance(value, Ref):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _collect(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, out)
    elif isinstance(value, slice):
        _collect((value.start, value.stop, value.step), out)


def iter_refs(value: Any) -> Iterator[Ref]:
    """Every Ref inside an argument, looking through tuples, lists and dict values."""
    out: list[Ref] = []
    _collect(value, out)
    return iter(out)


def refs_of(action: Action) -> list[str]:
    """The ids an action reads, in order of first use, without repeats."""
    out: list[Ref] = []
    _collect(action.args, out)
    if action.kwargs:
        _collect(action.kwargs, out)
    return list(dict.fromkeys(ref.id for ref in out))
