"""The client's lazy graph: vertices that record actions until a result is needed."""

from __future__ import annotations

import uuid
import weakref
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
