"""Operators of every family (``+``, ``<``, ``[]``, ``round`` ...) and the small vocabularies
of the ``scalar`` and ``value`` families.

Operators run through the :mod:`operator` module, so ``a.__add__(b)`` means ``a + b`` with
Python's usual fallback to ``b.__radd__(a)``; a reflected ``__radd__`` on ``a`` means ``b + a``.
"""

from __future__ import annotations

from unseen.ops._spec import OpSpec, block

__all__ = ["operator_specs", "scalar_specs", "value_specs", "ARITHMETIC", "BITWISE"]

ARITHMETIC = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")
BITWISE = ("and", "or", "xor")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
UNARY = ("neg", "pos", "abs", "invert")

#: Which operators each family has: (binary ops, comparisons, unary ops, getitem, round).
_FAMILY_OPERATORS: dict[str, tuple[tuple[str, ...], bool, tuple[str, ...], bool, bool]] = {
    "ndarray": (ARITHMETIC + ("matmul",) + BITWISE, True, UNARY, True, True),
    "tensor": (ARITHMETIC + ("matmul",) + BITWISE, True, UNARY, True, True),
    "dataframe": (ARITHMETIC + ("matmul",) + BITWISE, True, UNARY, True, True),
    "series": (ARITHMETIC + ("matmul",) + BITWISE, True, UNARY, True, True),
    "index": (ARITHMETIC + BITWISE, True, UNARY, True, False),
    "scalar": (ARITHMETIC + BITWISE, True, UNARY, True, True),
    "value": ((), False, (), True, False),
    "groupby": ((), False, (), True, False),
    "indexer": ((), False, (), True, False),
}

# Families whose binary operators may broadcast into a large allocation.
_BROADCASTING = frozenset({"ndarray", "tensor"})


def _binary(family: str, op: str) -> list[OpSpec]:
    guard = "broadcast" if family in _BROADCASTING else None
    if family == "scalar" and op in ("add", "mul", "pow"):
        guard = "scalar"
    if family in ("dataframe", "series", "index") and op == "mul":
        guard = "pandas_mul"
    out = []
    for name, target in ((f"__{op}__", f"op:{op}"), (f"__r{op}__", f"op:r{op}")):
        out.append(
            OpSpec(
                name=f"{family}.{name}",
                kind="method",
                family=family,
                category="operator",
                params=("other",),
                max_positional=1,
                result="@binop",
                target=target,
                guard=guard,
            )
        )
    return out


def operator_specs() -> list[OpSpec]:
    """Operator dunders for every family."""
    out: list[OpSpec] = []
    for family, (binary, compare, unary, getitem, rounding) in _FAMILY_OPERATORS.items():
        for op in binary:
            out += _binary(family, op)
        if compare:
            guard = "broadcast" if family in _BROADCASTING else None
            for op in COMPARE:
                out.append(
                    OpSpec(
                        name=f"{family}.__{op}__",
                        kind="method",
                        family=family,
                        category="comparison",
                        params=("other",),
                        max_positional=1,
                        result="@binop",
                        target=f"op:{op}",
                        guard=guard,
                    )
                )
        for op in unary:
            out.append(
                OpSpec(
                    name=f"{family}.__{op}__",
                    kind="method",
                    family=family,
                    category="operator",
                    result="@same",
                    target=f"op:{op}",
                )
            )
        if getitem:
            out.append(
                OpSpec(
                    name=f"{family}.__getitem__",
                    kind="method",
                    family=family,
                    category="indexing",
                    params=("key",),
                    max_positional=1,
                    result="@getitem",
                    target="op:getitem",
                )
            )
        if rounding:
            out.append(
                OpSpec(
                    name=f"{family}.__round__",
                    kind="method",
                    family=family,
                    category="elementwise",
                    params=("ndigits",),
                    max_positional=1,
                    result="@same",
                    target="op:round",
                )
            )
    return out


def scalar_specs() -> list[OpSpec]:
    """Methods of Python scalars (numbers and short strings)."""
    specs = block(
        """
        conjugate is_integer bit_length :
        lower upper strip lstrip rstrip title capitalize casefold isdigit isalpha isnumeric
        isspace isupper islower :
        startswith endswith : prefix start end
        count find rfind : sub start end
        """,
        family="scalar",
        category="scalar",
        result="scalar",
    )
    specs += block(
        "split rsplit : sep maxsplit", family="scalar", category="scalar", result="value"
    )
    specs += block("real imag :", family="scalar", category="scalar", kind="attr", result="scalar")
    return specs


def value_specs() -> list[OpSpec]:
    """``len()`` of a list, tuple or dict (its ``[]`` is among the operators)."""
    return [
        OpSpec(
            name="value.__len__",
            kind="method",
            family="value",
            category="indexing",
            result="scalar",
            target="op:len",
        )
    ]
