"""The torch hook of training: ``model.send(node)`` on modules, and torch's optimizers on
parameter pointers.

``unseen.TorchHook(torch)`` is this hook: it adds what the client's hook adds (``.send``,
``.tag``, ``.describe``, ``.share`` on tensors) and ``.send`` on ``torch.nn.Module``, and lets
``torch.optim.SGD``, ``Adam`` and ``AdamW`` take ``model_ptr.parameters()``: their
constructors return unseen's optimizer (:mod:`unseen.train._optim`) when given parameter
pointers, and torch's own otherwise. Nothing is patched until a hook is created;
``unhook()`` removes it all.
"""

from __future__ import annotations

from typing import Any

from unseen.client import Pointer
from unseen.client import TorchHook as ClientHook
from unseen.errors import OperationNotAllowed, UsageError
from unseen.train._module import send_module
from unseen.train._optim import SGD, Adam, AdamW, Optimizer, parameter_groups

__all__ = ["TorchHook"]

_OPTIMIZERS: dict[str, type[Optimizer]] = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}


def _module_send(self: Any, target: Any, **options: Any) -> Any:
    """Send this model's parameters to ``target``'s node: an ``unseen.ModulePointer``."""
    return send_module(self, target, **options)


def _plain_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """What ``unhook()`` leaves as ``Optimizer.__new__``: object's, without the arguments.
    (CPython cannot take a ``__new__`` back: once one was set, deleting it makes
    ``object.__new__`` refuse the constructor's arguments.)"""
    return object.__new__(cls)


def _optimizer_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    params = args[0] if args else kwargs.get("params")
    groups = parameter_groups(params) if isinstance(params, (list, tuple)) else None
    if groups is None:
        return object.__new__(cls)
    ours = _OPTIMIZERS.get(cls.__name__)
    if ours is None or not cls.__module__.startswith("torch.optim"):
        raise UsageError(
            f"{cls.__name__} cannot train parameters on a node; use torch.optim.SGD, Adam or "
            "AdamW (unseen runs their steps there)"
        )
    return ours(*args, **kwargs)


def _refusing_apply(original: Any) -> Any:
    """``torch.autograd.Function.apply`` that refuses pointers: a custom Function's forward
    would run here on pointers, and its backward (Python) could never run on the node."""

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, Pointer) for a in (*args, *kwargs.values())):
            raise OperationNotAllowed(
                f"the custom autograd Function {cls.__name__} cannot run on a node: its "
                "backward is Python code. Use operations of the vocabulary (autograd "
                "differentiates them on the node), or ask the owner for a code request"
            )
        return original.__get__(None, cls)(*args, **kwargs)

    apply.__unseen_original__ = original  # type: ignore[attr-defined]
    return classmethod(apply)


class TorchHook(ClientHook):
    """``unseen.TorchHook(torch)``: ``.send`` on tensors and modules, optimizers on pointers."""

    def __init__(self, torch: Any = None) -> None:
        super().__init__(torch)
        module, optimizer = self.torch.nn.Module, self.torch.optim.Optimizer
        existing = module.__dict__.get("send")
        if existing is not None and existing is not _module_send:
            self.unhook()
            raise UsageError("torch.nn.Module.send exists already; unseen will not replace it")
        module.send = _module_send
        optimizer.__new__ = staticmethod(_optimizer_new)
        function = self.torch.autograd.Function
        current = function.__dict__["apply"]
        if not hasattr(current.__func__, "__unseen_original__"):
            function.apply = _refusing_apply(current)

    def unhook(self) -> None:
        super().unhook()
        module, optimizer = self.torch.nn.Module, self.torch.optim.Optimizer
        if module.__dict__.get("send") is _module_send:
            delattr(module, "send")
        new = optimizer.__dict__.get("__new__")
        if getattr(new, "__func__", None) is _optimizer_new:
            optimizer.__new__ = staticmethod(_plain_new)
        function = self.torch.autograd.Function
        current = function.__dict__.get("apply")
        original = getattr(getattr(current, "__func__", None), "__unseen_original__", None)
        if original is not None:
            function.apply = original

    def __repr__(self) -> str:
        return (
            "<TorchHook: tensors have .send .tag .describe .share; modules .send .share; "
            "torch.optim takes model_ptr.parameters()>"
        )
