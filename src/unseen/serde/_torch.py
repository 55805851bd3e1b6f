"""torch tensors, dtypes and sizes to and from the wire; torch is imported only when met."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from unseen.errors import DecodeError, UsageError

from ._numpy import array_from_bytes, parse_shape
from ._wire import EXT, TENSOR, TORCH_DTYPE, TORCH_SIZE, short, type_name

if TYPE_CHECKING:
    from ._decode import Decoder
    from ._encode import Encoder

__all__ = ["encode_torch", "BUILDERS"]

# torch dtype name -> (numpy dtype that carries its bits, whether that is a bit view)
_NATIVE = {
    "bool": "|b1",
    "uint8": "|u1",
    "int8": "|i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "uint16": "<u2",
    "uint32": "<u4",
    "uint64": "<u8",
    "float16": "<f2",
    "float32": "<f4",
    "float64": "<f8",
    "complex64": "<c8",
    "complex128": "<c16",
}
# no numpy dtype: their bits travel as unsigned ints of the same width
_BITS = {
    "bfloat16": "<u2",
    "complex32": "<u4",
    "float8_e4m3fn": "|u1",
    "float8_e4m3fnuz": "|u1",
    "float8_e5m2": "|u1",
    "float8_e5m2fnuz": "|u1",
    "float8_e8m0fnu": "|u1",
    "float4_e2m1fn_x2": "|u1",
}
_BIT_TORCH = {"<u2": "uint16", "<u4": "uint32", "|u1": "uint8"}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DecodeError("the message holds torch objects but torch is not installed") from None
    return torch


@lru_cache(maxsize=1)
def _dtypes() -> dict[str, Any]:
    """Allowed torch dtypes of this torch build, by name."""
    torch = _torch()
    found = {}
    for name in (*_NATIVE, *_BITS):
        dt = getattr(torch, name, None)
        if isinstance(dt, torch.dtype):
            found[name] = dt
    return found


def _dtype_name(dt: Any) -> str:
    name = str(dt).removeprefix("torch.")
    if name not in _dtypes():
        raise UsageError(
            f"cannot serialize torch dtype {dt}: allowed are {', '.join(sorted(_dtypes()))}"
        )
    return name


def _encode_tensor(enc: Encoder, t: Any, torch: Any) -> list[Any]:
    if type(t) not in (torch.Tensor, torch.nn.Parameter):
        raise UsageError(f"cannot serialize {type_name(type(t))}: only plain torch.Tensor")
    if t.is_quantized:
        raise UsageError("cannot serialize a quantized tensor: call .dequantize() first")
    if t.is_nested:
        raise UsageError("cannot serialize a nested tensor: send its .unbind() list instead")
    if t.layout != torch.strided:
        raise UsageError(f"cannot serialize a {t.layout} tensor: call .to_dense() first")
    if t.device.type == "meta":
        raise UsageError("cannot serialize a tensor on the meta device: it holds no data")
    if any(n is not None for n in getattr(t, "names", None) or ()):
        raise UsageError("cannot serialize a named tensor: call .rename(None) first")
    name = _dtype_name(t.dtype)
    requires_grad = bool(t.requires_grad)
    data = t.detach()
    if data.device.type != "cpu":
        data = data.cpu()
    data = data.resolve_conj().resolve_neg()  # any strides: gathered once into the message
    bits = _BITS.get(name)
    if bits is not None:
        data = data.view(getattr(torch, _BIT_TORCH[bits]))
    arr = data.numpy()
    kind = 1 if type(t) is torch.nn.Parameter else 0
    return [EXT[TENSOR], name, list(t.shape), requires_grad, kind, enc.data(arr)]


def encode_torch(enc: Encoder, obj: Any) -> list[Any] | None:
    """The wire form of a tensor, torch dtype or torch.Size; None for other objects."""
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        return _encode_tensor(enc, obj, torch)
    if isinstance(obj, torch.dtype):
        return [EXT[TORCH_DTYPE], _dtype_name(obj)]
    if type(obj) is torch.Size:
        return [EXT[TORCH_SIZE], *(int(d) for d in obj)]
    return None


def _build_tensor(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 5:
        raise DecodeError("a tensor needs 5 fields: dtype, shape, requires_grad, kind, data")
    name, shape_l, requires_grad, kind, data = items
    if type(requires_grad) is not bool or kind not in (0, 1) or type(kind) is not int:
        raise DecodeError("a tensor's requires_grad must be a bool and its kind 0 or 1")
    if type(name) is not str:
        raise DecodeError("a tensor's dtype must be a str")
    torch = _torch()
    dt = _dtypes().get(name)
    if dt is None:
        raise DecodeError(f"torch dtype {short(name)} is not allowed")
    carrier = _BITS.get(name) or _NATIVE[name]
    shape, count = parse_shape(shape_l, dec.limits.max_array_bytes)
    arr = array_from_bytes(dec, np.dtype(carrier), shape, count, data, "C")
    t = torch.from_numpy(arr)
    if name in _BITS:
        t = t.view(dt)
    if kind == 1:
        return torch.nn.Parameter(t, requires_grad=requires_grad), 0
    if requires_grad:
        if not (dt.is_floating_point or dt.is_complex):
            raise DecodeError(f"a {name} tensor cannot require grad")
        t.requires_grad_(True)
    return t, 0


def _build_dtype(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) != 1 or type(items[0]) is not str:
        raise DecodeError("a torch dtype needs 1 str field")
    dt = _dtypes().get(items[0])
    if dt is None:
        raise DecodeError(f"torch dtype {short(items[0])} is not allowed")
    return dt, 0


def _build_size(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    if len(items) > 64 or any(type(d) is not int or d < 0 for d in items):
        raise DecodeError("a torch.Size needs at most 64 ints >= 0")
    return _torch().Size(items), 1


BUILDERS = {TENSOR: _build_tensor, TORCH_DTYPE: _build_dtype, TORCH_SIZE: _build_size}
