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


def iter_refs(value: Any) -> Iterator[Ref]:
    """Every Ref inside an argument, looking through tuples, lists and dict values."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_refs(item)
    elif isinstance(value, slice):
        yield from iter_refs((value.start, value.stop, value.step))


def refs_of(action: Action) -> list[str]:
    """The ids an action reads, in order of first use, without repeats."""
    seen: dict[str, None] = {}
    for ref in iter_refs((action.args, action.kwargs)):
        seen.setdefault(ref.id, None)
    return list(seen)
