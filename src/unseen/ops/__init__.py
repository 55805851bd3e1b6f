"""The closed vocabulary of remote computation, and the reference executor.

A scientist's computation is a graph of :class:`Action` objects whose arguments refer to
values by :class:`Ref`. Only operations in unseen's table run: numpy, torch and pandas
functions, methods, properties and operators, listed by category with their allowed
positional and keyword arguments (:func:`lookup_method`, :func:`lookup_function`). Anything
else, and every I/O, pickle, eval, callable, in-place, storage, device or attribute-walk path,
raises :class:`~unseen.errors.OperationNotAllowed` naming the operation.

:func:`execute` validates a whole graph before running any of it, frees intermediates as soon
as nothing needs them, checks that each result is of an allowed family (:func:`family_of`), and
guards allocations against :class:`Limits`. It is the specification of what a node runs and
the oracle of the tests.

Importing this package imports neither torch nor pandas, and registers nothing: the wire
codes of :class:`Ref` and :class:`Action` are registered by :func:`unseen.messages.setup`.
"""

from __future__ import annotations

from unseen.ops._args import AGGREGATIONS
from unseen.ops._autograd import GRAD, GradTape, without_grad
from unseen.ops._banned import REASONS, banned_reason
from unseen.ops._check import check_action
from unseen.ops._executor import ExecutionError, execute
from unseen.ops._families import FAMILIES, family_of, is_torch_module
from unseen.ops._graph import Action, ActionKind, Ref, iter_refs, refs_of
from unseen.ops._infer import infer_family
from unseen.ops._limits import Limits
from unseen.ops._plans import (
    PLAN_CALL,
    PlanGraph,
    bind_refs,
    call_ids,
    decode_plan,
    encode_plan,
    expand_call,
    expand_calls,
    plan_hash,
    plan_hashes,
    render_plan,
)
from unseen.ops._registry import (
    functions_of,
    lookup_function,
    lookup_method,
    methods_of,
    namespaces,
)
from unseen.ops._render import render
from unseen.ops._resolve import resolve_callable
from unseen.ops._spec import OpSpec
from unseen.ops._standin import standin
from unseen.ops._wire import register_with_serde

__all__ = [
    "AGGREGATIONS",
    "Action",
    "ActionKind",
    "ExecutionError",
    "FAMILIES",
    "GRAD",
    "GradTape",
    "Limits",
    "OpSpec",
    "PLAN_CALL",
    "PlanGraph",
    "REASONS",
    "Ref",
    "banned_reason",
    "bind_refs",
    "call_ids",
    "decode_plan",
    "encode_plan",
    "expand_call",
    "expand_calls",
    "check_action",
    "execute",
    "family_of",
    "functions_of",
    "infer_family",
    "is_torch_module",
    "iter_refs",
    "lookup_function",
    "lookup_method",
    "methods_of",
    "namespaces",
    "plan_hash",
    "plan_hashes",
    "refs_of",
    "render",
    "render_plan",
    "resolve_callable",
    "standin",
    "without_grad",
    "register_with_serde",
]
