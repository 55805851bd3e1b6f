"""The client's lazy graph: vertices that record actions until a result is needed."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from unseen import ops

if TYPE_CHECKING:
    from unseen.client._pointer import Pointer
    from unseen.messages.objects import ObjectView


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
        info: ObjectView | None = None,
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


def post_order(targets: Iterable[Vertex], stop: Callable[[Vertex], bool]) -> list[Vertex]:
    """The vertices the targets derive from, each once, parents before children. The walk
    ends at a vertex for which ``stop(vertex)`` is true (asked once per vertex, on the way
    up; such a vertex is not in the result): the caller collects what it needs there."""
    order: list[Vertex] = []
    seen: set[int] = set()
    stack: list[tuple[Vertex, bool]] = [(t, False) for t in reversed(list(targets))]
    while stack:
        vertex, expanded = stack.pop()
        if expanded:
            order.append(vertex)
            continue
        if id(vertex) in seen:
            continue
        seen.add(id(vertex))
        if stop(vertex):
            continue
        stack.append((vertex, True))
        for parent in reversed(vertex.parents):
            stack.append((parent, False))
    return order


def ancestry(target: Vertex) -> tuple[list[Vertex], list[Vertex]]:
    """All vertices the target derives from: (leaves, actions in order), for mock runs."""
    leaves: list[Vertex] = []

    def leaf(vertex: Vertex) -> bool:
        if vertex.action is None:
            leaves.append(vertex)
            return True
        return False

    order = post_order([target], leaf)
    return leaves, order


def ship(order: list[Vertex]) -> list[ops.Action]:
    """The actions of ``order`` (parents before children) as they travel: the actions of a
    plan call go as the one call action, naming the positions needed when not all are (the
    node expands it to the same actions); the rest as themselves. A call goes where it can
    run: after every action its part needs, before any that uses its results."""
    if all(v.call is None for v in order):
        return [v.action for v in order if v.action is not None]
    units: dict[object, list[Vertex]] = {}
    key_of: dict[str, object] = {}  # by vertex id: a copy made for shipping stands for its vertex
    for vertex in order:
        key: object = vertex.id if vertex.call is None else id(vertex.call[0])
        units.setdefault(key, []).append(vertex)
        key_of[vertex.id] = key
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
                    parent_unit = key_of.get(parent.id)
                    if parent_unit is not None and parent_unit != unit and parent_unit not in done:
                        stack.append((parent_unit, False))

    for vertex in order:
        emit(key_of[vertex.id])
    return out


def _gradient_paths(order: list[Vertex]) -> list[Vertex]:
    """Vertices the node holds already (computed in an earlier run) that lie between a
    gradient's loss and its inputs in ``order``: the node has their values without the
    operations that led to them, so a gradient through them would miss those."""
    grads = [v for v in order if v.action is not None and v.action.name == ops.GRAD
             and v.action.kind == "function"]  # fmt: skip
    if not grads:
        return []
    inputs = {r.id for g in grads for r in ops.iter_refs(g.action.args[1:] if g.action else ())}
    reach: dict[int, bool] = {}
    stale: list[Vertex] = []
    stack: list[tuple[Vertex, bool]] = [(p, False) for g in grads for p in g.parents]
    while stack:
        vertex, expanded = stack.pop()
        if expanded:
            reach[id(vertex)] = any(reach.get(id(p), False) for p in vertex.parents)
            if reach[id(vertex)] and vertex.materialized:
                stale.append(vertex)
            continue
        if id(vertex) in reach:
            continue
        if vertex.id in inputs or vertex.action is None:
            reach[id(vertex)] = vertex.id in inputs
            continue
        reach[id(vertex)] = False  # on the stack: no cycles in a graph, but visit once
        stack.append((vertex, True))
        stack.extend((p, False) for p in vertex.parents if id(p) not in reach)
    return stale


def regrow(targets: list[Vertex], order: list[Vertex]) -> tuple[list[Vertex], list[Vertex]]:
    """What to run for ``targets`` when a gradient in ``order`` goes through values the node
    holds already: those values computed again, under new ids, from what they derive from.
    Returns (the vertices to run, as the client knows them; the same as they travel)."""
    stale = _gradient_paths(order)
    if not stale:
        return order, order
    for vertex in stale:
        vertex.materialized = False
    try:
        order = pending(targets)
    finally:
        for vertex in stale:
            vertex.materialized = True
    stale_ids = {id(v) for v in stale}
    renamed: dict[str, ops.Ref] = {}
    changed: set[int] = set()
    for vertex in order:
        assert vertex.action is not None
        refs = ops.iter_refs((vertex.action.args, vertex.action.kwargs))
        if id(vertex) in stale_ids or any(r.id in renamed for r in refs):
            changed.add(id(vertex))
            if id(vertex) in stale_ids:
                renamed[vertex.id] = ops.Ref(new_id())
    # a plan call with a changed action travels as its actions (the node would expand the
    # stored plan's, with the old references)
    broken = {id(v.call[0]) for v in order if id(v) in changed and v.call is not None}
    copies: dict[int, Vertex] = {}
    shipped: list[Vertex] = []
    for vertex in order:
        action = vertex.action
        assert action is not None
        if id(vertex) not in changed and (vertex.call is None or id(vertex.call[0]) not in broken):
            shipped.append(vertex)
            continue
        new = renamed[action.id].id if id(vertex) in stale_ids else action.id
        args, kwargs = (ops.bind_refs(x, _Keep(renamed)) for x in (action.args, action.kwargs))
        parents = tuple(copies.get(id(p), p) for p in vertex.parents)
        copy = Vertex(new, vertex.family, ops.Action(new, action.kind, action.name, args, kwargs),
                      parents)  # fmt: skip
        copies[id(vertex)] = copy
        shipped.append(copy)
    order = [v for v in order if id(v) not in stale_ids]
    return order, shipped


class _Keep(dict[str, ops.Ref]):
    """Refs not renamed stay themselves."""

    def __missing__(self, key: str) -> ops.Ref:
        return ops.Ref(key)
