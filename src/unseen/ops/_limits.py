"""Resource limits (:class:`Limits`) and the size guards that run before an allocation.

A guard estimates, from the resolved arguments, how many elements an operation would create
(``numpy.zeros((n, m))`` -> ``n*m``); above :attr:`Limits.max_elements` the operation is refused
before it runs. A guard that cannot understand its arguments refuses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from unseen.errors import OperationNotAllowed
from unseen.ops._args import bind
from unseen.ops._guards import GUARDS
from unseen.ops._spec import OpSpec
from unseen.ops._work import Work

__all__ = ["Limits", "DEFAULT_LIMITS", "check_guard", "check_work"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one graph may do on a node."""

    #: The most elements one operation may create (counted in 8-byte words for wider dtypes,
    #: in characters for Python strings).
    max_elements: int = 2**28
    #: The most actions in one graph.
    max_actions: int = 100_000
    #: The most elementary operations one operation may do, estimated from the shapes of its
    #: arguments before it runs (:mod:`unseen.ops._work`): 10^11 multiply-adds is a 4,600^3
    #: matrix product, a few seconds on two cores; a sort of 2^28 elements is 7.5 * 10^9.
    max_work: float = 1e11
    #: The most bytes of results one graph may hold at once (its intermediates still needed and
    #: the results it keeps): two arrays of ``max_elements`` float64, a sixth of a 24 GiB node.
    max_graph_bytes: int = 2**32
    #: The longest one graph may run, in seconds, checked between its actions (one action
    #: cannot be interrupted; ``max_work`` bounds it).
    max_seconds: float = 300.0


DEFAULT_LIMITS = Limits()


def check_guard(
    spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits
) -> int | None:
    """Refuse ``spec`` called with ``args`` (receiver first for methods) if it would allocate
    more than ``limits.max_elements``; return the estimate (8-byte words for a dtype-aware
    operation, else elements), or None when it creates nothing beyond its inputs."""
    assert spec.guard is not None
    try:
        n = GUARDS[spec.guard](spec, args, kwargs)
    except OperationNotAllowed:
        raise
    except Exception as exc:
        raise OperationNotAllowed(
            f"{spec.name}: could not estimate the size of its result from its arguments "
            f"({type(exc).__name__}), so it is refused; pass plain integer shapes and sizes."
        ) from None
    if n is not None and ("dtype" in spec.kwargs or "dtype" in spec.params):
        n *= _words_per_element(spec, args, kwargs)
    if n is not None and n > limits.max_elements:
        raise OperationNotAllowed(
            f"{spec.name} would allocate {n} elements, above this node's limit of "
            f"{limits.max_elements}; work on smaller pieces, or ask the node owner to raise it."
        )
    return n


def check_work(
    spec: OpSpec, work: Work, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits
) -> None:
    """Refuse ``spec`` if its estimated work is above ``limits.max_work``. An estimate that
    fails (arguments the library would reject anyway) lets the library raise its own error."""
    try:
        n = work(spec, args, kwargs)
    except Exception:
        return
    if n > limits.max_work:
        raise OperationNotAllowed(
            f"{spec.name} would do about {n:.2g} elementary operations, above this node's "
            f"limit of {limits.max_work:.2g} per operation; split the computation into smaller "
            "pieces, or ask the node owner for a code request."
        )


def _words_per_element(spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """How many 8-byte words one element of the requested dtype takes (1 if unknown)."""
    params = args[1:] if spec.kind != "function" else args
    dtype = bind(spec, tuple(params), kwargs).get("dtype")
    if dtype is None or isinstance(dtype, dict):
        return 1
    try:
        itemsize = np.dtype(dtype).itemsize
    except Exception:
        return 1
    return max(1, -(-itemsize // 8))
