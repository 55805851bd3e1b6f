"""The wire codes of :class:`Ref` (64) and :class:`Action` (65) for :mod:`unseen.serde`.

Nothing registers at import: :func:`register_with_serde` does, called by
:func:`unseen.messages.setup`.

A Ref travels as its id; an Action as ``[id, kind, name, args, kwargs]`` (serde keeps tuples
as tuples and encodes the arguments, arrays included, itself). Decoding checks every field's
type, so a malformed action never reaches the executor; fields appended after these five (an
optional field added in a later minor protocol version) are ignored.
"""

from __future__ import annotations

from typing import Any

from unseen.errors import DecodeError
from unseen.ops._graph import Action, Ref
from unseen.serde import register

__all__ = ["REF_CODE", "ACTION_CODE", "register_with_serde"]

REF_CODE = 64
ACTION_CODE = 65
_KINDS = ("method", "function", "attr")


def _ref_to_wire(ref: Ref) -> str:
    return ref.id


def _ref_from_wire(value: Any) -> Ref:
    if type(value) is not str:
        raise DecodeError("a Ref must carry a string id")
    return Ref(value)


def _action_to_wire(action: Action) -> list[Any]:
    return [action.id, action.kind, action.name, tuple(action.args), dict(action.kwargs)]


def _action_from_wire(value: Any) -> Action:
    # fields a later minor version appends are optional by the protocol's rule: ignored here
    if type(value) is not list or len(value) < 5:
        raise DecodeError("an Action must be [id, kind, name, args, kwargs]")
    aid, kind, name, args, kwargs = value[:5]
    if type(aid) is not str or type(name) is not str or kind not in _KINDS:
        raise DecodeError(
            "an Action needs a string id, a kind in method/function/attr and a string name"
        )
    if type(args) not in (tuple, list) or type(kwargs) is not dict:
        raise DecodeError("an Action's args must be a tuple and its kwargs a dict")
    if any(type(k) is not str for k in kwargs):
        raise DecodeError("an Action's keyword names must be strings")
    return Action(aid, kind, name, tuple(args), kwargs)


def register_with_serde() -> None:
    """Register both types with :mod:`unseen.serde` (again: the same entries, harmless)."""
    register(REF_CODE, Ref, _ref_to_wire, _ref_from_wire)
    register(ACTION_CODE, Action, _action_to_wire, _action_from_wire)
