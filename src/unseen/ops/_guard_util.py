"""Helpers of the size guards: shapes, sizes and bound arguments of a call."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from unseen.ops._args import bind
from unseen.ops._spec import OpSpec

__all__ = ["shape_of", "numel", "ints", "prod", "split", "first"]


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of an array, tensor or pandas object; None for anything else."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    return tuple(int(d) for d in shape)


def numel(value: Any) -> int:
    """The number of elements (1 for a scalar)."""
    shape = shape_of(value)
    if shape is not None:
        return math.prod(shape)
    if isinstance(value, (list, tuple)):
        return math.prod(np.shape(value))
    return 1


def ints(value: Any) -> list[int]:
    """A shape-like argument (int, sequence, array, tensor) as a list of ints."""
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    if isinstance(value, (str, bytes)):
        raise TypeError("a size must be a number")
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (int, float)):
        return [int(value)]
    out: list[int] = []
    for item in value:
        out.extend(ints(item))
    return out


def prod(value: Any) -> int:
    """The product of a shape-like argument's sizes."""
    return math.prod(abs(d) for d in ints(value))


def split(
    spec: OpSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """(receiver or None, bound parameters)."""
    if spec.kind == "function":
        return None, bind(spec, args, kwargs)
    return args[0], bind(spec, args[1:], kwargs)


def first(spec: OpSpec, args: tuple[Any, ...], bound: dict[str, Any], receiver: Any) -> Any:
    """The receiver of a method, or the first parameter of a function."""
    if receiver is not None:
        return receiver
    return bound.get(spec.params[0]) if spec.params else None
