"""Static inference of a result's family (:func:`infer_family`).

It is a hint for clients (``dir()`` on a pointer before anything ran); the executor always
uses the family of the actual value. Each spec's ``result`` is a family name or one of the
rules below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from unseen.errors import UsageError
from unseen.ops._args import bind
from unseen.ops._families import SCALAR_TYPES, family_of
from unseen.ops._graph import Ref
from unseen.ops._spec import OpSpec

__all__ = ["infer_family"]

FamilyOfRef = Callable[[Ref], str]

# Which family wins when two meet in a binary operator.
_PRIORITY = ("dataframe", "series", "index", "tensor", "ndarray", "scalar")
_HOME = {"numpy": "ndarray", "torch": "tensor", "pandas": "dataframe"}


class _Ctx:
    __slots__ = ("spec", "recv_family", "args", "kwargs", "fam_of_ref", "_bound")

    def __init__(
        self,
        spec: OpSpec,
        receiver_family: str | None,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        fam_of_ref: FamilyOfRef,
    ) -> None:
        self.spec = spec
        self.recv_family = receiver_family
        self.args = args[1:] if spec.kind != "function" else args
        self.kwargs = kwargs
        self.fam_of_ref = fam_of_ref
        self._bound: dict[str, Any] | None = None

    @property
    def bound(self) -> dict[str, Any]:
        """Parameter name -> argument (computed on first use)."""
        if self._bound is None:
            self._bound = bind(self.spec, tuple(self.args), self.kwargs)
        return self._bound

    def family(self, value: Any) -> str:
        if type(value) is Ref:
            return self.fam_of_ref(value)
        if type(value) in SCALAR_TYPES:
            return "scalar"
        try:
            return family_of(value)
        except UsageError:
            return "value"

    def home(self) -> str:
        if self.spec.kind != "function":
            return self.recv_family or "value"
        root = self.spec.name.split(".", 1)[0]
        return _HOME.get(root, "value")

    def first(self, default: str) -> str:
        return self.family(self.args[0]) if self.args else default


def _same(c: _Ctx) -> str:
    if c.spec.kind != "function":
        return c.recv_family or "value"
    return c.first(c.home())


def _binop(c: _Ctx) -> str:
    fams = {c.recv_family or "value", c.first("scalar")}
    for fam in _PRIORITY:
        if fam in fams:
            return fam
    return c.recv_family or "value"


def _is_label(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not isinstance(value, Ref)


def _getitem(c: _Ctx) -> str:
    fam = c.recv_family
    key = c.args[0] if c.args else None
    key_fam = c.family(key) if isinstance(key, Ref) else None
    scalar_key = _is_label(key) or key_fam == "scalar"
    if fam == "dataframe":
        return "series" if scalar_key else "dataframe"
    if fam in ("series", "index"):
        return "scalar" if scalar_key else fam
    if fam == "value":
        return "value" if isinstance(key, slice) else "scalar"
    if fam == "indexer":
        if isinstance(key, tuple) and len(key) == 2:
            labels = sum(1 for k in key if _is_label(k))
            return ("dataframe", "series", "scalar")[labels]
        return "series" if scalar_key else "dataframe"
    return fam or "value"


def _where(c: _Ctx) -> str:
    return "value" if len(c.args) == 1 and len(c.bound) == 1 else c.home()


def _flag(c: _Ctx, *names: str) -> bool:
    return any(bool(c.bound.get(name)) for name in names)


def _unique(c: _Ctx) -> str:
    if _flag(c, "return_index", "return_inverse", "return_counts"):
        return "value"
    return c.home() if c.spec.kind == "function" else (c.recv_family or "value")


def _torch_dim(c: _Ctx) -> str:
    dim = c.bound.get("dim")
    if dim is None:
        return "tensor"
    return "tensor" if c.family(dim) == "tensor" else "value"


def _nonzero(c: _Ctx) -> str:
    return "value" if _flag(c, "as_tuple") else "tensor"


def _size(c: _Ctx) -> str:
    return "scalar" if c.bound.get("dim") is not None else "value"


def _pool(c: _Ctx) -> str:
    return "value" if _flag(c, "return_indices") else "tensor"


def _pd_reduce(c: _Ctx) -> str:
    if c.recv_family == "dataframe":
        return "scalar" if "axis" in c.bound and c.bound["axis"] is None else "series"
    return "scalar" if c.recv_family in ("series", "index") else "dataframe"


def _is_many(value: Any, c: _Ctx) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    return isinstance(value, Ref) and c.family(value) not in ("scalar",)


def _pd_quantile(c: _Ctx) -> str:
    many = _is_many(c.bound.get("q", 0.5), c)
    if c.recv_family == "dataframe":
        return "dataframe" if many else "series"
    return "series" if many else "scalar"


def _pd_agg(c: _Ctx) -> str:
    func = c.bound.get("func")
    if isinstance(func, str):
        return "series" if c.recv_family == "dataframe" else "scalar"
    return "dataframe" if c.recv_family == "dataframe" else "series"


def _pd_dot(c: _Ctx) -> str:
    other = c.first("dataframe")
    if c.recv_family == "series":
        return "scalar" if other in ("series", "ndarray") else "series"
    return "series" if other == "series" else "dataframe"


def _gb_agg(c: _Ctx) -> str:
    return "dataframe"


def _pd_concat(c: _Ctx) -> str:
    objs = c.bound.get("objs")
    if isinstance(objs, (list, tuple)) and objs:
        return c.family(objs[0])
    return "dataframe"


def _first_arg(c: _Ctx) -> str:
    return c.first("series")


_RULES: dict[str, Callable[[_Ctx], str]] = {
    "@same": _same,
    "@binop": _binop,
    "@getitem": _getitem,
    "@where": _where,
    "@unique": _unique,
    "@torch_dim": _torch_dim,
    "@nonzero": _nonzero,
    "@size": _size,
    "@pool": _pool,
    "@pd_reduce": _pd_reduce,
    "@pd_quantile": _pd_quantile,
    "@pd_agg": _pd_agg,
    "@pd_dot": _pd_dot,
    "@gb_agg": _gb_agg,
    "@pd_concat": _pd_concat,
    "@first_arg": _first_arg,
}


def infer_family(
    spec: OpSpec,
    receiver_family: str | None,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    family_of_ref: FamilyOfRef,
) -> str:
    """The statically expected family of the result of ``spec`` called with ``args``/``kwargs``.

    ``args`` and ``kwargs`` are the Action's own: for a method or property ``args[0]`` is the
    receiver. ``family_of_ref`` gives the family of a Ref among the arguments.
    """
    if not spec.result.startswith("@"):
        return spec.result
    return _RULES[spec.result](_Ctx(spec, receiver_family, args, kwargs, family_of_ref))
