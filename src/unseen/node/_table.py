"""The one place that builds the node's route table from the handler modules it lists.

Handler modules mark their functions with ``@route`` and register nothing;
:func:`build_routes` collects the marks of :data:`HANDLER_MODULES` once (then returns the
same table), and refuses a kind declared twice, a kind without a handler and a handler of a
kind that :data:`unseen.messages.KINDS` does not list.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Set
from types import ModuleType

from unseen.errors import UsageError
from unseen.messages import KINDS
from unseen.node import (
    _code,
    _code_settings,
    _datasets,
    _dp,
    _info,
    _jobs,
    _mpc,
    _mpc_trust,
    _network,
    _objects,
    _quotas,
    _requests,
    _standing,
    _training,
    _training_progress,
    _users,
)
from unseen.node._routes import Route, route_of

__all__ = ["HANDLER_MODULES", "build_routes", "build_table"]

#: every module whose functions handle a message kind of the node
HANDLER_MODULES: tuple[ModuleType, ...] = (
    _code,
    _code_settings,
    _datasets,
    _dp,
    _info,
    _jobs,
    _mpc,
    _mpc_trust,
    _network,
    _objects,
    _quotas,
    _requests,
    _standing,
    _training,
    _training_progress,
    _users,
)


def build_table(modules: Iterable[ModuleType], kinds: Set[str]) -> dict[str, Route]:
    """The routes marked in ``modules``: exactly one typed route for each of ``kinds``, and
    no other."""
    table: dict[str, Route] = {}
    for module in modules:
        for value in vars(module).values():
            found = route_of(value)
            if found is None or getattr(value, "__module__", None) != module.__name__:
                continue  # not a handler, or one imported from another module
            if found.message is None or found.message.name != found.kind:
                raise UsageError(
                    f"the handler of {found.kind!r} in {module.__name__} is untyped: declare "
                    "the kind's request and reply in unseen.messages and mark the handler "
                    "with @typed_route"
                )
            if found.kind in table:
                raise UsageError(
                    f"the message kind {found.kind!r} has two handlers "
                    f"({table[found.kind].handler.__module__} and {module.__name__}): keep one"
                )
            table[found.kind] = found
    extra, missing = sorted(set(table) - set(kinds)), sorted(set(kinds) - set(table))
    if extra:
        raise UsageError(f"handlers of unknown message kinds {extra}: add them to the kinds")
    if missing:
        raise UsageError(f"message kinds without a handler: {missing}: list their module")
    return table


@functools.cache
def build_routes() -> dict[str, Route]:
    """The node's route table (built on the first call, then the same table)."""
    return build_table(HANDLER_MODULES, KINDS.keys())
