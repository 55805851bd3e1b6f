"""TorchHook: opt-in methods on torch tensors (.send, .tag, .describe, .share) and modules (.share)."""

from __future__ import annotations

from typing import Any

from unseen.errors import UsageError

_ADDED = ("send", "tag", "describe", "share")


def _send(
    self: Any,
    target: Any,
    *,
    searchable: bool = False,
    pointable: bool | None = None,
    tags: Any = None,
    description: Any = None,
) -> Any:
    if not hasattr(target, "send"):
        raise UsageError("send a tensor to a node client, a VirtualWorker or a Duet")
    searchable = searchable or bool(pointable)
    return target.send(self, tags=tags, description=description, searchable=searchable)


def _fix_precision(self: Any, *args: Any, **kwargs: Any) -> Any:
    """PySyft's ``fix_precision()``: unseen encodes fixed point when it shares, so the tensor
    is returned as it is."""
    if args or kwargs:
        raise UsageError(
            "unseen encodes fixed point when it shares: set the fractional bits with "
            ".share(..., frac_bits=16) instead of fix_precision(...) arguments"
        )
    return self


def _float_precision(self: Any) -> Any:
    """PySyft's ``float_precision()``: a revealed tensor is decoded already."""
    return self


_PYSYFT = {"fix_precision": _fix_precision, "fix_prec": _fix_precision,
           "float_precision": _float_precision, "float_prec": _float_precision}  # fmt: skip


def _tag(self: Any, *tags: str) -> Any:
    self.tags = [*(getattr(self, "tags", None) or []), *tags]
    return self


def _describe(self: Any, description: str) -> Any:
    self.description = description
    return self


def _share(self: Any, *parties: Any, crypto_provider: Any = None, **options: Any) -> Any:
    """Secret-share this tensor (or module) among node clients: see ``unseen.share``."""
    from unseen.client._mpc import share

    return share(self, *parties, crypto_provider=crypto_provider, **options)


def _check_free(owner: Any, name: str) -> None:
    existing = owner.__dict__.get(name)
    if existing is not None and getattr(existing, "__module__", "") != __name__:
        raise UsageError(
            f"{owner.__module__}.{owner.__qualname__}.{name} exists already; "
            "unseen will not replace it"
        )


class TorchHook:
    """``unseen.TorchHook(torch)`` adds ``.send``, ``.tag``, ``.describe`` and ``.share`` to
    tensors and ``.share`` to ``torch.nn.Module``. Nothing is patched until you create one;
    ``unhook()`` removes them again."""

    def __init__(self, torch: Any = None) -> None:
        if torch is None:
            import torch
        self.torch = torch
        tensor, module = torch.Tensor, torch.nn.Module
        for name in _ADDED:
            _check_free(tensor, name)
        _check_free(module, "share")
        for name in _PYSYFT:
            _check_free(tensor, name)
        for name, fn in zip(_ADDED, (_send, _tag, _describe, _share)):
            setattr(tensor, name, fn)
        for name, method in _PYSYFT.items():
            setattr(tensor, name, method)
        module.share = _share

    def unhook(self) -> None:
        for name in (*_ADDED, *_PYSYFT):
            if name in self.torch.Tensor.__dict__:
                delattr(self.torch.Tensor, name)
        if "share" in self.torch.nn.Module.__dict__:
            delattr(self.torch.nn.Module, "share")

    def __repr__(self) -> str:
        return "<TorchHook: tensors have " + " ".join("." + n for n in _ADDED) + ", modules .share>"
