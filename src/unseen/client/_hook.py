"""TorchHook: opt-in methods on torch tensors (.send, .tag, .describe)."""

from __future__ import annotations

from typing import Any

from unseen.errors import UsageError

_ADDED = ("send", "tag", "describe")


def _send(
    self: Any, target: Any, *, searchable: bool = False, tags: Any = None, description: Any = None
) -> Any:
    if not hasattr(target, "send"):
        raise UsageError("send a tensor to a node client, a VirtualWorker or a Duet")
    return target.send(self, tags=tags, description=description, searchable=searchable)


def _tag(self: Any, *tags: str) -> Any:
    self.tags = [*(getattr(self, "tags", None) or []), *tags]
    return self


def _describe(self: Any, description: str) -> Any:
    self.description = description
    return self


class TorchHook:
    """``unseen.TorchHook(torch)`` adds ``.send``, ``.tag`` and ``.describe`` to tensors. Nothing is patched until you create one; ``unhook()`` removes them again."""

    def __init__(self, torch: Any = None) -> None:
        if torch is None:
            import torch
        self.torch = torch
        tensor = torch.Tensor
        for name, fn in zip(_ADDED, (_send, _tag, _describe)):
            existing = tensor.__dict__.get(name)
            if existing is not None and getattr(existing, "__module__", "") != __name__:
                raise UsageError(f"torch.Tensor.{name} exists already; unseen will not replace it")
            setattr(tensor, name, fn)

    def unhook(self) -> None:
        for name in _ADDED:
            if name in self.torch.Tensor.__dict__:
                delattr(self.torch.Tensor, name)

    def __repr__(self) -> str:
        return "<TorchHook: tensors have " + " ".join("." + n for n in _ADDED) + ">"
