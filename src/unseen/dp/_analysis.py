"""The static analysis: from a graph of actions to the :class:`Query` it releases, before
anything runs (:func:`analyse`).

It walks the actions in order, tracking for every value what is publicly known about it
(:mod:`unseen.dp._values`). Operations that keep rows independent (selections, filters by a
predicate, clamps, arithmetic with public constants, comparisons) map tables to tables; an
aggregate ends the walk with a query. Anything else raises :class:`NotTrackable` naming the
step. Only public parameters are read: the values themselves are never looked at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from unseen import ops
from unseen.dp._aggregates import aggregate, group_aggregate, table_query
from unseen.dp._bind import Bound, bind
from unseen.dp._query import NotTrackable, Query
from unseen.dp._rows import select, transform
from unseen.dp._values import Const, Grouped, Table

__all__ = ["analyse", "NotTrackable"]

Abstract = Table | Grouped | Const | Query


def _resolve(value: Any, env: Mapping[str, Abstract]) -> Any:
    """An argument with its Refs replaced by abstract values (Const values unwrapped when
    the whole argument is public)."""
    if isinstance(value, ops.Ref):
        return env[value.id]
    if isinstance(value, (tuple, list)):
        items = [_resolve(v, env) for v in value]
        if all(not isinstance(i, (Table, Grouped, Query)) for i in items):
            plain = [i.value if isinstance(i, Const) else i for i in items]
            return Const(tuple(plain) if isinstance(value, tuple) else plain)
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


def _family(value: Any) -> str | None:
    if isinstance(value, Table):
        return value.family
    if isinstance(value, Grouped):
        return "groupby"
    if isinstance(value, Const):
        try:
            return ops.family_of(value.value)
        except Exception:
            return None
    return None


def _public_step(action: ops.Action, env: Mapping[str, Abstract]) -> Const:
    values = {rid: env[rid].value for rid in ops.refs_of(action)}  # type: ignore[union-attr]
    try:
        return Const(ops.execute([action], values, keep={action.id})[action.id])
    except ops.ExecutionError as exc:
        raise NotTrackable(f"{action.label} failed on public values: {exc.original}") from None


def _step(action: ops.Action, env: Mapping[str, Abstract]) -> Abstract:
    refs = [env[r] for r in ops.refs_of(action)]
    if any(isinstance(v, Query) for v in refs):
        raise NotTrackable(
            f"{action.label} uses a DP aggregate: release the aggregate first with "
            ".get(epsilon=...) and compute on the value you get (post-processing is free)"
        )
    if all(isinstance(v, Const) for v in refs):
        return _public_step(action, env)
    receiver = env[action.args[0].id] if action.kind != "function" else None
    if action.kind == "function":
        first = _resolve(action.args[0], env) if action.args else None
        receiver = first if isinstance(first, (Table, Grouped)) else None
    bound = bind(action, _family(receiver) if receiver is not None else None)
    args = {k: _resolve(v, env) for k, v in bound.args.items()}
    resolved = Bound(bound.short, bound.kind, receiver, args, bound.positional)
    if isinstance(receiver, Grouped):
        return _group_step(resolved, receiver, action)
    if isinstance(receiver, Table):
        query = aggregate(resolved, receiver, _input_id(action))
        if query is not None:
            return query
        result = select(resolved, receiver, action.id)
        if isinstance(result, Grouped):
            return replace(result, source=_input_id(action))
        if result is None:
            result = transform(resolved, receiver, action)
        if result is not None:
            return result
    elif action.kind == "function" and action.args:
        swapped = _swapped(action, env)
        if swapped is not None:
            return swapped
    raise NotTrackable(
        f"{action.label} is not a DP-trackable operation (the trackable ones: column and row "
        "selection, filters by a predicate, clip, arithmetic with public constants, "
        "comparisons, count, sum, mean, var, std, quantiles, histograms and group-by over "
        "public keys)"
    )


def _swapped(action: ops.Action, env: Mapping[str, Abstract]) -> Abstract | None:
    """``numpy.subtract(5, x)`` and friends: a public first argument, a table second."""
    if len(action.args) < 2 or action.kwargs:
        return None
    second = _resolve(action.args[1], env)
    if not isinstance(second, Table):
        return None
    first = _resolve(action.args[0], env)
    flipped = {"add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__",
               "divide": "__rtruediv__", "true_divide": "__rtruediv__", "maximum": "maximum",
               "minimum": "minimum", "less": "greater", "greater": "less",
               "less_equal": "greater_equal", "greater_equal": "less_equal", "equal": "equal",
               "not_equal": "not_equal"}  # fmt: skip
    short = action.name.rsplit(".", 1)[-1]
    if short not in flipped:
        return None
    bound = Bound(flipped[short], "method", second, {"other": first}, (first,))
    return transform(bound, second, action)


def _input_id(action: ops.Action) -> str:
    return action.args[0].id  # type: ignore[no-any-return]


def _group_step(bound: Bound, grouped: Grouped, action: ops.Action) -> Abstract:
    if bound.short == "__getitem__":
        key = bound.get("key")
        key = key.value if isinstance(key, Const) else key
        names = key if isinstance(key, (list, tuple)) else [key]
        for name in names:
            try:
                grouped.table.col(name)
            except KeyError:
                raise NotTrackable(f"no column {name!r} to select after groupby") from None
        return replace(grouped, selected=tuple(names), single=not isinstance(key, (list, tuple)))
    return group_aggregate(bound, grouped, grouped.source)


def analyse(actions: Sequence[ops.Action], leaves: Mapping[str, Abstract], target: str) -> Query:
    """The query that ``target`` releases; :class:`NotTrackable` if it is not DP-releasable.

    ``leaves`` maps every id the graph reads but does not compute to a :class:`Table` (a
    dataset asset with its declared metadata) or a :class:`Const` (a value the caller may
    read). Actions after the one computing ``target`` are ignored.
    """
    env: dict[str, Abstract] = dict(leaves)
    for action in actions:
        env[action.id] = _step(action, env)
        if action.id == target:
            break
    final = env.get(target)
    if isinstance(final, Query):
        return final
    if isinstance(final, Table):
        return table_query(final, target)
    if isinstance(final, Grouped):
        raise NotTrackable("a group-by needs an aggregate after it, e.g. .mean() or .size()")
    raise NotTrackable("the value asked for derives from no private table")


def describe_const(value: Any) -> str:
    return f"{type(value).__name__}{np.shape(value) if hasattr(value, 'shape') else ''}"
