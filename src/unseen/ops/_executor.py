"""The reference executor (:func:`execute`): validate a whole graph, then run it.

Every action is checked before anything runs. The plan precomputes, per action, the resolved
callable, where its Refs go and which values die after it, so that running costs a few dict
lookups per action and an intermediate result is freed as soon as nothing later needs it.

On data the caller may not read, a node runs with ``on_failure="continue"``: a failed action
is replaced by a stand-in (:mod:`unseen.ops._standin`) and the rest runs, so that the time
taken does not tell whether it failed; the first failure is raised at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from unseen.errors import NotFound, OperationNotAllowed, UsageError
from unseen.ops._autograd import GRAD, GradTape, grad_mode, requires_grad, without_grad
from unseen.ops._check import check_action, check_args_only, split_receiver
from unseen.ops._families import family_of
from unseen.ops._graph import Action, Ref
from unseen.ops._infer import infer_family
from unseen.ops._limits import DEFAULT_LIMITS, Limits, check_guard, check_work
from unseen.ops._spec import OpSpec
from unseen.ops._standin import ZERO, fallback, standin
from unseen.ops._step import PLAIN, Step

__all__ = ["ExecutionError", "execute"]


class ExecutionError(Exception):
    """An exception raised by the library while running one action.

    ``action`` is the Action, ``op`` its label, ``original`` the exception. Its message names
    only the operation and the exception type: the original message may quote private data,
    and the node decides what the requester sees.
    """

    def __init__(self, action: Action, op: str, original: BaseException) -> None:
        super().__init__(f"{op} failed: {type(original).__name__}")
        self.action = action
        self.op = op
        self.original = original


def _env_family(value: Any, rid: str) -> str:
    try:
        return family_of(value)
    except UsageError as exc:
        raise OperationNotAllowed(
            f"object {rid!r} cannot be used in a computation: {exc}"
        ) from None


def _unknown(action: Action, rid: str, later: set[str]) -> Exception:
    if rid in later:
        return UsageError(f"{action.label} uses {rid!r} before it is computed")
    return NotFound(
        f"{action.label} refers to {rid!r}, which is neither on the node nor computed earlier "
        "in this graph"
    )


class _Unkeyed(Exception):
    """An argument the check memo does not key (arrays, dtypes, slices): checked each time."""


_KEYED_SCALARS = frozenset({bool, int, float, complex, str, type(None)})
_REF_KEY = object()


def _arg_key(value: Any) -> Any:
    cls = type(value)
    if cls is Ref:  # what a check sees of a Ref is that it is one, never its id
        return _REF_KEY
    if cls in _KEYED_SCALARS:
        return (cls, value)  # the type too: 1, 1.0 and True are equal keys otherwise
    if cls is tuple or cls is list:
        return (cls, *map(_arg_key, value))
    if cls is dict:
        return (dict, *((_arg_key(k), _arg_key(v)) for k, v in value.items()))
    raise _Unkeyed


class _Checks:
    """:func:`check_action` within one graph, once per shape of action: the same kind, name,
    receiver family and arguments but for which objects its Refs name (a plan called 100
    times, an optimizer's update of each step). A refusal is never remembered."""

    __slots__ = ("_specs",)

    def __init__(self) -> None:
        self._specs: dict[Any, OpSpec] = {}

    def __call__(self, action: Action, family: str | None) -> OpSpec:
        try:
            key = (action.kind, action.name, family, _arg_key(action.args),
                   _arg_key(action.kwargs))  # fmt: skip
        except (_Unkeyed, TypeError):  # TypeError: an unhashable scalar subclass
            return check_action(action, family)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = check_action(action, family)
        return spec


def _plan(
    actions: Sequence[Action], env: Mapping[str, Any], keep: Collection[str] | None, limits: Limits
) -> tuple[list[Step], dict[str, Any], dict[str, str]]:
    if len(actions) > limits.max_actions:
        raise OperationNotAllowed(
            f"a graph of {len(actions)} actions is above this node's limit of {limits.max_actions}."
        )
    for action in actions:
        if not isinstance(action, Action):
            raise UsageError(f"expected an Action, got {type(action).__name__}")
    receivers = {
        a.args[0].id for a in actions if a.kind != "function" and a.args and type(a.args[0]) is Ref
    }
    produced: dict[str, int] = {}
    env_vals: dict[str, Any] = {}
    fams: dict[str, str] = {}
    last_use: dict[str, int] = {}
    steps: list[Step] = []
    checked = _Checks()
    for i, action in enumerate(actions):
        step = Step(action)
        for rid in step.reads:
            last_use[rid] = i
            if rid in produced or rid in env_vals:
                continue
            if rid not in env:
                raise _unknown(action, rid, {a.id for a in actions[i:]})
            env_vals[rid] = env[rid]
            fams[rid] = _env_family(env_vals[rid], rid)
        if action.id in produced or action.id in env:
            raise UsageError(f"the id {action.id!r} is used twice (ids must be new and unique)")
        recv, _ = split_receiver(action)
        if recv is None:
            step.set_spec(checked(action, None), None)
        elif recv.id in env_vals:
            step.set_spec(checked(action, fams[recv.id]), fams[recv.id])
        else:
            # The receiver is computed in this graph: check against its inferred family now,
            # and again at run time if its actual family differs.
            try:
                step.set_spec(checked(action, fams[recv.id]), fams[recv.id])
            except OperationNotAllowed:
                check_args_only(action)
        if recv is not None:
            step.recv = recv.id
        if action.id in receivers:
            fams[action.id] = _infer(step.spec, action, fams)
        produced[action.id] = i
        steps.append(step)
    kept = set(produced) if keep is None else set(keep)
    for kid in kept:
        if kid not in produced and kid not in env:
            raise UsageError(
                f"cannot keep {kid!r}: no action computes it and it is not on the node"
            )
    frees: dict[int, list[str]] = {}
    for rid, i in last_use.items():
        if rid not in kept or rid in env_vals:
            frees.setdefault(i, []).append(rid)
    for i, step in enumerate(steps):
        step.frees = tuple(frees.get(i, ()))
        aid = step.action.id
        step.store = aid in kept or last_use.get(aid, -1) > i
        if step.recv is not None and step.recv in step.frees and step.recv not in env_vals:
            step.reuse = _INPLACE.get(step.action.name) if step.action.kind == "method" else None
    return steps, env_vals, fams


# numpy binary operators that may write into their receiver when it dies at that step
_INPLACE: dict[str, Any] = {
    "__add__": np.add,
    "__sub__": np.subtract,
    "__mul__": np.multiply,
    "__truediv__": np.true_divide,
}
_SCALARS = (int, float, np.generic, np.ndarray)
# references to the receiver while it is reused: the values dict, the argument list, the
# local name, and getrefcount's own argument. Any more means something else still sees it.
_SOLE_OWNER_REFS = 4


def _run_in_place(step: Step, args: Any, vals: dict[str, Any]) -> Any:
    """The step's result written into its dying receiver (what numpy's temporary elision
    does for local code), or None when that would not give exactly the same result."""
    a = args[0]
    if type(a) is not np.ndarray or a.dtype.kind not in "fc" or a.base is not None:
        return None
    if not a.flags.writeable or step.kwargs:
        return None
    if len(args) != 2 or not isinstance(args[1], _SCALARS) or isinstance(args[1], bool):
        return None
    if sys.getrefcount(a) != _SOLE_OWNER_REFS:
        return None
    b = args[1]
    try:
        if np.result_type(a, b) != a.dtype or np.broadcast_shapes(a.shape, np.shape(b)) != a.shape:
            return None
    except (TypeError, ValueError):
        return None
    return step.reuse(a, b, out=a)


def _infer(spec: OpSpec | None, action: Action, fams: dict[str, str]) -> str:
    if spec is None:
        return "value"
    if not spec.result.startswith("@"):
        return spec.result
    recv = action.args[0].id if spec.kind != "function" else None
    try:
        return infer_family(
            spec,
            fams.get(recv) if recv else None,
            action.args,
            action.kwargs,
            lambda r: fams.get(r.id, "value"),
        )
    except Exception:
        return "value"


def _at_run_time(exc: OperationNotAllowed, step: Step) -> OperationNotAllowed:
    """Mark a refusal made while running (a size guard, a result's family): it may depend on
    the values, so ``exc.action`` names the action and a node treats it like a failure."""
    exc.action = step.action  # type: ignore[attr-defined]
    return exc


def _nbytes(value: Any, env_ids: Collection[int]) -> int:
    """The memory a result holds: an array's or tensor's buffer (a view counts its base, which
    it keeps alive, unless that base is on the node already), a pandas object's columns."""
    cls = type(value)
    if cls is np.ndarray:
        base = value.base
        if base is None:
            return value.nbytes
        if id(base) in env_ids:
            return 0
        return base.nbytes if type(base) is np.ndarray else value.nbytes
    if cls in PLAIN:
        return 0
    nbytes = getattr(value, "nbytes", None)
    if type(nbytes) is int:  # numpy scalars, torch tensors
        return nbytes
    usage = getattr(value, "memory_usage", None)
    if usage is not None:
        try:
            total = usage(deep=False)
            return int(total.sum()) if hasattr(total, "sum") else int(total)
        except Exception:
            return 0
    if isinstance(value, (list, tuple)):
        return sys.getsizeof(value) + sum(_nbytes(v, env_ids) for v in value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(_nbytes(v, env_ids) for v in value.values())
    return 0


def _over_memory(step: Step, live: int, more: int, limits: Limits) -> OperationNotAllowed:
    assert step.spec is not None
    return _at_run_time(
        OperationNotAllowed(
            f"{step.spec.name} would bring the results this graph holds to about "
            f"{(live + more) / 2**20:,.0f} MiB, above this node's limit of "
            f"{limits.max_graph_bytes / 2**20:,.0f} MiB per graph; keep fewer results, or work "
            "on smaller pieces."
        ),
        step,
    )


def _recheck(step: Step, actual: str) -> None:
    step.set_spec(check_action(step.action, actual), actual)


OnFailure = Literal["raise", "continue"]

#: What a failed action raises: a library exception, wrapped, or a refusal made while running.
Failure = (ExecutionError, OperationNotAllowed)


def _run_step(
    step: Step,
    vals: Mapping[str, Any],
    actual: Mapping[str, str],
    live: int,
    limits: Limits,
    env_ids: Collection[int],
    inplace: bool,
    freed: int = 0,
) -> tuple[Any, str, int]:
    """Run one step on ``vals``: (result, its family, the bytes it holds if stored). ``live``
    bytes are held before it, ``freed`` of them die with it. Raises :class:`ExecutionError`,
    or :class:`OperationNotAllowed` marked with the action."""
    if step.recv is not None and step.recv_family != actual[step.recv]:
        try:
            _recheck(step, actual[step.recv])
        except OperationNotAllowed as exc:
            raise _at_run_time(exc, step) from None
    spec = step.spec
    assert spec is not None and step.fn is not None
    args, kwargs = step.resolve(vals)
    if spec.guard is not None:
        try:
            words = check_guard(spec, tuple(args), kwargs, limits)
        except OperationNotAllowed as exc:
            raise _at_run_time(exc, step) from None
        if words is not None and live + 8 * words > limits.max_graph_bytes:
            raise _over_memory(step, live, 8 * words, limits)
    if step.work is not None:
        try:
            check_work(spec, step.work, tuple(args), kwargs, limits)
        except OperationNotAllowed as exc:
            raise _at_run_time(exc, step) from None
    try:
        result = None
        if inplace and step.reuse is not None:
            result = _run_in_place(step, args, vals)  # type: ignore[arg-type]
        if result is None:
            result = step.fn(*args, **kwargs)
    except Exception as exc:
        raise ExecutionError(step.action, step.action.label, exc) from exc
    del args, kwargs
    try:
        fam = family_of(result)
    except UsageError as exc:
        refusal = OperationNotAllowed(
            f"{spec.name} returned a {type(result).__module__}.{type(result).__qualname__}, "
            f"which unseen does not allow on a node: {exc}"
        )
        raise _at_run_time(refusal, step) from None
    size = 0
    if step.store:
        if type(result) is np.ndarray and result.base is None:
            size = result.nbytes
        else:
            size = _nbytes(result, env_ids)
        if live - freed + size > limits.max_graph_bytes:
            del result
            raise _over_memory(step, live - freed, size, limits)
    return result, fam, size


def _stand_in(
    step: Step,
    vals: Mapping[str, Any],
    actual: Mapping[str, str],
    live: int,
    limits: Limits,
    freed: int,
) -> tuple[Any, str, int]:
    """What replaces the result of a step that failed: the same step run on stand-ins of its
    inputs (so that it costs what it would have); if that fails too, :func:`fallback` (zeros
    of the shape a reshape asked for, or the stand-in of its receiver or first array
    argument), or :data:`ZERO` when even that is over the limits. Never raises."""
    reads = dict.fromkeys(step.reads)
    # the stand-ins of the inputs count against the graph's memory while they live
    if live + sum(_nbytes(vals[rid], ()) for rid in reads) > limits.max_graph_bytes:
        return ZERO, "ndarray", 8 if step.store else 0
    try:
        fake = {rid: standin(vals[rid]) for rid in reads}
        fams = {**actual, **{rid: family_of(v) for rid, v in fake.items()}}
    except Exception:  # a value no stand-in can be made of (none known): a zero
        return ZERO, "ndarray", 8 if step.store else 0
    try:
        return _run_step(step, fake, fams, live, limits, (), False, freed)
    except Exception:  # a failure, or a stand-in the library chokes on unforeseen
        pass
    try:
        args, kwargs = step.resolve(fake)
        result = fallback(step.action.name.rsplit(".", 1)[-1], list(args), kwargs,
                          limits.max_elements)  # fmt: skip
        size = _nbytes(result, ())
        fam = family_of(result)
    except Exception:
        result, size, fam = ZERO, 8, "ndarray"
    if step.store and live - freed + size > limits.max_graph_bytes:
        result, size, fam = ZERO, 8, "ndarray"
    return result, fam, size if step.store else 0


def execute(
    actions: Sequence[Action],
    env: Mapping[str, Any],
    *,
    keep: Collection[str] | None = None,
    limits: Limits | None = None,
    on_failure: OnFailure = "raise",
    tape: GradTape | None = None,
) -> dict[str, Any]:
    """Validate every action, then run them in order; return ``{id: value}`` for ``keep``.

    Refs (also inside tuples, lists, dicts and slices) resolve to ``env`` or to earlier
    results; ``env`` is never changed. ``keep=None`` keeps every action's result; otherwise a
    result is freed after its last use unless kept. Raises :class:`OperationNotAllowed` before
    anything runs for any op or argument outside the vocabulary (a receiver computed inside
    the graph is checked again when reached), and :class:`ExecutionError` wrapping an exception
    raised by a library call.

    ``on_failure="raise"`` stops at the first action that fails. ``"continue"`` (for data the
    caller may not read, where the time taken must not tell whether an action failed) goes on:
    a failed action's result is replaced by a stand-in of it (:mod:`unseen.ops._standin`),
    every later action runs, and the first failure is raised at the end, with ``.results``
    holding what ``keep`` asked for (stand-ins, or values computed from stand-ins, included:
    none of it is the true result). The graph's deadline still stops it at once.

    A graph with ``torch.autograd.grad`` actions runs with autograd on for the leaves they
    list (:class:`~unseen.ops.GradTape`); every other graph runs under ``torch.no_grad``.
    Without ``tape``, the tape is the graph's own and the results come back detached; a
    caller that runs one graph in several parts passes one ``tape`` to every part and gets
    the results with their autograd history (detach them with ``ops.without_grad``).
    """
    limits = limits or DEFAULT_LIMITS
    if on_failure not in ("raise", "continue"):
        raise UsageError(f"on_failure must be 'raise' or 'continue', not {on_failure!r}")
    carry_on = on_failure == "continue"
    deadline = time.monotonic() + limits.max_seconds
    own_tape = tape is None
    if tape is None:
        tape = GradTape.of(actions)
    with grad_mode(tape is not None):
        try:
            results = _execute(actions, env, keep, limits, carry_on, deadline, tape)
        except Failure as exc:
            partial = getattr(exc, "results", None)
            if own_tape and tape and partial is not None:
                exc.results = {k: without_grad(v) for k, v in partial.items()}  # type: ignore[union-attr]
            raise
    return {k: without_grad(v) for k, v in results.items()} if own_tape and tape else results


def _execute(
    actions: Sequence[Action],
    env: Mapping[str, Any],
    keep: Collection[str] | None,
    limits: Limits,
    carry_on: bool,
    deadline: float,
    tape: GradTape | None,
) -> dict[str, Any]:
    steps, vals, fams = _plan(list(actions), env, keep, limits)
    if tape is not None:
        vals = {rid: tape.leaf(rid, value) for rid, value in vals.items()}
    actual: dict[str, str] = {rid: fams[rid] for rid in vals}
    env_ids = {id(v) for v in vals.values()}
    held: dict[str, int] = {}  # bytes of each result this graph holds
    live = 0
    # Bytes of freed values that autograd may still hold (saved for a gradient not taken yet):
    # they count against the graph's memory until the next gradient is taken.
    tracked = 0
    first: Exception | None = None
    for step in steps:
        if time.monotonic() > deadline:
            raise _at_run_time(
                OperationNotAllowed(
                    f"the graph ran past the node's limit of {limits.max_seconds:g} s (stopped "
                    f"before {step.action.label}); split it into smaller graphs."
                ),
                step,
            )
        freed = sum(held.get(rid, 0) for rid in step.frees) if step.frees else 0
        try:
            result, fam, size = _run_step(step, vals, actual, live, limits, env_ids, True, freed)
        except Failure as exc:
            if not carry_on:
                raise
            first = first or exc
            result, fam, size = _stand_in(step, vals, actual, live, limits, freed)
        for rid in step.frees:
            if tape is not None and requires_grad(vals[rid]) and rid in held:
                tracked += held[rid]
                held[rid] = 0
            del vals[rid]
            if rid in held:
                live -= held.pop(rid)
        if tracked and step.action.name == GRAD:
            live -= tracked
            tracked = 0
        if step.store:
            aid = step.action.id
            if tape is not None:
                result = tape.leaf(aid, result)
            vals[aid] = result
            actual[aid] = fam
            held[aid] = size
            live += size
        del result
    wanted = [s.action.id for s in steps] if keep is None else list(keep)
    results = {kid: vals[kid] if kid in vals else env[kid] for kid in wanted}
    if first is not None:
        first.results = results  # type: ignore[attr-defined]
        raise first
    return results
