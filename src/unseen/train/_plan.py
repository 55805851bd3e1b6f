"""Plans (PySyft 0.2's): ``@unseen.plan`` traces a function once into a graph, ships the graph
to a node once, and runs it there by id with new pointer inputs.

The first call (or ``plan.trace(...)``) runs the function here on placeholders: a pointer for
each pointer argument (with its mock), and for a :class:`ModulePointer` argument a copy of the
module pointer whose parameters are placeholders (the architecture is public). What it records
is the plan's graph (:class:`unseen.ops.PlanGraph`): its inputs, its actions, and its outputs:
what it returns, the parameters it changes (an optimizer's step inside the plan) and the
gradients it computes (``loss.backward()``). ``plan.graph`` shows it, ``plan.hash`` pins it.

Each call sends nothing by itself: it records the plan's actions in the client's lazy graph,
bound to this call's inputs, as one call (``ops.PLAN_CALL``): the next ``.get()`` ships the
call, not the actions, and the node expands it from the stored plan. Gradients are added to
the parameters' ``.grad`` and new parameter values rebind the model's parameter pointers, as
the same code run eagerly would.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from unseen import ops
from unseen.client import Client, ParameterPointer, Pointer, Vertex, new_id, post_order
from unseen.errors import OperationNotAllowed, UsageError
from unseen.messages.objects import ObjectView
from unseen.train._module import ModulePointer

__all__ = ["Plan", "PlanView", "check_optimizer_in_trace", "plan"]

#: the placeholder parameters of the trace running now (None: no trace)
_TRACING: contextvars.ContextVar[frozenset[int] | None] = contextvars.ContextVar(
    "unseen_plan_trace", default=None
)
_CONSTANTS = (bool, int, float, str, type(None))


def check_optimizer_in_trace(params: list[ParameterPointer]) -> None:
    """Refuse an optimizer made outside a plan from stepping (or zeroing) inside its trace:
    it holds the model's real parameters, not the plan's inputs."""
    placeholders = _TRACING.get()
    if placeholders is not None and any(id(p) not in placeholders for p in params):
        raise UsageError(
            "an optimizer made outside the plan cannot step inside it: it holds the model's "
            "own parameters, not the plan's inputs. Create the optimizer inside the plan "
            "(torch.optim.SGD(model.parameters(), ...)), or call opt.step() after the plan"
        )


def _dtype(value: Any) -> str:
    return str(value).removeprefix("torch.")


def _pointer_spec(pointer: Pointer) -> tuple[str, str, tuple[int, ...]]:
    """(family, dtype, shape but the first dimension) of a pointer: from its public meta, or
    its mock."""
    meta = pointer._meta
    if "shape" in meta and "dtype" in meta:
        shape, dtype = tuple(meta["shape"]), meta["dtype"]
    else:
        mock = pointer.mock
        shape, dtype = tuple(getattr(mock, "shape", ())), getattr(mock, "dtype", None)
    return pointer.family, _dtype(dtype), tuple(int(n) for n in shape[1:]) if shape else ()


def _show(spec: tuple[str, str, tuple[int, ...]]) -> str:
    family, dtype, rest = spec
    return f"{family} {dtype} (N{''.join(f', {n}' for n in rest)})"


def _entries(mp: ModulePointer) -> list[tuple[str, Any, ParameterPointer]]:
    """The module's parameters and buffers, each once: (name within it, local tensor, pointer)."""
    seen: set[int] = set()
    out = []
    module = mp._module
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            out.append((name, tensor, mp._tensors[id(tensor)]))
    return out


def _module_spec(mp: ModulePointer) -> tuple[Any, ...]:
    entries = tuple((n, p.shape, _dtype(p.dtype), p.requires_grad) for n, _, p in _entries(mp))
    modes = tuple(m.training for m in mp._module.modules())
    return type(mp._module), entries, modes


@dataclass
class _Trace:
    """What one trace gives: the graph, and how calls bind to it and use its outputs."""

    graph: ops.PlanGraph
    digest: str
    families: list[str]
    specs: dict[str, Any]  # argument name -> ("pointer", spec) | ("module", spec) | ("constant", v)
    returns: Any  # None, an output index, or (tuple|list, [indices])
    updates: list[tuple[str, str, int, int]] = field(default_factory=list)  # kind, arg, entry, out


