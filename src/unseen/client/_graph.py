"""The client's lazy graph: vertices that record actions until a result is needed."""

from __future__ import annotations

import uuid
import weakref
from typing import TYPE_CHECKING, Any

from unseen import ops

if TYPE_CHECKING:
    from unseen.client._pointer import Pointer


def new_id() -> str:
    return uuid.uuid4().hex


class Vertex:
    """One value in the graph: a leaf on the node, or the result of an action.

    ``materialized`` means the node holds the value under ``id``. Actions stay recorded
    after materializing so that descendants can still be evaluated on the mock.
    """

    __slots__ = (
        "id",
        "family",
        "action",
        "parents",
        "materialized",
        "info",
        "pointer",
        "call",
        "__weakref__",
    )

    def __init__(
        self,
        vertex_id: str,
        family: str,
        action: ops.Action | None = None,
        parents: tuple[Vertex, ...] = (),
        info: dict[str, Any] | None = None,
    ) -> None:
        self.id = vertex_id
        self.family = family
        self.action = action
        self.parents = parents
        self.materialized = action is None
        self.info = info
        self.pointer: weakref.ReferenceType[Pointer] | None = None
        #: for an action of a plan call: the call (``ops.PLAN_CALL``), the action's position
        #: in the plan, and the plan's number of actions
        self.call: tuple[ops.Action, int, int] | None = None

    def alive(self) -> bool:
        return self.pointer is not None and self.pointer() is not None


def pending(targets: list[Vertex]) -> list[Vertex]:
    """The vertices not yet on the node that the targets need, parents before children."""
    order: list[Vertex] = []
    seen: set[int] = set()
    stack: list[tuple[Vertex, bool]] = [(t, False) for t in reversed(targets)]
    while stack:
        vertex, expanded = stack.pop()
        if vertex.materialized or id(vertex) in seen and not expanded:
            continue
        if expanded:
            if id(vertex) not in seen:
                seen.add(id(vertex))
                order.append(vertex)
            continue
        stack.append((vertex, True))
        for parent in reversed(vertex.parents):
            if not parent.materialized and id(parent) not in seen:
                stack.append((parent, False))
    return order


def ancestry(target: Vertex) -> tuple[list[Vertex], list[Vertex]]:
    """All vertices the target derives from: (leaves, actions in order), for mock runs."""
    leaves: list[Vertex] = []
    order: list[Vertex] = []
    seen: set[int] = set()
    stack: list[tuple[Vertex, bool]] = [(target, False)]
    while stack:
        vertex, expanded = stack.pop()
        if expanded:
            order.append(vertex)
            continue
        if id(vertex) in seen:
            continue
        seen.add(id(vertex))
        if vertex.action is None:
            leaves.append(vertex)
            continue
        stack.append((vertex, True))
        for parent in reversed(vertex.parents):
            stack.append((parent, False))
    return leaves, order


def ship(order: list[Vertex]) -> list[ops.Action]:
    """The actions of ``order`` (parents before children) as they travel: the actions of a
    plan call go as the one call action, naming the positions needed when not all are (the
    node expands it to the same actions); the rest as themselves. A call goes where it can
    run: after every action its part needs, before any that uses its results."""
    if all(v.call is None for v in order):
        return [v.action for v in order if v.action is not None]
    units: dict[object, list[Vertex]] = {}
    key_of: dict[int, object] = {}
    for vertex in order:
        key: object = id(vertex) if vertex.call is None else id(vertex.call[0])
        units.setdefault(key, []).append(vertex)
        key_of[id(vertex)] = key
    out: list[ops.Action] = []
    done: set[object] = set()

    def emit(key: object) -> None:
        stack: list[tuple[object, bool]] = [(key, False)]
        while stack:
            unit, expanded = stack.pop()
            if unit in done:
                continue
            if expanded:
                done.add(unit)
                members = units[unit]
                first = members[0]
                if first.call is None:
                    assert first.action is not None
                    out.append(first.action)
                else:
                    call = first.call[0]
                    only = sorted(v.call[1] for v in members if v.call is not None)
                    if len(only) < first.call[2]:
                        call = ops.Action(call.id, call.kind, call.name, call.args, {"only": only})
                    out.append(call)
                continue
            stack.append((unit, True))
            for member in units[unit]:
                for parent in member.parents:
                    parent_unit = key_of.get(id(parent))
                    if parent_unit is not None and parent_unit != unit and parent_unit not in done:
                        stack.append((parent_unit, False))

    for vertex in order:
        emit(key_of[id(vertex)])
    return out
