"""What one entry of the closed vocabulary allows (:class:`OpSpec`), and a compact notation to
write many entries at once from categories.

A table block is a string of lines ``names... : signature``. The signature lists positional
parameter names in order, then ``|`` and keyword-only names::

    "sum prod : a axis dtype | keepdims initial where"
    "reshape : *shape | order"          # *name collects any number of positional arguments
    "add subtract : x1 x2 / | dtype"    # names before "/" are positional only

Positional arguments past the listed ones are refused, which is how a library's positional
``out`` (``numpy.sum(a, axis, dtype, out)``) stays unreachable. Keywords are allowed only if
named in the signature.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from unseen.ops._graph import ActionKind

__all__ = [
    "OpSpec",
    "VARARGS_CAP",
    "parse_sig",
    "block",
    "methods_from_functions",
    "with_dtype_checks",
]

#: The most positional arguments a ``*name`` parameter takes.
VARARGS_CAP = 64


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One allowed operation.

    ``name`` is qualified: ``"ndarray.sum"``, ``"numpy.log"``, ``"tensor.T"``. ``family`` is the
    receiver's family for methods and properties, ``None`` for functions. ``params`` are the
    positional parameter names (after the receiver, for methods); ``kwargs`` every keyword name
    allowed; ``max_positional`` the most positional arguments (after the receiver).
    ``result`` is a family name or a rule (``"@same"``, ``"@binop"``, ...) that
    :func:`unseen.ops.infer_family` applies. ``target`` says what runs: a qualified function
    (``"numpy.log"``), ``"."`` (the receiver's method of the same name), ``"op:add"`` (an
    operator, ``"op:radd"`` reflected), ``"call:numpy.round"`` (a function of the receiver),
    or ``"attr"``. ``checks`` name static validators, ``guard`` a size estimate run on the
    resolved arguments before the call, ``forced`` keywords always passed (dropout's
    ``training=False``).
    """

    name: str
    kind: ActionKind
    family: str | None
    category: str
    params: tuple[str, ...] = ()
    kwargs: frozenset[str] = frozenset()
    max_positional: int = 0
    varargs: str | None = None
    result: str = "@same"
    target: str = "."
    checks: tuple[str, ...] = ()
    guard: str | None = None
    forced: tuple[tuple[str, Any], ...] = ()

    def __hash__(self) -> int:
        # Specs are looked up often (resolve_callable's cache): hash what identifies them.
        return hash((self.name, self.kind, self.target))

    @property
    def short(self) -> str:
        """The unqualified name: ``"sum"`` for ``"ndarray.sum"``."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def namespace(self) -> str | None:
        """The namespace of a function (``"numpy.linalg"``), else ``None``."""
        return self.name.rsplit(".", 1)[0] if self.kind == "function" else None

    def param_name(self, position: int) -> str | None:
        """The name of the positional parameter at ``position`` (after the receiver)."""
        if position < len(self.params):
            return self.params[position]
        return self.varargs


@dataclass(frozen=True, slots=True)
class Sig:
    """A parsed signature."""

    params: tuple[str, ...]
    positional_only: int
    varargs: str | None
    keywords: tuple[str, ...]

    def kwargs(self) -> frozenset[str]:
        return frozenset(self.params[self.positional_only :]) | frozenset(self.keywords)

    def max_positional(self) -> int:
        return len(self.params) + (VARARGS_CAP if self.varargs else 0)

    def drop_first(self) -> Sig:
        """The signature as a method: the first parameter becomes the receiver."""
        if not self.params:
            return self
        return Sig(self.params[1:], max(0, self.positional_only - 1), self.varargs, self.keywords)


def parse_sig(text: str) -> Sig:
    """Parse ``"a axis dtype | keepdims"`` (see the module docstring)."""
    head, _, tail = text.partition("|")
    params: list[str] = []
    positional_only = 0
    varargs = None
    for token in head.split():
        if token == "/":
            positional_only = len(params)
        elif token.startswith("*"):
            varargs = token[1:]
        else:
            params.append(token)
    return Sig(tuple(params), positional_only, varargs, tuple(tail.split()))


def _lines(text: str) -> Iterable[tuple[list[str], Sig]]:
    """``(names, signature)`` per entry; names may run over several lines up to the ``:``."""
    pending: list[str] = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        names, sep, sig = line.partition(":")
        pending += names.split()
        if sep:
            yield pending, parse_sig(sig)
            pending = []
    if pending:
        raise ValueError(f"names without a signature (missing ':'): {pending}")


def block(
    text: str,
    *,
    category: str,
    family: str | None = None,
    namespace: str | None = None,
    kind: ActionKind | None = None,
    result: str = "@same",
    target: str | None = None,
    checks: tuple[str, ...] = (),
    guard: str | None = None,
    forced: tuple[tuple[str, Any], ...] = (),
) -> list[OpSpec]:
    """Specs for every line of ``text``: methods of ``family`` or functions of ``namespace``."""
    if (family is None) == (namespace is None):
        raise ValueError("give exactly one of family and namespace")
    out = []
    for names, sig in _lines(text):
        for name in names:
            out.append(_spec(name, sig, category, family, namespace, kind, result, target))
    return [
        replace(spec, checks=checks, guard=guard, forced=forced)
        if checks or guard or forced
        else spec
        for spec in out
    ]


def _spec(
    name: str,
    sig: Sig,
    category: str,
    family: str | None,
    namespace: str | None,
    kind: ActionKind | None,
    result: str,
    target: str | None,
) -> OpSpec:
    if namespace is not None:
        qualified = f"{namespace}.{name}"
        return OpSpec(
            name=qualified,
            kind="function",
            family=None,
            category=category,
            params=sig.params,
            kwargs=sig.kwargs(),
            max_positional=sig.max_positional(),
            varargs=sig.varargs,
            result=result,
            target=target or qualified,
        )
    actual_kind: ActionKind = kind or "method"
    return OpSpec(
        name=f"{family}.{name}",
        kind=actual_kind,
        family=family,
        category=category,
        params=sig.params,
        kwargs=sig.kwargs(),
        max_positional=sig.max_positional(),
        varargs=sig.varargs,
        result=result,
        target=target or ("attr" if actual_kind == "attr" else "."),
    )


def methods_from_functions(
    specs: Iterable[OpSpec], family: str, names: Iterable[str]
) -> list[OpSpec]:
    """Method specs for ``names``, from function specs whose first parameter is the receiver.

    ``torch.sum(input, dim, keepdim)`` gives ``tensor.sum(dim, keepdim)``.
    """
    by_short = {spec.short: spec for spec in specs}
    out = []
    for name in names:
        fn = by_short[name]
        sig = Sig(fn.params, 0, fn.varargs, tuple(fn.kwargs - set(fn.params))).drop_first()
        out.append(
            OpSpec(
                name=f"{family}.{name}",
                kind="method",
                family=family,
                category=fn.category,
                params=sig.params,
                kwargs=sig.kwargs(),
                max_positional=sig.max_positional(),
                varargs=sig.varargs,
                result=fn.result,
                target=".",
                checks=fn.checks,
                guard=fn.guard,
                forced=fn.forced,
            )
        )
    return out


def with_dtype_checks(specs: Iterable[OpSpec]) -> list[OpSpec]:
    """Every spec that takes a ``dtype`` keyword also runs the ``dtype`` check."""
    return [
        replace(s, checks=(*s.checks, "dtype"))
        if ("dtype" in s.kwargs or "dtype" in s.params) and "dtype" not in s.checks
        else s
        for s in specs
    ]
