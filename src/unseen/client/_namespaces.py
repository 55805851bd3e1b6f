"""``unseen.np``, ``unseen.torch`` and ``unseen.pd``: library functions that take pointers."""

from __future__ import annotations

from typing import Any

from unseen import ops
from unseen.client._pointer import NotAllowedAttribute, Pointer
from unseen.errors import OperationNotAllowed, UsageError


def _first_pointer(value: Any) -> Pointer | None:
    if isinstance(value, Pointer):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_pointer(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_pointer(list(value.values()))
    return None


class RemoteFunction:
    def __init__(self, qualname: str) -> None:
        self.qualname = qualname
        self.__name__ = qualname.rsplit(".", 1)[-1]
        self.__doc__ = f"{qualname} run on the node of its pointer arguments; returns a Pointer."

    def __call__(self, *args: Any, **kwargs: Any) -> Pointer:
        pointer = _first_pointer((args, kwargs))
        if pointer is None:
            raise UsageError(
                f"unseen.{self.qualname} needs at least one pointer argument; for local values call the library itself"
            )
        return pointer.client._function(self.qualname, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote function {self.qualname}>"


class Namespace:
    """A library namespace whose functions run remotely, e.g. ``unseen.np.log(ptr)``."""

    def __init__(self, qualname: str) -> None:
        self._qualname = qualname

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        qualname = f"{self._qualname}.{name}"
        if any(n == qualname or n.startswith(qualname + ".") for n in ops.namespaces()):
            return Namespace(qualname)
        try:
            ops.lookup_function(qualname)
        except OperationNotAllowed as exc:
            raise NotAllowedAttribute(str(exc)) from None
        return RemoteFunction(qualname)

    def __dir__(self) -> list[str]:
        prefix = self._qualname + "."
        subs = [n[len(prefix) :].split(".")[0] for n in ops.namespaces() if n.startswith(prefix)]
        return sorted(set(ops.functions_of(self._qualname)) | set(subs))

    def __repr__(self) -> str:
        return f"<unseen namespace {self._qualname}: {len(ops.functions_of(self._qualname))} functions>"


np = Namespace("numpy")
torch = Namespace("torch")
pd = Namespace("pandas")
