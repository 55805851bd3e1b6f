"""The forward pass of a module pointer, traced into vocabulary operations.

A standard layer maps to the ``torch.nn.functional`` (or torch) function of its forward, with
its parameter pointers and its hyperparameters as arguments. A user's ``nn.Module`` subclass
runs its own ``forward`` with the module pointer standing in for ``self``: its attributes
resolve to sub-module pointers and parameter pointers, and torch functions called on pointers
record vocabulary actions (``Pointer.__torch_function__``). Python runs here, on the client;
the node receives the graph. Not yet: recurrent layers (LSTM, GRU, RNN), transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unseen.client import RemoteFunction
from unseen.errors import OperationNotAllowed, UsageError

if TYPE_CHECKING:
    from unseen.train._module import ModulePointer

F = "torch.nn.functional."
Layer = Callable[["ModulePointer", Any, Any], Any]


def _f(name: str) -> RemoteFunction:
    return RemoteFunction(name if name.startswith("torch.") else F + name)


def _linear(mp: ModulePointer, m: Any, x: Any) -> Any:
    return _f("linear")(x, mp.weight, mp.bias)


def _conv(mp: ModulePointer, m: Any, x: Any) -> Any:
    _conv_settings(m)
    name = "conv1d" if type(m).__name__ == "Conv1d" else "conv2d"
    return _f(name)(x, mp.weight, mp.bias, m.stride, m.padding, m.dilation, m.groups)


def _batch_norm(mp: ModulePointer, m: Any, x: Any) -> Any:
    """Training mode (and no running statistics): the batch's statistics, and the running
    statistics updated as torch does; eval mode: the running statistics."""
    use_batch = m.training or not m.track_running_stats
    if not use_batch:
        return _f("batch_norm")(
            x, mp.running_mean, mp.running_var, mp.weight, mp.bias, momentum=0.0, eps=m.eps
        )
    _batch_norm_settings(m)
    channels_first = x.transpose(0, 1)
    flat = channels_first.flatten(1)  # (C, everything else)
    mean = flat.mean(1, keepdim=True)
    var = flat.var(1, unbiased=False, keepdim=True)
    out = (flat - mean) / _f("torch.sqrt")(var + m.eps)
    if m.affine:
        out = out * mp.weight.reshape(-1, 1) + mp.bias.reshape(-1, 1)
    if m.track_running_stats and m.training:
        unbiased = flat.var(1, unbiased=True)
        mp._update_buffer("running_mean", mp.running_mean * (1 - m.momentum) + mean.reshape(-1) * m.momentum)  # fmt: skip
        mp._update_buffer("running_var", mp.running_var * (1 - m.momentum) + unbiased * m.momentum)  # fmt: skip
        mp._update_buffer("num_batches_tracked", mp.num_batches_tracked + 1)
    return out.reshape_as(channels_first).transpose(0, 1)


def _embedding(mp: ModulePointer, m: Any, x: Any) -> Any:
    _embedding_settings(m)
    return _f("embedding")(x, mp.weight, m.padding_idx)


def _layer_norm(mp: ModulePointer, m: Any, x: Any) -> Any:
    return _f("layer_norm")(x, list(m.normalized_shape), mp.weight, mp.bias, m.eps)


def _pool(name: str, *fields: str) -> Layer:
    def run(mp: ModulePointer, m: Any, x: Any) -> Any:
        if getattr(m, "return_indices", False):
            raise OperationNotAllowed(f"{type(m).__name__}(return_indices=True) is not available")
        return _f(name)(x, *(getattr(m, f) for f in fields))

    return run


def _activation(name: str, *fields: str, defaults: dict[str, Any] | None = None) -> Layer:
    # ``inplace=True`` computes the same value: it is left out (a node never mutates)
    def run(mp: ModulePointer, m: Any, x: Any) -> Any:
        kwargs = {f: getattr(m, f) for f in fields}
        kwargs = {k: v for k, v in kwargs.items() if (defaults or {}).get(k, object()) != v}
        return _f(name)(x, **kwargs)

    return run


def _identity(mp: ModulePointer, m: Any, x: Any) -> Any:
    return x


def _flatten(mp: ModulePointer, m: Any, x: Any) -> Any:
    return _f("torch.flatten")(x, m.start_dim, m.end_dim)


def _sequential(mp: ModulePointer, m: Any, x: Any) -> Any:
    for child in mp.children():
        x = child(x)
    return x


_BY_NAME: dict[str, Layer] = {
    "Linear": _linear,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "Embedding": _embedding,
    "LayerNorm": _layer_norm,
    # Dropout is an identity: a node draws no randomness for a scientist (docs/training.md)
    "Dropout": _identity,
    "Identity": _identity,
    "Flatten": _flatten,
    "Sequential": _sequential,
    "ReLU": _activation("relu"),
    "ReLU6": _activation("relu6"),
    "SiLU": _activation("silu"),
    "GELU": _activation("gelu", "approximate", defaults={"approximate": "none"}),
    "Tanh": _activation("torch.tanh"),
    "Sigmoid": _activation("torch.sigmoid"),
    "LeakyReLU": _activation("leaky_relu", "negative_slope"),
    "ELU": _activation("elu", "alpha"),
    "Softplus": _activation("softplus", "beta", "threshold"),
    "Softmax": _activation("softmax", "dim"),
    "LogSoftmax": _activation("log_softmax", "dim"),
    "MaxPool1d": _pool("max_pool1d", "kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "MaxPool2d": _pool("max_pool2d", "kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool1d": _pool(
        "avg_pool1d", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"
    ),  # fmt: skip
    "AvgPool2d": _pool(
        "avg_pool2d",
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ),  # fmt: skip
    "AdaptiveAvgPool1d": _pool("adaptive_avg_pool1d", "output_size"),
    "AdaptiveAvgPool2d": _pool("adaptive_avg_pool2d", "output_size"),
}

_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
          "_state_dict_hooks", "_load_state_dict_pre_hooks")  # fmt: skip


def check_module(module: Any) -> None:
    """Refuse what cannot be traced into a graph, before anything is sent: hooks, and layers
    of torch that have no vocabulary form yet."""
    for name, sub in module.named_modules():
        where = name or type(module).__name__
        for hooks in _HOOKS:
            if getattr(sub, hooks, None):
                raise OperationNotAllowed(
                    f"{where} has {hooks.strip('_').replace('_', ' ')}: hooks run Python on "
                    "values, which a node never does; remove them before sending the model"
                )
        cls = type(sub)
        if cls.__name__ in _SETTINGS and cls.__module__.startswith("torch."):
            _SETTINGS[cls.__name__](sub)
        if cls.__name__ not in _BY_NAME and cls.__module__.startswith("torch."):
            if cls.__name__ in ("ModuleList", "ModuleDict", "ParameterList", "ParameterDict"):
                continue
            raise OperationNotAllowed(
                f"{where} is a torch.nn.{cls.__name__}, which unseen cannot run on a node yet "
                f"(supported: {', '.join(sorted(_BY_NAME))}, and your own nn.Module subclasses "
                "built from them)"
            )


def _embedding_settings(m: Any) -> None:
    if m.max_norm is not None or m.sparse:
        raise OperationNotAllowed(
            "Embedding(max_norm=...) renormalizes its weight in place and sparse gradients "
            "are not available: neither runs on a node"
        )


def _conv_settings(m: Any) -> None:
    if m.padding_mode != "zeros":
        raise OperationNotAllowed(
            f"{type(m).__name__}(padding_mode={m.padding_mode!r}) is not available on a node; "
            "use padding_mode='zeros'"
        )


def _batch_norm_settings(m: Any) -> None:
    if m.momentum is None and m.track_running_stats:
        raise OperationNotAllowed(
            f"{type(m).__name__}(momentum=None) (a cumulative average) is not available on "
            "a node; give a momentum"
        )


#: Settings of a layer that cannot run on a node, refused when the model is sent.
_SETTINGS: dict[str, Callable[[Any], None]] = {
    "Embedding": _embedding_settings,
    "Conv1d": _conv_settings,
    "Conv2d": _conv_settings,
    "BatchNorm1d": _batch_norm_settings,
    "BatchNorm2d": _batch_norm_settings,
}


def forward(mp: ModulePointer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The traced forward of ``mp`` on ``args``."""
    module = mp._module
    layer = _BY_NAME.get(type(module).__name__)
    if layer is not None and type(module).__module__.startswith("torch."):
        if kwargs or len(args) != 1:
            raise UsageError(f"a {type(module).__name__} layer takes one input")
        return layer(mp, module, args[0])
    return type(module).forward(mp, *args, **kwargs)
