"""``loss.backward()`` on a pointer: one ``torch.autograd.grad`` action on the node.

The parameters a loss depends on are found in the client's lazy graph: the ParameterPointers
of sent models (``model.send(node)``) among the loss's ancestors. ``backward`` records the
gradient of the loss by all of them at once (autograd runs on the node, unseen/ops/_autograd.py)
and adds each gradient to its parameter's ``.grad``, as torch does. Nothing is sent: the
gradients ship with the next ``.get()`` / ``.compute()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unseen import ops
from unseen.client._graph import Vertex, post_order
from unseen.client._params import ParameterPointer
from unseen.errors import UsageError

if TYPE_CHECKING:
    from unseen.client._pointer import Pointer

_LOSSES = frozenset(
    "torch.nn.functional." + name
    for name in (
        "cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss binary_cross_entropy "
        "binary_cross_entropy_with_logits kl_div"
    ).split()
)
_SCALAR_OPS = frozenset({"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                         "__truediv__", "__neg__"})  # fmt: skip


def _bound(vertex: Vertex) -> ParameterPointer | None:
    pointer = vertex.pointer() if vertex.pointer is not None else None
    return pointer if isinstance(pointer, ParameterPointer) else None


def _forward(target: Vertex) -> tuple[list[ParameterPointer], dict[str, Vertex], list[Vertex]]:
    """The parameters ``target`` depends on, the vertices where the walk stopped (parameters
    and sent values, by id) and the actions between them and ``target``, parents first."""
    params: dict[int, ParameterPointer] = {}
    stops: dict[str, Vertex] = {}

    def stop(vertex: Vertex) -> bool:
        param = _bound(vertex) if vertex is not target else None
        if param is None and vertex.action is not None:
            return False
        if param is not None:
            params.setdefault(id(param), param)
        stops[vertex.id] = vertex
        return True

    order = post_order([target], stop)
    return list(params.values()), stops, order


def _known_scalar(vertex: Vertex) -> bool | None:
    """Whether the loss is a scalar, from its last action alone (None: not known so)."""
    action = vertex.action
    if action is None:
        return None
    if action.kind == "function" and action.name in _LOSSES:
        return action.kwargs.get("reduction", "mean") != "none"
    if action.kind == "method" and action.name in ("sum", "mean") and len(action.args) == 1:
        return not action.kwargs
    if action.kind == "function" and action.name in ("torch.sum", "torch.mean"):
        return len(action.args) == 1 and not action.kwargs
    if action.kind == "method" and action.name in _SCALAR_OPS:
        others = [a for a in action.args[1:] if isinstance(a, ops.Ref)]
        if not others and isinstance(action.args[0], ops.Ref):
            parent = next((p for p in vertex.parents if p.id == action.args[0].id), None)
            return _known_scalar(parent) if parent is not None else None
    return None


def _mock_shape(loss: Pointer, stops: dict[str, Vertex], order: list[Vertex]) -> tuple[int, ...]:
    """The loss's shape on the mock, with zeros for the parameters (their shapes are public)."""
    import torch

    env: dict[str, Any] = {}
    for vid, vertex in stops.items():
        param = _bound(vertex)
        if param is not None:
            env[vid] = torch.zeros(param.shape, dtype=param.dtype)
        else:
            env[vid] = loss.client._mock_value(vertex)
    actions = [v.action for v in order if v.action is not None]
    try:
        value = ops.execute(actions, env, keep={loss.id})[loss.id]
    except ops.ExecutionError as exc:
        raise UsageError(
            f"{exc.op} fails on the mock ({type(exc.original).__name__}: {exc.original}); "
            "it would fail on the node too if the data has the mock's shape and types"
        ) from None
    return tuple(getattr(value, "shape", ()))


def backward(
    loss: Pointer,
    gradient: Any = None,
    retain_graph: Any = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Record the gradients of the scalar ``loss`` by every parameter it depends on, and add
    them to the parameters' ``.grad``."""
    if gradient is not None:
        raise UsageError(
            "backward() on a pointer takes no gradient argument: reduce the loss to a scalar "
            "first (e.g. loss.mean())"
        )
    if create_graph or retain_graph or inputs is not None:
        raise UsageError(
            "backward() on a pointer supports neither create_graph, retain_graph nor inputs: "
            "each backward takes the gradients by every parameter the loss depends on"
        )
    if loss.family != "tensor":
        raise UsageError(f"backward() needs a torch tensor loss, not a {loss.family}")
    params, stops, order = _forward(loss._vertex)
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise UsageError(
            "this loss depends on no parameter of a model sent to its node: send the model "
            "first (model_ptr = model.send(node)) and compute the loss from model_ptr(x)"
        )
    scalar = _known_scalar(loss._vertex)
    if scalar is None:
        shape = _mock_shape(loss, stops, order)
        scalar = len(shape) == 0 or all(n == 1 for n in shape)
        where = f"its shape is {shape} (on the mock)"
    else:
        where = "its reduction is 'none'"
    if not scalar:
        raise UsageError(
            f"backward() needs a scalar loss, and {where}: reduce it first, e.g. loss.mean() "
            "or loss.sum()"
        )
    grads = loss.client._function(ops.GRAD, (loss, list(trainable)), {})
    for i, param in enumerate(trainable):
        gradient_i = grads[i]
        gradient_i._vertex.family = "tensor"
        param._accumulate_grad(gradient_i)
