"""The assembled vocabulary and its lookups: :func:`lookup_method`, :func:`lookup_function`,
:func:`methods_of`, :func:`functions_of`, :func:`namespaces`.

The tables are plain data (names and signatures as strings) built on first use; nothing here
imports torch or pandas.
"""

from __future__ import annotations

from functools import cache

from unseen.errors import OperationNotAllowed, UsageError
from unseen.ops._banned import refuse_function, refuse_method
from unseen.ops._families import DISPLAY, FAMILIES
from unseen.ops._spec import OpSpec

__all__ = [
    "NAMESPACES",
    "all_specs",
    "functions_of",
    "lookup_function",
    "lookup_method",
    "methods_of",
    "namespaces",
]

#: Every namespace whose functions may be called, in documentation order.
NAMESPACES: tuple[str, ...] = (
    "numpy",
    "numpy.linalg",
    "torch",
    "torch.linalg",
    "torch.nn.functional",
    "torch.autograd",
    "pandas",
)


@cache
def _tables() -> tuple[dict[str, dict[str, OpSpec]], dict[str, dict[str, OpSpec]]]:
    from unseen.ops._autograd import autograd_specs
    from unseen.ops._table_common import operator_specs, scalar_specs, value_specs
    from unseen.ops._table_nn import nn_specs
    from unseen.ops._table_numpy import numpy_specs
    from unseen.ops._table_pandas import pandas_specs
    from unseen.ops._table_torch import torch_specs

    methods: dict[str, dict[str, OpSpec]] = {fam: {} for fam in FAMILIES}
    functions: dict[str, dict[str, OpSpec]] = {ns: {} for ns in NAMESPACES}
    specs = (
        operator_specs()
        + scalar_specs()
        + value_specs()
        + numpy_specs()
        + torch_specs()
        + nn_specs()
        + autograd_specs()
        + pandas_specs()
    )
    for spec in specs:
        if spec.kind == "function":
            ns = spec.namespace
            assert ns is not None
            table = functions[ns]
        else:
            assert spec.family is not None
            table = methods[spec.family]
        if spec.short in table:
            raise RuntimeError(f"duplicate vocabulary entry {spec.name}")
        table[spec.short] = spec
    return methods, functions


def all_specs() -> list[OpSpec]:
    """Every entry of the vocabulary."""
    methods, functions = _tables()
    out = [spec for table in methods.values() for spec in table.values()]
    return out + [spec for table in functions.values() for spec in table.values()]


def _check_family(family: str) -> None:
    if family not in DISPLAY:
        raise UsageError(f"unknown family {family!r}; the families are {', '.join(FAMILIES)}")


def methods_of(family: str) -> tuple[str, ...]:
    """The allowed method and property names of ``family``, sorted, without dunders."""
    _check_family(family)
    return tuple(sorted(n for n in _tables()[0][family] if not n.startswith("__")))


def lookup_method(family: str, name: str) -> OpSpec:
    """The spec of method, property or operator ``name`` on ``family``.

    Raises :class:`OperationNotAllowed` naming the operation, the family and what to do.
    """
    _check_family(family)
    spec = _tables()[0][family].get(name)
    if spec is None:
        hint = None
        if name.endswith("_") and not name.endswith("__") and name[:-1] in _tables()[0][family]:
            hint = f"Use the out-of-place '{name[:-1]}' instead."
        raise refuse_method(name, family, hint)
    return spec


def namespaces() -> tuple[str, ...]:
    """The namespaces whose functions may be called."""
    return NAMESPACES


def functions_of(namespace: str) -> tuple[str, ...]:
    """The allowed function names (unqualified) of ``namespace``, sorted."""
    if namespace not in NAMESPACES:
        raise UsageError(
            f"unknown namespace {namespace!r}; the namespaces are {', '.join(NAMESPACES)}"
        )
    return tuple(sorted(_tables()[1][namespace]))


def lookup_function(qualified_name: str) -> OpSpec:
    """The spec of a function named with its namespace, e.g. ``"numpy.log"``."""
    if not isinstance(qualified_name, str):
        raise OperationNotAllowed(
            f"a function name must be a string, not {type(qualified_name).__name__}"
        )
    namespace, _, short = qualified_name.rpartition(".")
    table = _tables()[1].get(namespace)
    spec = table.get(short) if table is not None else None
    if spec is None:
        raise refuse_function(qualified_name, NAMESPACES)
    return spec


def known_anywhere(name: str) -> bool:
    """Whether some family allows a method or property called ``name``."""
    return any(name in table for table in _tables()[0].values())
