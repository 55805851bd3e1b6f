"""Pointer: a handle to a value on a node, mirroring the allowed API of what it points to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from unseen import ops
from unseen.client._graph import Vertex
from unseen.errors import OperationNotAllowed, UsageError
from unseen.messages.objects import OBJECT_DROP, ObjectDropRequest

if TYPE_CHECKING:
    from unseen.client._client import Client
    from unseen.client._views import Request

_FAMILY_NAMES = {
    "ndarray": "numpy array",
    "tensor": "torch tensor",
    "dataframe": "pandas DataFrame",
    "series": "pandas Series",
    "index": "pandas Index",
    "groupby": "pandas GroupBy",
    "indexer": "pandas indexer",
    "scalar": "scalar",
    "value": "value",
    "failed": "failed result",
}


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


#: Keywords torch passes on to ``__torch_function__`` at their defaults, which change nothing.
_DEFAULTS: dict[str, Any] = {"norm_type": 2.0, "label_smoothing": 0.0, "ignore_index": -100}


def _torch_kwargs(spec: ops.OpSpec, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keywords of a torch call as the vocabulary takes them: those torch fills in at
    their defaults (``inplace=False``, ``size_average=None``, ``_stacklevel``) are left out;
    any other keyword the entry does not allow is refused, naming it."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in spec.kwargs:
            if key not in _DEFAULTS or value != _DEFAULTS[key]:
                out[key] = value
            continue
        if key.startswith("_") or value is None or value is False:
            continue
        if key in _DEFAULTS and value == _DEFAULTS[key]:
            continue
        raise OperationNotAllowed(
            f"{spec.name} with {key}={value!r} is not available on a node: the vocabulary "
            f"runs {spec.name} without '{key}'"
            + (" (dropout is an identity there)" if spec.short == "dropout" else "")
        )
    return out


class NotAllowedAttribute(OperationNotAllowed, AttributeError):
    """An attribute outside the vocabulary; also an AttributeError so hasattr() is False."""


class Pointer:
    """A value on a node. Operations on it run there; ``.get()`` returns the value only
    through a release (yours to see, an accepted request, or a DP answer)."""

    __slots__ = ("_client", "_vertex", "_mock_cache", "__weakref__")
    __array_ufunc__ = None  # ndarray + pointer defers to Pointer.__radd__

    def __init__(self, client: Client, vertex: Vertex) -> None:
        self._client = client
        self._vertex = vertex
        self._mock_cache: Any = None

    # -- identity and metadata ------------------------------------------------------
    @property
    def id(self) -> str:
        return self._vertex.id

    @property
    def client(self) -> Client:
        return self._client

    @property
    def family(self) -> str:
        """The kind of value: ndarray, tensor, dataframe, series, scalar, ..."""
        return self._vertex.family

    @property
    def tags(self) -> list[str]:
        info = self._vertex.info
        return list(info.tags) if info is not None else []

    @property
    def description(self) -> str:
        info = self._vertex.info
        return info.description if info is not None else ""

    @property
    def _meta(self) -> dict[str, Any]:
        info = self._vertex.info
        return dict(info.meta) if info is not None else {}

    @property
    def shape(self) -> tuple[int, ...]:
        """Public shape of an uploaded value; for computed values, the shape on the mock."""
        meta = self._meta
        if "shape" in meta:
            return tuple(meta["shape"])
        value = self.mock_result()
        shape = getattr(value, "shape", None)
        if shape is None:
            raise UsageError(f"a {_FAMILY_NAMES.get(self.family, self.family)} has no shape")
        return tuple(shape)

    @property
    def dtype(self) -> Any:
        meta = self._meta
        if "dtype" in meta:
            return meta["dtype"]
        return getattr(self.mock_result(), "dtype", None)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    # -- results ---------------------------------------------------------------------
    def get(
        self,
        *,
        epsilon: float | None = None,
        delta: float | None = None,
        request_block: bool = False,
        name: str | None = None,
        reason: str | None = None,
        timeout_secs: float | None = None,
        delete_obj: bool = False,
    ) -> Any:
        """The value, if it may be released to you.

        Private values raise :class:`unseen.CannotRequestPrivateData`. With
        ``request_block=True`` a request goes to the owner and this call waits for the
        decision (up to ``timeout_secs``). The value stays on the node; ``delete_obj=True``
        deletes a result you computed (PySyft deleted by default; values you sent stay, see
        ``VirtualWorker.clear_objects``).
        """
        if epsilon is not None or delta is not None:
            value = self._client._dp_get(self, epsilon=epsilon, delta=delta)
        elif request_block:
            request = self.request(name=name or "", reason=reason or "")
            value = request.wait(timeout_secs).get()
        else:
            value = self._client._run([self], get=True)[0]
        if delete_obj:
            self._client.ask(OBJECT_DROP, ObjectDropRequest(ids=[self.id]))
        return value

    def request(self, name: str = "", reason: str = "") -> Request:
        """Ask the node's owner to release this value to you; returns the pending request."""
        return self._client._request(self, name=name, reason=reason)

    def share(self, *parties: Any, crypto_provider: Any = None, **options: Any) -> Any:
        """Secret-share this value among ``parties`` (its own node must be one of them):
        the node inputs it, so the data never passes through you. See ``unseen.share``."""
        from unseen.client._mpc import share

        return share(self, *parties, crypto_provider=crypto_provider, **options)

    def compute(self) -> Pointer:
        """Run the recorded operations on the node now and keep the result there."""
        self._client._run([self], get=False)
        return self

    def mock_result(self) -> Any:
        """The same operations run locally on the mock: instant shape and dtype feedback."""
        if self._mock_cache is None:
            self._mock_cache = self._client._mock_eval(self._vertex)
        return self._mock_cache

    @property
    def mock(self) -> Any:
        """The public mock of an asset (or zeros of its public shape when it has none)."""
        if self._vertex.action is not None:
            return self.mock_result()
        return self._client._mock_value(self._vertex)

    def sample(self, n: int = 5, *args: Any, **kwargs: Any) -> Any:
        """``n`` rows of the mock, never of the private data."""
        return self._client._sample(self, n)

    # -- PySyft's names ------------------------------------------------------------------
    @property
    def location(self) -> Client:
        """The session with the node that holds the value (PySyft's ``ptr.location``)."""
        return self._client

    @property
    def id_at_location(self) -> str:
        """The value's id on its node (PySyft's ``ptr.id_at_location``): :attr:`id`."""
        return self.id

    def copy(self, *args: Any, **kwargs: Any) -> Pointer:
        """A copy of the value, made on the node (``.copy()``, or ``.clone()`` for tensors)."""
        name = "clone" if self.family == "tensor" else "copy"
        return self._method(name, args, kwargs)

    def move(self, location: Any) -> Pointer:
        """Not in unseen: a value never moves between nodes by itself."""
        raise UsageError(
            f"a value stays on its node ({self._client.node_name!r}): values on several nodes "
            "combine through MPC, ptr.share(...), or .get() a value you may see and "
            ".send(...) it to the other node"
        )

    def remote_get(self) -> Pointer:
        """Not in unseen: results stay on the node already."""
        raise UsageError(
            "remote_get is not needed: results stay on the node; .compute() runs the recorded "
            "operations there now and keeps the result"
        )

    # -- tags (also the torch hook's .tag / .describe on tensors) ------------------------
    def tag(self, *tags: str) -> Pointer:
        self._client._set_info(self, tags=[*self.tags, *tags])
        return self

    def describe(self, *args: Any, **kwargs: Any) -> Any:
        """``describe("text")`` sets the description; a pandas pointer's ``describe()``
        with no text is pandas' summary, run on the node."""
        if (
            len(args) == 1
            and isinstance(args[0], str)
            and not kwargs
            and self.family not in ("dataframe", "series")
        ):
            self._client._set_info(self, description=args[0])
            return self
        return self._method("describe", args, kwargs)

    # -- the vocabulary ------------------------------------------------------------------
    def _method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Pointer:
        return self._client._record("method", name, (self, *args), kwargs, receiver=self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            spec = ops.lookup_method(self._vertex.family, name)
        except OperationNotAllowed as exc:
            raise NotAllowedAttribute(str(exc)) from None
        if spec.kind == "attr":
            return self._client._record("attr", name, (self,), {}, receiver=self)

        def call(*args: Any, **kwargs: Any) -> Pointer:
            return self._method(name, args, kwargs)

        call.__name__ = name
        call.__doc__ = f"Run {spec.name} on the node; returns a Pointer."
        return call

    def __dir__(self) -> list[str]:
        own = [n for n in type(self).__dict__ if not n.startswith("_")]
        own += ["id", "family", "tags", "description", "shape", "dtype", "ndim"]
        return sorted(set(own) | set(ops.methods_of(self._vertex.family)))

    # -- plain Python protocols: never fetch a value silently ------------------------------
    def __repr__(self) -> str:
        kind = _FAMILY_NAMES.get(self.family, self.family)
        meta = self._meta
        shape, dtype = meta.get("shape"), meta.get("dtype")
        where = f"on {self._client.node_name!r}"
        if self._vertex.action is not None and shape is None:
            try:
                value = self.mock_result()
                shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
                where += ", shape from the mock"
            except Exception:  # the mock may not support it; the repr must still work
                pass
        parts = [kind]
        if dtype is not None:
            parts.append(str(dtype))
        if shape is not None:
            parts.append(str(tuple(shape)))
        state = "" if self._vertex.materialized else " (not computed yet)"
        return f"<Pointer {' '.join(parts)} {where} id={self.id[:8]}{state}>"

    def _repr_html_(self) -> str:
        import html

        rows = [("Pointer", self.__repr__())]
        if self.tags:
            rows.append(("Tags", " ".join(self.tags)))
        if self.description:
            rows.append(("Description", self.description[:500]))
        body = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        return f"<table>{body}</table>"

    def __format__(self, spec: str) -> str:
        if spec:
            raise UsageError("a pointer's value is not here to format: call .get() first")
        return repr(self)

    def __len__(self) -> int:
        shape = self._meta.get("shape")
        if not shape:
            raise UsageError(
                "the length of a computed remote value is not known here; "
                "use ptr.shape (from the mock) or .get() it first"
            )
        return int(shape[0])

    def __iter__(self) -> Iterator[Pointer]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        raise UsageError(
            "the truth value of a remote value is not here: call .get() (if you may) or "
            "build the condition remotely, e.g. unseen.np.where(...)"
        )

    def _no_scalar(self, *args: Any) -> Any:
        raise UsageError(
            "a pointer is not a number here: call .get() to fetch the value, if you may"
        )

    __int__ = __float__ = __complex__ = __index__ = _no_scalar

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(
            "numpy cannot convert a pointer: the data stays on the node. Use unseen.np.<function> "
            "for remote numpy calls, or .get() the value if you may"
        )

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        """A torch function called with a pointer records the same function on its node
        (``torch.nn.functional.relu(ptr)`` is ``unseen.torch.nn.functional.relu(ptr)``); a
        function outside the vocabulary is refused here, naming it, before anything is sent."""
        from torch.overrides import resolve_name

        name = resolve_name(func) or getattr(func, "__name__", "")
        if not name or name.startswith("torch.Tensor."):
            return NotImplemented  # tensor <op> pointer: Python then tries Pointer's reflected op
        spec = ops.lookup_function(name)
        pointer = _first_pointer((args, kwargs))
        if pointer is None:
            return NotImplemented
        return pointer._client._function(name, tuple(args), _torch_kwargs(spec, kwargs or {}))

    def backward(
        self,
        gradient: Any = None,
        retain_graph: Any = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Gradients of this scalar loss by the parameters of the sent models it depends on,
        added to their ``.grad`` (recorded: they are computed on the node with the next
        ``.get()`` or ``.compute()``). See docs/training.md."""
        from unseen.client._autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    def __setitem__(self, key: Any, value: Any) -> None:
        raise OperationNotAllowed(
            "remote values are read-only: build a new one instead, e.g. unseen.np.where(mask, a, b)"
        )

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise UsageError("pointers cannot be pickled")

    __hash__ = object.__hash__

    # -- operators -----------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Pointer:
        return self._method("__getitem__", (key,), {})

    def __neg__(self) -> Pointer:
        return self._method("__neg__", (), {})

    def __pos__(self) -> Pointer:
        return self._method("__pos__", (), {})

    def __abs__(self) -> Pointer:
        return self._method("__abs__", (), {})

    def __invert__(self) -> Pointer:
        return self._method("__invert__", (), {})

    def __round__(self, ndigits: int | None = None) -> Pointer:
        return self._method("__round__", () if ndigits is None else (ndigits,), {})


def _binary(name: str) -> Any:
    def op(self: Pointer, other: Any) -> Pointer:
        return self._method(name, (other,), {})

    op.__name__ = name
    return op


for _name in (
    "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift "
    "radd rsub rmul rtruediv rfloordiv rmod rpow rmatmul rand ror rxor "
    "lt le gt ge eq ne"
).split():
    setattr(Pointer, f"__{_name}__", _binary(f"__{_name}__"))
