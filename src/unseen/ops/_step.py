"""One planned action of the executor (:class:`Step`): its resolved callable, where its Refs
go, which values die after it; and :func:`substitute`, which resolves Refs nested in tuples,
lists, dicts and slices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from unseen.ops._graph import Action, Ref, iter_refs
from unseen.ops._resolve import resolve_callable
from unseen.ops._spec import OpSpec
from unseen.ops._work import Work, work_of

__all__ = ["PLAIN", "Step", "substitute"]


PLAIN: frozenset[type] = frozenset({bool, int, float, complex, str, type(None)})


class Step:
    """One planned action: its callable, where its Refs go, what dies after it."""

    __slots__ = (
        "action", "spec", "fn", "args", "ref_slots", "nested", "kwargs", "kw_refs", "kw_nested",
        "reads", "frees", "store", "recv", "recv_family", "reuse", "work",
    )  # fmt: skip

    def __init__(self, action: Action) -> None:
        self.action = action
        self.spec: OpSpec | None = None
        self.fn: Callable[..., Any] | None = None
        self.work: Work | None = None
        self.recv: str | None = None
        # The family the spec was checked for; re-checked if the receiver's differs.
        self.recv_family: str | None = None
        reads: list[str] = []
        slots: list[tuple[int, str]] = []
        nested: list[int] = []
        for i, arg in enumerate(action.args):
            cls = type(arg)
            if cls is Ref:
                slots.append((i, arg.id))
                reads.append(arg.id)
            elif cls not in PLAIN:
                inner = [ref.id for ref in iter_refs(arg)]
                if inner:
                    nested.append(i)
                    reads += inner
        self.ref_slots = tuple(slots)
        self.nested = tuple(nested)
        self.args: Any = list(action.args) if slots or nested else tuple(action.args)
        kwargs: dict[str, Any] = {}
        kw_refs: list[tuple[str, str]] = []
        kw_nested: list[tuple[str, Any]] = []
        for key, value in action.kwargs.items():
            cls = type(value)
            if cls is Ref:
                kw_refs.append((key, value.id))
                reads.append(value.id)
                continue
            if cls not in PLAIN:
                inner = [ref.id for ref in iter_refs(value)]
                if inner:
                    kw_nested.append((key, value))
                    reads += inner
                    continue
            kwargs[key] = value
        self.kwargs = kwargs
        self.kw_refs = tuple(kw_refs)
        self.kw_nested = tuple(kw_nested)
        self.reads = reads
        self.frees: tuple[str, ...] = ()
        self.store = True
        self.reuse: Any = None

    def set_spec(self, spec: OpSpec | None, recv_family: str | None) -> None:
        self.spec = spec
        self.fn = resolve_callable(spec) if spec is not None else None
        self.work = work_of(spec) if spec is not None else None
        self.recv_family = recv_family

    def resolve(self, vals: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The positional and keyword arguments with every Ref resolved in ``vals``."""
        args = self.args
        if self.ref_slots or self.nested:
            args = list(args)
            for pos, rid in self.ref_slots:
                args[pos] = vals[rid]
            for pos in self.nested:
                args[pos] = substitute(self.args[pos], vals)
        kwargs = self.kwargs
        if self.kw_refs or self.kw_nested:
            kwargs = dict(kwargs)
            for key, rid in self.kw_refs:
                kwargs[key] = vals[rid]
            for key, value in self.kw_nested:
                kwargs[key] = substitute(value, vals)
        return args, kwargs


def substitute(value: Any, vals: Mapping[str, Any]) -> Any:
    """``value`` with every Ref inside (tuples, lists, dict values, slices) resolved."""
    cls = type(value)
    if cls is Ref:
        return vals[value.id]
    if cls is tuple:
        return tuple(substitute(v, vals) for v in value)
    if cls is list:
        return [substitute(v, vals) for v in value]
    if cls is dict:
        return {k: substitute(v, vals) for k, v in value.items()}
    if cls is slice:
        return slice(
            substitute(value.start, vals),
            substitute(value.stop, vals),
            substitute(value.step, vals),
        )
    return value
