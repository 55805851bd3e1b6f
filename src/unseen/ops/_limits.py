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

__all__ = ["Limits", "DEFAULT_LIMITS", "check_guard"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one graph may do on a node."""

    #: The most elements one operation may create (counted in 8-byte words for wider dtypes,
    #: in characters for Python strings).
    max_elements: int = 2**28
    #: The most actions in one graph.
    max_actions: int = 100_000


DEFAULT_LIMITS = Limits()


def check_guard(
    spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits
) -> None:
    """Refuse ``spec`` called with ``args`` (receiver first for methods) if it would allocate
    more than ``limits.max_elements``."""
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
