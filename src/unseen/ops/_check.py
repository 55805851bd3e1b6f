"""Static validation of one action (:func:`check_action`)."""

from __future__ import annotations

from typing import Any

from unseen.errors import OperationNotAllowed, UsageError
from unseen.ops._args import check_arg, check_call
from unseen.ops._banned import banned_reason, refuse_anywhere
from unseen.ops._graph import Action, Ref
from unseen.ops._registry import known_anywhere, lookup_function, lookup_method
from unseen.ops._spec import OpSpec

__all__ = ["check_action", "check_args_only", "split_receiver"]


def split_receiver(action: Action) -> tuple[Ref | None, tuple[Any, ...]]:
    """(receiver Ref or None, positional arguments after it)."""
    if action.kind == "function":
        return None, tuple(action.args)
    if action.kind not in ("method", "attr"):
        raise UsageError(f"unknown action kind {action.kind!r}; use 'method', 'function' or 'attr'")
    if not action.args or not isinstance(action.args[0], Ref):
        raise UsageError(
            f"{action.label}: a {action.kind} action needs a Ref to its receiver as args[0]"
        )
    return action.args[0], tuple(action.args[1:])


def _check_shape(action: Action) -> None:
    if not isinstance(action, Action):
        raise UsageError(f"expected an Action, got {type(action).__name__}")
    if not isinstance(action.id, str) or not isinstance(action.name, str):
        raise UsageError("an action's id and name must be strings")
    if not isinstance(action.args, tuple) or not isinstance(action.kwargs, dict):
        raise UsageError(f"{action.label}: args must be a tuple and kwargs a dict")


def check_action(action: Action, receiver_family: str | None) -> OpSpec:
    """Validate one action statically and return its spec.

    The op must exist for ``receiver_family`` (methods, properties) or in its namespace
    (functions); positional count, keyword names, every argument's kind and op-specific
    arguments are checked. Raises :class:`OperationNotAllowed` (or :class:`UsageError` for a
    malformed action).
    """
    _check_shape(action)
    _, positional = split_receiver(action)
    if action.kind == "function":
        spec = lookup_function(action.name)
    else:
        if receiver_family is None:
            raise UsageError(
                f"{action.label}: the receiver's family is needed to check a {action.kind}"
            )
        spec = lookup_method(receiver_family, action.name)
        if spec.kind != action.kind:
            what = "a property" if spec.kind == "attr" else "a method"
            raise UsageError(
                f"'{action.name}' is {what} of {receiver_family}; send it as kind '{spec.kind}'"
            )
        if action.kind == "attr" and (positional or action.kwargs):
            raise UsageError(f"{action.label}: a property takes no arguments")
    check_call(spec, positional, action.kwargs)
    return spec


def check_args_only(action: Action) -> None:
    """For a method whose receiver's family is only known at run time: refuse names that no
    family allows, and arguments of a kind never allowed."""
    _check_shape(action)
    _, positional = split_receiver(action)
    if banned_reason(action.name) is not None or not known_anywhere(action.name):
        raise refuse_anywhere(action.name)
    for i, value in enumerate(positional):
        check_arg(value, f"argument {i + 1} of {action.name}", dtype_ok=True)
    for key, value in action.kwargs.items():
        if key in ("out", "inplace"):
            raise OperationNotAllowed(f"keyword '{key}' is never allowed ({action.name}).")
        check_arg(value, f"keyword '{key}' of {action.name}", dtype_ok=True)
