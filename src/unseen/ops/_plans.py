"""Plans: a graph of actions traced once, stored on a node, and run by id (:class:`PlanGraph`).

A plan's actions refer to its inputs by placeholder ids (``i0``, ``i1``, ...) and to each
other by local ids (``a0``, ``a1``, ...). A call is one small action,
``Action(call_id, "function", PLAN_CALL, (plan_object_id, (Ref, ...)))``, which
:func:`expand_call` turns back into the plan's actions with ids derived from the call's id
(``<call_id>n<j>``) and the placeholders bound to the call's inputs: the client records the
expanded actions in its lazy graph and ships the call; the node expands the same call from
the stored plan to the same ids, then checks and runs them like any other graph. A plan adds
nothing to what may run: every expanded action passes the vocabulary and the release rule.

:func:`plan_hash` is a sha256 of a canonical encoding (serde) of the graph: the same code
traced on the same architecture gives the same hash in every process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from unseen.errors import DecodeError, OperationNotAllowed, UsageError
from unseen.ops._graph import Action, Ref, iter_refs
from unseen.ops._render import render

__all__ = [
    "PLAN_CALL",
    "PlanGraph",
    "bind_refs",
    "call_ids",
    "decode_plan",
    "encode_plan",
    "expand_call",
    "expand_calls",
    "plan_hash",
    "plan_hashes",
    "render_plan",
]

#: The name of the action that calls a stored plan (expanded before anything is checked).
PLAN_CALL = "unseen.plan"
_FORMAT = "unseen.plan/1"
_HEADER = re.compile(r"plan ([A-Za-z_][A-Za-z0-9_]*) sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class PlanGraph:
    """A traced plan: ``inputs`` are (placeholder id, display name, description) in call
    order, ``actions`` use placeholder and local ids, ``outputs`` are the ids it returns
    (the function's results, then the parameters and gradients it changes)."""

    name: str
    inputs: tuple[tuple[str, str, str], ...]
    actions: tuple[Action, ...]
    outputs: tuple[tuple[str, str], ...]  # (role, id): role names what the output is

    def canonical(self) -> tuple[Any, ...]:
        """What the hash covers: everything but the function's name."""
        actions = tuple((a.id, a.kind, a.name, tuple(a.args), dict(a.kwargs)) for a in self.actions)
        return (_FORMAT, self.inputs, actions, self.outputs)


def plan_hash(plan: PlanGraph) -> str:
    """The sha256 (hex) of the plan's canonical encoding."""
    from unseen import serde

    return hashlib.sha256(bytes(serde.encode(plan.canonical()))).hexdigest()


def encode_plan(plan: PlanGraph) -> np.ndarray:
    """The plan as a node stores it: the bytes of its serde encoding, as a uint8 array."""
    from unseen import serde

    body = (plan.name, *plan.canonical())
    return np.frombuffer(bytes(serde.encode(body)), dtype=np.uint8).copy()


def decode_plan(value: Any) -> PlanGraph:
    """The plan stored as ``value`` (see :func:`encode_plan`); ``UsageError`` if it is not one."""
    from unseen import serde

    not_a_plan = UsageError("this object is not a plan (unseen.plan stores them)")
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim != 1:
        raise not_a_plan
    try:
        body = serde.decode(value.tobytes())
    except DecodeError:
        raise not_a_plan from None
    if type(body) is not tuple or len(body) != 5 or body[1] != _FORMAT:
        raise not_a_plan
    name, _, inputs, actions, outputs = body
    try:
        plan = PlanGraph(
            name=name if type(name) is str and name.isidentifier() else "plan",
            inputs=tuple((str(i), str(n), str(d)) for i, n, d in inputs),
            actions=tuple(Action(i, k, n, tuple(a), dict(kw)) for i, k, n, a, kw in actions),
            outputs=tuple((str(r), str(i)) for r, i in outputs),
        )
    except (TypeError, ValueError):
        raise not_a_plan from None
    _check_plan(plan)
    return plan


def _check_plan(plan: PlanGraph) -> None:
    known = {i for i, _, _ in plan.inputs}
    for j, action in enumerate(plan.actions):
        if action.id != f"a{j}" or action.name == PLAN_CALL:
            raise UsageError(f"plan {plan.name!r} is malformed at action {j}")
        for ref in iter_refs((action.args, action.kwargs)):
            if ref.id not in known:
                raise UsageError(f"plan {plan.name!r} uses {ref.id!r} before it is computed")
        known.add(action.id)
    for _, oid in plan.outputs:
        if oid not in known:
            raise UsageError(f"plan {plan.name!r} returns {oid!r}, which it does not compute")


def call_ids(call_id: str, plan: PlanGraph) -> dict[str, str]:
    """The ids the actions of a call get: ``a<j>`` becomes ``<call_id>n<j>``."""
    return {a.id: f"{call_id}n{j}" for j, a in enumerate(plan.actions)}


def bind_refs(value: Any, ids: dict[str, Any]) -> Any:
    """``value`` with each Ref replaced by ``ids[ref.id]`` (through tuples, lists, dicts and
    slices)."""
    if type(value) is Ref:
        return ids[value.id]
    if type(value) is tuple:
        return tuple(bind_refs(v, ids) for v in value)
    if type(value) is list:
        return [bind_refs(v, ids) for v in value]
    if type(value) is dict:
        return {k: bind_refs(v, ids) for k, v in value.items()}
    if type(value) is slice:
        return slice(
            bind_refs(value.start, ids), bind_refs(value.stop, ids), bind_refs(value.step, ids)
        )
    return value


def expand_call(plan: PlanGraph, call: Action) -> list[Action]:
    """The actions of one call of ``plan`` (all of them, or those listed in the call's
    ``only`` keyword, by position), with their inputs bound and their ids derived."""
    args = call.args
    if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not tuple:
        raise UsageError("a plan call is (plan id, inputs)")
    bound = args[1]
    if len(bound) != len(plan.inputs) or not all(type(b) is Ref for b in bound):
        raise UsageError(
            f"plan {plan.name!r} takes {len(plan.inputs)} inputs, and this call gives {len(bound)}"
        )
    only = call.kwargs.get("only")
    if set(call.kwargs) - {"only"} or not (
        only is None or (type(only) is list and all(type(j) is int for j in only))
    ):
        raise UsageError("a plan call's only keyword is 'only', a list of action positions")
    ids: dict[str, Any] = {i: ref for (i, _, _), ref in zip(plan.inputs, bound)}
    ids.update({local: Ref(real) for local, real in call_ids(call.id, plan).items()})
    chosen = range(len(plan.actions)) if only is None else only
    out = []
    for j in chosen:
        if not 0 <= j < len(plan.actions):
            raise UsageError(f"plan {plan.name!r} has no action {j}")
        action = plan.actions[j]
        real = ids[action.id].id
        out.append(Action(real, action.kind, action.name, bind_refs(action.args, ids),
                          bind_refs(action.kwargs, ids)))  # fmt: skip
    return out


def expand_calls(
    actions: Sequence[Any], load: Callable[[str], PlanGraph], max_actions: int
) -> tuple[list[Any], dict[str, PlanGraph]]:
    """``actions`` with every plan call expanded (``load`` gives a plan by object id), and
    the plan each expanded action comes from, by its id. A graph that would grow past
    ``max_actions`` is refused as it grows (a few small calls of a big plan are many actions)."""
    out: list[Any] = []
    origin: dict[str, PlanGraph] = {}
    for action in actions:
        if type(action) is Action and action.kind == "function" and action.name == PLAN_CALL:
            if not action.args or type(action.args[0]) is not str:
                raise UsageError("a plan call names its plan by id")
            plan = load(action.args[0])
            if len(out) + len(plan.actions) > max_actions:
                raise OperationNotAllowed(
                    f"this graph's plan calls come to more than this node's limit of "
                    f"{max_actions} actions: call .compute() on intermediate results"
                )
            expanded = expand_call(plan, action)
            origin.update((a.id, plan) for a in expanded)
            out.extend(expanded)
        else:
            out.append(action)
    return out, origin


def render_plan(plan: PlanGraph, digest: str | None = None) -> list[str]:
    """The plan for a person: its inputs, one line per action, and what it returns."""
    names = {i: n for i, n, _ in plan.inputs}
    lines = [f"plan {plan.name} sha256:{digest or plan_hash(plan)}"]
    lines += [f"  input {n}: {d}" for _, n, d in plan.inputs]
    lines += ["  " + line for line in render(plan.actions, names)]
    shown = {**names, **{a.id: a.id for a in plan.actions}}
    lines += [f"  {role} = {shown.get(oid, oid)}" for role, oid in plan.outputs]
    return lines


def plan_hashes(lines: Sequence[str]) -> list[str]:
    """The hashes of the plans a reviewed graph (a request's ``graph``) comes from: what a
    standing approval of a plan matches on. Only the node writes these header lines."""
    return [m.group(2) for line in lines if (m := _HEADER.fullmatch(line)) is not None]
