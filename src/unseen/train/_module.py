"""ModulePointer: a torch model whose parameters live on a node (``model.send(node)``).

Sending a model sends each parameter and buffer as an object of the sender (on a domain, the
scientist's own upload: not derived from anyone's data) and keeps a copy of the module here as
its architecture: module types and hyperparameters are public, chosen by the scientist.
``model_ptr(x_ptr)`` traces the forward pass into vocabulary operations
(:mod:`unseen.train._layers`); ``model_ptr.get()`` returns a copy of the module with the
weights of the node, through the release rule: weights trained on private data are derived
from it, so they leave only through a request the owner accepts.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from typing import Any

from unseen.client import Client, ParameterPointer, Pointer, RemoteFunction, Request
from unseen.errors import CannotRequestPrivateData, UsageError
from unseen.train._layers import check_module, forward

__all__ = ["ModulePointer", "send_module"]

_cat = RemoteFunction("torch.cat")


def _is_module(value: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def send_module(
    module: Any,
    client: Client,
    *,
    tags: Any = None,
    description: Any = None,
    searchable: bool = False,
) -> ModulePointer:
    """Send ``module``'s parameters and buffers to ``client``'s node; the module pointer."""
    if not _is_module(module):
        raise UsageError(f"send_module takes a torch.nn.Module, not {type(module).__name__}")
    if not isinstance(client, Client):
        raise UsageError("send a model to a node client, a VirtualWorker or a Duet")
    check_module(module)
    import torch

    local = copy.deepcopy(module)
    by_tensor: dict[int, ParameterPointer] = {}
    entries = [(n, t, True) for n, t in local.named_parameters()]
    entries += [(n, t, False) for n, t in local.named_buffers()]
    with torch.no_grad():
        for name, tensor, is_param in entries:
            if id(tensor) in by_tensor:
                continue
            value = tensor.detach().clone()
            if isinstance(value, torch.nn.Parameter):
                value = value.data
            pointer = client.send(
                value, tags=list(tags or []), description=str(description or ""),
                searchable=searchable,
            )  # fmt: skip
            by_tensor[id(tensor)] = ParameterPointer.adopt(
                pointer,
                name=name,
                shape=tuple(tensor.shape),
                dtype=tensor.dtype,
                requires_grad=is_param and bool(tensor.requires_grad),
            )
    return ModulePointer(client, local, by_tensor, "")


def _check_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A model takes torch tensors: a pointer to anything else is refused with the fix."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, Pointer) and value.family not in ("tensor", "value"):
            raise UsageError(
                f"a model takes torch tensors, and this pointer is a {value.family}: convert "
                "it on the node first, e.g. unseen.torch.as_tensor(ptr, dtype=torch.float32)"
            )


class ModulePointer:
    """A model on a node: call it on pointers, train it with ``loss.backward()`` and an
    optimizer on ``.parameters()``, and ``.get()`` it back as a torch module.

    ``unseen.ModulePointer`` comes from ``model.send(node)`` (with ``unseen.TorchHook``) or
    ``node.send(model)``. Its attributes mirror the module's: sub-modules are module
    pointers, parameters and buffers are :class:`unseen.ParameterPointer`, other attributes
    (hyperparameters) are the local values.
    """

    def __init__(
        self, client: Client, module: Any, tensors: dict[int, ParameterPointer], prefix: str
    ) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_tensors", tensors)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_children_cache", {})
        object.__setattr__(self, "_withheld", False)  # a fit left weights you may not read

    # -- the module's structure ---------------------------------------------------------
    @property
    def client(self) -> Client:
        """The session with the node that holds the parameters."""
        return self._client

    location = client

    @property
    def training(self) -> bool:
        return bool(self._module.training)

    def _child(self, name: str, module: Any) -> ModulePointer:
        cache: dict[str, ModulePointer] = self._children_cache
        if name not in cache:
            prefix = f"{self._prefix}{name}."
            cache[name] = ModulePointer(self._client, module, self._tensors, prefix)
        return cache[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in (
            "_client",
            "_module",
            "_tensors",
            "_prefix",
            "_joined",
        ):
            raise AttributeError(name)
        module = self._module
        subs = module.__dict__.get("_modules", {})
        if name in subs:
            sub = subs[name]
            return None if sub is None else self._child(name, sub)
        for table in ("_parameters", "_buffers"):
            tensors = module.__dict__.get(table, {})
            if name in tensors:
                tensor = tensors[name]
                return None if tensor is None else self._tensors[id(tensor)]
        attr = getattr(type(module), name, None)
        if isinstance(attr, types.FunctionType) or isinstance(attr, property):
            owner = next(c for c in type(module).__mro__ if name in c.__dict__)
            if owner.__module__.startswith("torch."):
                raise AttributeError(
                    f"a ModulePointer has no {name!r}: torch.nn.Module.{name} runs on local "
                    "tensors; see dir(model_ptr)"
                )
            if isinstance(attr, property):
                assert attr.fget is not None
                return attr.fget(self)
            return types.MethodType(attr, self)
        return getattr(module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise UsageError(
            f"a model pointer's attributes are read-only ({name!r}): parameters change through "
            "an optimizer's step(), on the node"
        )

    def __dir__(self) -> list[str]:
        own = [n for n in type(self).__dict__ if not n.startswith("_")]
        module = self._module
        names = [*module._modules, *module._parameters, *module._buffers]
        return sorted(set(own) | set(names))

    def __getitem__(self, index: int | str) -> ModulePointer:
        """A sub-module of a Sequential or ModuleList by position (or of a ModuleDict by key)."""
        names = list(self._module._modules)
        if isinstance(index, int):
            try:
                name = names[index]
            except IndexError:
                raise IndexError(
                    f"this {type(self._module).__name__} has {len(names)} modules"
                ) from None
        else:
            name = index
        child = getattr(self, name)
        if not isinstance(child, ModulePointer):
            raise KeyError(index)
        return child

    def __len__(self) -> int:
        return len(self._module._modules)

    def children(self) -> Iterator[ModulePointer]:
        for name, sub in self._module.named_children():
            yield self._child(name, sub)

    def named_children(self) -> Iterator[tuple[str, ModulePointer]]:
        for name, sub in self._module.named_children():
            yield name, self._child(name, sub)

    def named_parameters(self) -> list[tuple[str, ParameterPointer]]:
        return [(n, self._tensors[id(t)]) for n, t in self._module.named_parameters()]

    def parameters(self) -> list[ParameterPointer]:
        """The parameter pointers (a list: give it to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> list[tuple[str, ParameterPointer]]:
        return [(n, self._tensors[id(t)]) for n, t in self._module.named_buffers()]

    def buffers(self) -> list[ParameterPointer]:
        return [b for _, b in self.named_buffers()]

    def train(self, mode: bool = True) -> ModulePointer:
        """Training mode (BatchNorm uses batch statistics); ``eval()`` is ``train(False)``."""
        self._module.train(mode)
        return self

    def eval(self) -> ModulePointer:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            param.grad = None

    def _update_buffer(self, name: str, value: Pointer) -> None:
        """Rebind buffer ``name`` of this module (BatchNorm's running statistics)."""
        buffer = getattr(self, name)
        assert isinstance(buffer, ParameterPointer)
        buffer._rebind(value)

    # -- running it ---------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _check_inputs(args, kwargs)
        return forward(self, args, kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        _check_inputs(args, kwargs)
        return forward(self, args, kwargs)

    def _entries(self) -> list[tuple[str, ParameterPointer]]:
        seen: set[int] = set()
        out = []
        for name, pointer in self.named_parameters() + self.named_buffers():
            if id(pointer) not in seen:
                seen.add(id(pointer))
                out.append((name, pointer))
        return out

    def compute(self) -> ModulePointer:
        """Run the recorded training on the node now; the weights stay there."""
        for _, pointer in self._entries():
            if not pointer.computed:
                pointer.compute()
        return self

    def _weights(self, entries: list[tuple[str, ParameterPointer]]) -> Pointer:
        """One pointer to every weight, flattened and joined: what a release releases. The
        same one while the weights are the same (a request made for it then still counts)."""
        key = tuple(p.id for _, p in entries)
        cached = self.__dict__.get("_joined")
        if cached is not None and cached[0] == key:
            return cached[1]  # type: ignore[no-any-return]
        flat = _cat([p.reshape(-1).double() for _, p in entries], 0)
        object.__setattr__(self, "_joined", (key, flat))
        return flat

    def fit(
        self,
        data: Any,
        target: Any,
        *,
        loss: str = "cross_entropy",
        optimizer: str = "sgd",
        lr: float = 0.01,
        epochs: int = 1,
        batch_size: int = 32,
        dp: Any = None,
        seed: int | None = None,
        approval: str | None = None,
    ) -> Any:
        """Train this model on ``data`` and ``target`` (pointers to tensors) on the node, in
        one message: ``loss`` (cross_entropy, mse, nll, bce_with_logits), ``optimizer``
        (sgd, adam, adamw) with ``lr``, ``epochs`` of ``batch_size`` rows. Without ``dp`` the
        batch order comes from ``seed`` (the same as the loop of docs/training.md run
        locally); ``dp=unseen.DPSGD(epsilon=..., delta=..., max_grad_norm=...)`` trains with
        DP-SGD, charged to your privacy budget first; ``approval`` names the owner's standing
        approval of federated fits that releases these weights (``unseen.fl.fit`` files
        it). Returns a
        :class:`unseen.train.FitHistory`; the parameters are the trained ones after it."""
        from unseen.train._fit import fit

        return fit(self, data, target, loss=loss, optimizer=optimizer, lr=lr, epochs=epochs,
                   batch_size=batch_size, dp=dp, seed=seed, approval=approval)  # fmt: skip

    def _adopt_released(self, entries: list[tuple[str, ParameterPointer]], values: Any) -> None:
        """Weights released to you after a fit on private data are yours: keep them on the
        node as your own upload, so that what you compute from them (a DP-SGD fit that
        starts from them, ``get()``) is yours to read too."""
        import torch

        offset = 0
        for _, pointer in entries:
            numel = int(torch.Size(pointer.shape).numel())
            chunk = values[offset : offset + numel].reshape(pointer.shape).to(pointer.dtype)
            offset += numel
            pointer._rebind(self._client.send(chunk.contiguous()))
        object.__setattr__(self, "_joined", None)
        object.__setattr__(self, "_withheld", False)

    def request(self, name: str = "model", reason: str = "") -> Request:
        """Ask the node's owner to release these weights to you; returns the pending request.
        Once accepted, ``.get()`` returns the model (while you have not trained it further)."""
        return self._weights(self._entries()).request(name=name, reason=reason)

    def get(
        self,
        *,
        request_block: bool = False,
        name: str | None = None,
        reason: str | None = None,
        timeout_secs: float | None = None,
    ) -> Any:
        """A copy of the module with the node's weights (one round trip for all of them).

        Weights trained on data you may not see raise
        :class:`unseen.CannotRequestPrivateData`; ``request_block=True`` asks the owner
        (``name``, ``reason``) and waits up to ``timeout_secs`` for the decision.
        """
        import torch

        entries = self._entries()
        if not entries:
            return copy.deepcopy(self._module)
        flat = self._weights(entries)
        try:
            values = flat.get(
                request_block=request_block,
                name=name if name is not None else "model",
                reason=reason,
                timeout_secs=timeout_secs,
            )
        except CannotRequestPrivateData:
            raise CannotRequestPrivateData(
                "These weights were trained on data you may not see, so they derive from it. "
                "Ask the data owner: model_ptr.get(request_block=True, name=..., reason=...)"
                " or train with DP-SGD: model_ptr.fit(..., dp=unseen.DPSGD(epsilon=...))."
            ) from None
        if self._withheld:
            self._adopt_released(entries, values)
        result = copy.deepcopy(self._module)
        local = dict(result.named_parameters())
        local.update(dict(result.named_buffers()))
        offset = 0
        with torch.no_grad():
            for entry_name, pointer in entries:
                numel = int(torch.Size(pointer.shape).numel())
                chunk = values[offset : offset + numel].reshape(pointer.shape)
                local[entry_name].copy_(chunk.to(local[entry_name].dtype))
                offset += numel
        return result

    def send(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(
            "this model is on a node already: .get() it (if you may) and send the module"
        )

    def __repr__(self) -> str:
        kind = type(self._module).__name__
        count = len(self.parameters())
        where = f"{self._prefix.rstrip('.')} " if self._prefix else ""
        return (
            f"<ModulePointer {where}{kind} on {self._client.node_name!r}: "
            f"{count} parameter pointers>"
        )
