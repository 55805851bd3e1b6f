"""Encrypted models: ``share_module(model, cluster)`` secret-shares a torch model's weights.

The model is traced with ``torch.fx`` (so custom ``forward`` methods work, not only
``nn.Sequential``) and replayed on MPCTensors. Supported layers: Linear, Conv2d, ReLU,
MaxPool2d, AvgPool2d, Flatten, BatchNorm1d/2d (running statistics, folded into a shared
affine map), Dropout and Identity (identities); functional relu, flatten, view/reshape, +, -,
*, @, max/avg pooling, sigmoid, tanh, softmax. Parameters are shared MPCTensors that require
grad, so ``loss.backward()`` and :class:`unseen.mpc.optim.SGD` train them without decryption;
:meth:`EncryptedModule.decrypt` reveals them into a plaintext copy of the model.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from unseen.errors import UsageError
from unseen.mpc import autograd
from unseen.mpc import functional as MF
from unseen.mpc.cluster import Cluster
from unseen.mpc.tensor import MPCTensor

__all__ = ["share_module", "EncryptedModule"]


class _Layer:
    """One encrypted leaf module: shared parameters and a forward on MPCTensors."""

    def __init__(self, module: nn.Module, cluster: Cluster, requires_grad: bool) -> None:
        self.module = module
        self.params: dict[str, MPCTensor] = {}
        share = cluster.share
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            self.params["weight"] = share(module.weight.detach(), requires_grad=requires_grad)
            if module.bias is not None:
                self.params["bias"] = share(module.bias.detach(), requires_grad=requires_grad)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if module.running_mean is None or module.running_var is None:
                raise UsageError("BatchNorm without running statistics cannot be shared")
            scale = 1.0 / torch.sqrt(module.running_var.detach().double() + module.eps)
            if module.affine:
                scale = scale * module.weight.detach().double()
            shift = -module.running_mean.detach().double() * scale
            if module.affine:
                shift = shift + module.bias.detach().double()
            self.params["scale"] = share(scale.float(), requires_grad=requires_grad)
            self.params["shift"] = share(shift.float(), requires_grad=requires_grad)
        elif not isinstance(module, _STATELESS):
            raise UsageError(f"share_module does not support {type(module).__name__} layers")

    def __call__(self, x: MPCTensor) -> MPCTensor:
        m, p = self.module, self.params
        if isinstance(m, nn.Linear):
            return MF.linear(x, p["weight"], p.get("bias"))
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise UsageError("Conv2d supports zero padding only")
            return MF.conv2d(
                x, p["weight"], p.get("bias"), m.stride, m.padding, m.dilation, m.groups
            )
        if isinstance(m, nn.ReLU):
            return x.relu()
        if isinstance(m, nn.MaxPool2d):
            return MF.max_pool2d(
                x, m.kernel_size, m.stride, m.padding, dilation=m.dilation, ceil_mode=m.ceil_mode
            )
        if isinstance(m, nn.AvgPool2d):
            return MF.avg_pool2d(x, m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode,
                                 count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)  # fmt: skip
        if isinstance(m, nn.Flatten):
            return x.flatten(m.start_dim, m.end_dim)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            shape = [1, -1] + [1] * (x.dim() - 2)
            return x * p["scale"].reshape(*shape) + p["shift"].reshape(*shape)
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return x
        if isinstance(m, nn.Sigmoid):
            return x.sigmoid()
        if isinstance(m, nn.Tanh):
            return x.tanh()
        if isinstance(m, nn.Softmax):
            return x.softmax(m.dim if m.dim is not None else -1)
        raise UsageError(f"unsupported layer {type(m).__name__}")  # pragma: no cover

    def decrypt_into(self, module: nn.Module) -> None:
        p = self.params
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():
                module.weight.copy_(p["weight"].get())
                if module.bias is not None:
                    module.bias.copy_(p["bias"].get())
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            scale, shift = p["scale"].get().double(), p["shift"].get().double()
            std = torch.sqrt(module.running_var.double() + module.eps)  # type: ignore[union-attr]
            with torch.no_grad():
                if module.affine:
                    module.weight.copy_(scale * std)
                    module.bias.copy_(shift + module.running_mean.double() * scale)  # type: ignore[union-attr]


_STATELESS = (
    nn.ReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softmax,
)
_LEAVES = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, *_STATELESS)


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, qualname)


def _call_function(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    if fn in (F.relu, torch.relu):
        return args[0].relu()
    if fn is torch.flatten:
        return args[0].flatten(*args[1:], **kwargs)
    if fn in (F.max_pool2d, torch.max_pool2d):
        return MF.max_pool2d(*args, **kwargs)
    if fn is F.avg_pool2d:
        return MF.avg_pool2d(*args, **kwargs)
    if fn is F.linear:
        return MF.linear(*args, **kwargs)
    if fn is F.conv2d:
        return MF.conv2d(*args, **kwargs)
    if fn in (torch.sigmoid, F.sigmoid):
        return args[0].sigmoid()
    if fn in (torch.tanh, F.tanh):
        return args[0].tanh()
    if fn in (F.softmax, torch.softmax):
        return args[0].softmax(kwargs.get("dim", args[1] if len(args) > 1 else -1))
    if fn is F.dropout:
        return args[0]
    binary = {operator.add: operator.add, operator.sub: operator.sub, operator.mul: operator.mul,
              operator.matmul: operator.matmul, operator.truediv: operator.truediv, torch.add: operator.add,
              torch.mul: operator.mul, torch.matmul: operator.matmul}  # fmt: skip
    if fn in binary:
        return binary[fn](*args)
    if fn is operator.getitem:
        return args[0][args[1]]
    if fn is getattr:
        return getattr(args[0], args[1])
    if fn is operator.neg:
        return -args[0]
    raise UsageError(
        f"share_module: unsupported function {getattr(fn, '__name__', fn)!r} in forward"
    )


_METHODS = {"relu", "view", "reshape", "flatten", "size", "sigmoid", "tanh", "softmax", "t", "transpose",
            "permute", "unsqueeze", "squeeze", "mean", "sum", "exp", "expand", "dim"}  # fmt: skip


class EncryptedModule:
    """A secret-shared model: call it on MPCTensors; its parameters are MPCTensors."""

    def __init__(self, model: nn.Module, cluster: Cluster, requires_grad: bool = True) -> None:
        self.cluster = cluster
        self._plain = model
        try:
            graph = _Tracer().trace(model)
        except Exception as exc:  # fx raises many kinds on untraceable Python
            raise UsageError(f"share_module could not trace the model's forward: {exc}") from None
        self._graph = graph
        self._modules = dict(model.named_modules())
        self.layers: dict[str, _Layer] = {}
        for node in graph.nodes:
            if node.op == "call_module":
                self.layers[node.target] = _Layer(
                    self._modules[node.target], cluster, requires_grad
                )
            elif node.op == "get_attr":
                raise UsageError("share_module: forward reads attributes directly; use layers")
        self.training = model.training

    def parameters(self) -> Iterator[MPCTensor]:
        for layer in self.layers.values():
            yield from layer.params.values()

    def named_parameters(self) -> Iterator[tuple[str, MPCTensor]]:
        for name, layer in self.layers.items():
            for pname, p in layer.params.items():
                yield f"{name}.{pname}", p

    def train(self, mode: bool = True) -> EncryptedModule:
        self.training = mode
        return self

    def eval(self) -> EncryptedModule:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def __call__(self, *inputs: MPCTensor) -> Any:
        with autograd.training_forward(self.training):
            return self._run(inputs)

    def _run(self, inputs: tuple[MPCTensor, ...]) -> Any:
        env: dict[str, Any] = {}
        it = iter(inputs)
        for node in self._graph.nodes:
            args = torch.fx.node.map_arg(node.args, lambda n: env[n.name])
            kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: env[n.name])
            if node.op == "placeholder":
                env[node.name] = next(it)
            elif node.op == "call_module":
                env[node.name] = self.layers[node.target](*args, **kwargs)
            elif node.op == "call_function":
                env[node.name] = _call_function(node.target, list(args), dict(kwargs))
            elif node.op == "call_method":
                if node.target == "contiguous":
                    env[node.name] = args[0]
                elif node.target in _METHODS:
                    env[node.name] = getattr(args[0], node.target)(*args[1:], **kwargs)
                else:
                    raise UsageError(f"share_module: unsupported method {node.target!r} in forward")
            elif node.op == "output":
                return args[0]
        raise UsageError("the traced model has no output")  # pragma: no cover

    forward = __call__

    def decrypt(self) -> nn.Module:
        """Reveal the parameters into a plaintext copy of the model (an explicit release)."""
        plain = copy.deepcopy(self._plain)
        modules = dict(plain.named_modules())
        for name, layer in self.layers.items():
            layer.decrypt_into(modules[name])
        return plain

    def __repr__(self) -> str:
        names = ", ".join(f"{n}: {type(layer.module).__name__}" for n, layer in self.layers.items())
        return f"EncryptedModule({names}; shared on {self.cluster.n_parties} parties)"


def share_module(
    model: nn.Module, cluster: Cluster, *, requires_grad: bool = True
) -> EncryptedModule:
    """Secret-share ``model``'s parameters on ``cluster`` (the caller owns the model)."""
    if not isinstance(model, nn.Module):
        raise UsageError("share_module expects a torch.nn.Module")
    return EncryptedModule(model, cluster, requires_grad)
