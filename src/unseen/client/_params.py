"""ParameterPointer: a parameter (or buffer) of a model sent to a node, with its ``.grad``.

A parameter's value changes with every optimizer step: each step is a new value on the node
(``p - lr * g``, recorded lazily), and the ParameterPointer is rebound to it, so that the
optimizer and the model keep one handle per parameter. Its shape and dtype are public: the
scientist chose the architecture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unseen.client._pointer import Pointer
from unseen.errors import OperationNotAllowed, UsageError

if TYPE_CHECKING:
    from unseen.client._client import Client
    from unseen.client._graph import Vertex


class ParameterPointer(Pointer):
    """A model's parameter on a node (``model_ptr.parameters()``); ``.grad`` is the pointer to
    its gradient after ``loss.backward()`` (None before, and after ``zero_grad()``).

    Buffers (BatchNorm's running statistics) are ParameterPointers with
    ``requires_grad=False``: they change with training but get no gradient.
    """

    __slots__ = ("name", "requires_grad", "_grad", "_shape", "_dtype")

    def __init__(
        self,
        client: Client,
        vertex: Vertex,
        *,
        name: str,
        shape: tuple[int, ...],
        dtype: Any,
        requires_grad: bool = True,
    ) -> None:
        super().__init__(client, vertex)
        self.name = name
        self.requires_grad = requires_grad
        self._grad: Pointer | None = None
        self._shape = tuple(shape)
        self._dtype = dtype

    @classmethod
    def adopt(
        cls,
        pointer: Pointer,
        *,
        name: str,
        shape: tuple[int, ...],
        dtype: Any,
        requires_grad: bool = True,
    ) -> ParameterPointer:
        """The ParameterPointer of a tensor just sent (``pointer`` is not used after)."""
        import weakref

        param = cls(
            pointer.client,
            pointer._vertex,
            name=name,
            shape=shape,
            dtype=dtype,
            requires_grad=requires_grad,
        )
        pointer._vertex.pointer = weakref.ref(param)
        return param

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def computed(self) -> bool:
        """Whether the node holds this parameter's current value (no step pending)."""
        return self._vertex.materialized

    @property
    def grad(self) -> Pointer | None:
        """The gradient accumulated by ``loss.backward()`` calls since the last zero_grad."""
        return self._grad

    @grad.setter
    def grad(self, value: Pointer | None) -> None:
        if value is not None and not isinstance(value, Pointer):
            raise UsageError(
                "a parameter's .grad is a pointer on its node (or None); its value stays there"
            )
        self._grad = value

    @property
    def data(self) -> Any:
        raise OperationNotAllowed(
            "'data' is not allowed on a parameter pointer: it reaches the storage without "
            "autograd; use the pointer itself"
        )

    @data.setter
    def data(self, value: Any) -> None:
        raise OperationNotAllowed(
            "assigning a parameter's .data is an in-place edit, which a node never does: "
            "parameters change through an optimizer's step() (or send a new model)"
        )

    def _accumulate_grad(self, gradient: Pointer) -> None:
        """Add ``gradient`` to ``.grad`` (what ``loss.backward()`` does, as in torch)."""
        if not self.requires_grad:
            raise UsageError(f"{self.name} is a buffer: it gets no gradient")
        previous = self._grad
        self._grad = gradient if previous is None else previous._method("__add__", (gradient,), {})

    def _rebind(self, value: Pointer) -> None:
        """Point this parameter at ``value`` (its next value, computed from this one). The
        value it held is computed in the same graph as what needs it and not kept apart."""
        import weakref

        if value.client is not self.client:
            raise UsageError("a parameter's new value must be on the same node, same session")
        old = self._vertex
        if old is value._vertex:
            return
        old.pointer = None
        self._vertex = value._vertex
        self._mock_cache = None
        self._vertex.pointer = weakref.ref(self)

    def __repr__(self) -> str:
        dtype = str(self._dtype).replace("torch.", "")
        state = "" if self._vertex.materialized else " (not computed yet)"
        return (
            f"<ParameterPointer {self.name} {dtype} {self._shape} on "
            f"{self.client.node_name!r} id={self.id[:8]}{state}>"
        )