class PlanView:
    """``plan.graph``: the plan's op graph as an owner reviews it (``str()`` or ``print``):
    its inputs, one line per operation, and its outputs, headed by its hash."""

    def __init__(self, name: str, lines: list[str] | None) -> None:
        self.name = name
        self.lines = lines

    @property
    def traced(self) -> bool:
        return self.lines is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines or [])

    def __str__(self) -> str:
        if self.lines is None:
            return (
                f"plan {self.name}: not traced yet. It is traced on its first call, "
                f"{self.name}(...) with pointers, or by {self.name}.trace(...)"
            )
        return "\n".join(self.lines)

    __repr__ = __str__


class Plan:
    """A function traced once into a graph and run on a node by id (``@unseen.plan``).

    Call it with pointers (and model pointers) as the function takes: each call returns
    pointers, lazily, like any operation on pointers. ``.graph`` is the graph an owner
    reviews, ``.hash`` its sha256.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise UsageError(f"unseen.plan takes a function, not {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._name: str = getattr(fn, "__name__", "plan")
        self._signature = inspect.signature(fn)
        for param in self._signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise UsageError(
                    f"a plan takes named arguments; {self._name} has *{param.name}: list them"
                )
        self._trace: _Trace | None = None
        self._shipped: dict[int, tuple[Client, Pointer]] = {}
        # per model pointer called with: its parameter pointers and its spec but the modes
        self._models: dict[int, tuple[ModulePointer, list[ParameterPointer], Any]] = {}

    def _model(self, mp: ModulePointer) -> tuple[list[ParameterPointer], tuple[Any, ...]]:
        """The parameter pointers of ``mp`` and its spec (layers, shapes, modes)."""
        known = self._models.get(id(mp))
        if known is None or known[0] is not mp:
            spec = _module_spec(mp)
            known = (mp, [p for _, _, p in _entries(mp)], spec[:2])
            self._models[id(mp)] = known
        modes = tuple(m.training for m in mp._module.modules())
        return known[1], (*known[2], modes)

    # -- what an owner reviews ------------------------------------------------------------
    @property
    def graph(self) -> PlanView:
        if self._trace is None:
            return PlanView(self._name, None)
        return PlanView(self._name, ops.render_plan(self._trace.graph, self._trace.digest))

    @property
    def hash(self) -> str:
        """The sha256 (hex) of the plan's graph: what an approval pins."""
        if self._trace is None:
            raise UsageError(str(self.graph))
        return self._trace.digest

    def __repr__(self) -> str:
        state = f"sha256:{self._trace.digest[:16]}..." if self._trace else "not traced yet"
        return f"<unseen plan {self._name} ({state})>"

    # -- tracing ------------------------------------------------------------------------------
    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            names = ", ".join(self._signature.parameters)
            raise UsageError(
                f"plan {self._name}({names}): {exc}; call it as the function is defined"
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def trace(self, *args: Any, **kwargs: Any) -> Plan:
        """Trace the plan on these arguments' mocks now, without running it (once: later
        calls check their arguments against the traced ones)."""
        bound = self._bind(args, kwargs)
        if self._trace is None:
            self._trace = self._make_trace(bound)
        else:
            self._check(bound)
        return self

    def _client_of(self, bound: dict[str, Any]) -> Client:
        clients = [v.client for v in bound.values() if isinstance(v, (Pointer, ModulePointer))]
        if not clients:
            raise UsageError(f"plan {self._name} runs on a node: give it pointers")
        if any(c is not clients[0] for c in clients):
            raise UsageError(
                f"plan {self._name} runs on one node: its pointers come from different sessions"
            )
        return clients[0]

    def _make_trace(self, bound: dict[str, Any]) -> _Trace:
        client = self._client_of(bound)
        inputs: list[tuple[str, str, str]] = []
        input_ids: dict[str, str] = {}  # placeholder vertex id -> input id
        specs: dict[str, Any] = {}
        call_args: dict[str, Any] = {}
        modules: dict[str, list[ParameterPointer]] = {}
        initial: dict[int, Vertex] = {}
        shown: dict[int, str] = {}  # placeholder parameter -> its input's name
        mock_ids: list[str] = []

        def placeholder(vertex: Vertex, mock: Any, name: str, description: str) -> None:
            client._mocks[vertex.id] = mock
            mock_ids.append(vertex.id)
            input_ids[vertex.id] = f"i{len(inputs)}"
            inputs.append((f"i{len(inputs)}", name, description))

        import torch

        for name, value in bound.items():
            if isinstance(value, ModulePointer):
                specs[name] = ("module", _module_spec(value))
                tensors: dict[int, ParameterPointer] = {}
                params = []
                for entry, tensor, real in _entries(value):
                    vertex = Vertex(new_id(), "tensor")
                    holder = ParameterPointer(client, vertex, name=real.name, shape=real.shape,
                                              dtype=real.dtype, requires_grad=real.requires_grad)  # fmt: skip
                    vertex.pointer = weakref.ref(holder)
                    zeros = torch.zeros(real.shape, dtype=real.dtype)
                    kind = "parameter" if real.requires_grad else "buffer"
                    placeholder(vertex, zeros, f"{name}.{entry}",
                                f"{kind} {_dtype(real.dtype)} {tuple(real.shape)}")  # fmt: skip
                    tensors[id(tensor)] = holder
                    initial[id(holder)] = vertex
                    shown[id(holder)] = f"{name}.{entry}"
                    params.append(holder)
                modules[name] = params
                call_args[name] = ModulePointer(client, value._module, tensors, value._prefix)
            elif isinstance(value, Pointer):
                spec = _pointer_spec(value)
                specs[name] = ("pointer", spec)
                vertex_id = new_id()
                info = ObjectView(id=vertex_id, tags=[], description="", dataset=None,
                                  mock_id=None, created_at=0.0, meta=dict(value._meta))  # fmt: skip
                vertex = Vertex(vertex_id, value.family, info=info)
                placeholder(vertex, value.mock, name, _show(spec))
                call_args[name] = client._wrap(vertex)
            elif isinstance(value, _CONSTANTS):
                specs[name] = ("constant", value)
                call_args[name] = value
            else:
                raise UsageError(
                    f"plan {self._name}: argument {name!r} is a {type(value).__name__}; a plan "
                    "takes pointers, model pointers, and numbers or strings (fixed at tracing)"
                )
        holders = frozenset(id(p) for params in modules.values() for p in params)
        token = _TRACING.set(holders)
        try:
            result = self._fn(**call_args)
        except OperationNotAllowed as exc:
            raise OperationNotAllowed(f"plan {self._name} cannot be traced: {exc}") from None
        finally:
            _TRACING.reset(token)
            for vid in mock_ids:
                client._mocks.pop(vid, None)

        outputs: list[tuple[str, Vertex]] = []
        returns = self._returns(result, outputs, client)
        updates: list[tuple[str, str, int, int]] = []
        for name, params in modules.items():
            for k, holder in enumerate(params):
                if holder._vertex is not initial[id(holder)]:
                    updates.append(("value", name, k, len(outputs)))
                    outputs.append((shown[id(holder)], holder._vertex))
                if holder.grad is not None:
                    updates.append(("grad", name, k, len(outputs)))
                    outputs.append((f"{shown[id(holder)]}.grad", holder.grad._vertex))
        if not outputs:
            raise UsageError(
                f"plan {self._name} returns nothing and changes nothing: return the pointers "
                "you need (e.g. the loss), or call loss.backward() in it"
            )
        graph, families = self._graph(outputs, input_ids, inputs)
        return _Trace(graph, ops.plan_hash(graph), families, specs, returns, updates)

    def _returns(self, result: Any, outputs: list[tuple[str, Vertex]], client: Client) -> Any:
        def one(value: Any, role: str) -> int:
            if not isinstance(value, Pointer) or value.client is not client:
                raise UsageError(
                    f"plan {self._name} returns a {type(value).__name__}: a plan returns "
                    "pointers (a tuple or list of them, or None)"
                )
            outputs.append((role, value._vertex))
            return len(outputs) - 1

        if result is None:
            return None
        if isinstance(result, (tuple, list)):
            return type(result), [one(v, f"returns[{i}]") for i, v in enumerate(result)]
        return one(result, "returns")

    def _graph(
        self,
        outputs: list[tuple[str, Vertex]],
        input_ids: dict[str, str],
        inputs: list[tuple[str, str, str]],
    ) -> tuple[ops.PlanGraph, list[str]]:
        """The actions between the placeholders and ``targets``, parents first, renamed."""

        def stop(vertex: Vertex) -> bool:
            if vertex.id in input_ids:
                return True
            if vertex.action is None:
                pointer = vertex.pointer() if vertex.pointer is not None else None
                shown = repr(pointer) if pointer is not None else f"object {vertex.id}"
                raise UsageError(
                    f"plan {self._name} uses {shown}, which is not one of its arguments: pass "
                    "it as an argument"
                )
            return False

        order = post_order([v for _, v in outputs], stop)
        ids: dict[str, ops.Ref] = {v: ops.Ref(i) for v, i in input_ids.items()}
        actions = []
        for j, vertex in enumerate(order):
            assert vertex.action is not None
            ids[vertex.id] = ops.Ref(f"a{j}")
            a = vertex.action
            actions.append(ops.Action(f"a{j}", a.kind, a.name, ops.bind_refs(a.args, ids),
                                      ops.bind_refs(a.kwargs, ids)))  # fmt: skip
        returned = tuple((role, ids[v.id].id) for role, v in outputs)
        graph = ops.PlanGraph(self._name, tuple(inputs), tuple(actions), returned)
        return graph, [v.family for v in order]

    # -- calling ----------------------------------------------------------------------------
    def _check(self, bound: dict[str, Any]) -> None:
        assert self._trace is not None
        for name, (kind, spec) in self._trace.specs.items():
            value = bound[name]
            if kind == "module":
                if not isinstance(value, ModulePointer):
                    raise UsageError(f"plan {self._name}: {name} was a model pointer when traced")
                if self._model(value)[1] != spec:
                    raise UsageError(
                        f"plan {self._name} was traced with another {name}: its layers, "
                        "parameter shapes or training mode (train()/eval()) differ. Make a new "
                        "plan for this model"
                    )
            elif kind == "pointer":
                if not isinstance(value, Pointer) or isinstance(value, ModulePointer):
                    got = type(value).__name__
                    raise UsageError(f"plan {self._name}: {name} must be a pointer, not a {got}")
                got_spec = _pointer_spec(value)
                if got_spec != spec:
                    raise UsageError(
                        f"plan {self._name} was traced with {name} a {_show(spec)}, and this "
                        f"{name} is a {_show(got_spec)}: call it with inputs like those it was "
                        "traced with (only the first dimension may change), or make a new plan"
                    )
            elif value != spec or type(value) is not type(spec):
                raise UsageError(
                    f"plan {self._name} was traced with {name}={spec!r}, fixed in its graph; "
                    f"this call gives {value!r}. Make a new plan (or pass it as a pointer)"
                )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound = self._bind(args, kwargs)
        if self._trace is None:
            self._trace = self._make_trace(bound)
        else:
            self._check(bound)
        return self._run(bound, self._trace)

    def _ship(self, client: Client, trace: _Trace) -> str:
        """The id of the plan on ``client``'s node: sent there on first use."""
        shipped = self._shipped.get(id(client))
        if shipped is None or shipped[0] is not client:
            pointer = client.send(
                ops.encode_plan(trace.graph),
                description=f"plan {self._name} sha256:{trace.digest}",
            )
            shipped = (client, pointer)
            self._shipped[id(client)] = shipped
        return shipped[1].id

    def _run(self, bound: dict[str, Any], trace: _Trace) -> Any:
        client = self._client_of(bound)
        plan_id = self._ship(client, trace)
        bindings: list[Vertex] = []
        originals: list[Pointer] = []
        params: dict[str, list[ParameterPointer]] = {}
        for name, (kind, _) in trace.specs.items():
            value = bound[name]
            if kind == "module":
                params[name] = self._model(value)[0]
                originals += params[name]
            elif kind == "pointer":
                originals.append(value)
        bindings = [p._vertex for p in originals]
        refs = tuple(ops.Ref(v.id) for v in bindings)
        call = ops.Action(new_id(), "function", ops.PLAN_CALL, (plan_id, refs), {})
        expanded = ops.expand_call(trace.graph, call)
        by_id = {v.id: v for v in bindings}
        made: list[Vertex] = []
        for j, action in enumerate(expanded):
            parents = tuple(dict.fromkeys(by_id[r] for r in ops.refs_of(action)))
            vertex = Vertex(action.id, trace.families[j], action, parents)
            vertex.call = (call, j, len(expanded))
            by_id[action.id] = vertex
            made.append(vertex)
        wrapped: dict[int, Pointer] = {}

        def output(index: int) -> Pointer:
            local = trace.graph.outputs[index][1]
            if local.startswith("i"):
                return originals[int(local[1:])]
            if index not in wrapped:
                wrapped[index] = client._wrap(made[int(local[1:])])
            return wrapped[index]

        for kind, name, k, index in trace.updates:
            param = params[name][k]
            if kind == "grad":
                param._accumulate_grad(output(index))
        for kind, name, k, index in trace.updates:
            if kind == "value":
                params[name][k]._rebind(output(index))
        returns = trace.returns
        if returns is None:
            return None
        if isinstance(returns, int):
            return output(returns)
        container, indices = returns
        return container(output(i) for i in indices)


def plan(fn: Callable[..., Any]) -> Plan:
    """``@unseen.plan``: trace ``fn`` once (on its first call, on the mocks), ship its graph
    to the node once, and run it there by id on each call. See docs/training.md, "Plans"."""
    return Plan(fn)
