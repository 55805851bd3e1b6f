"""Fixed-point encoding of real tensors into the ring Z_2^64 (int64 with wraparound).

A real ``x`` is stored as the integer ``round(x * 2^f)`` modulo ``2^64`` in a torch int64
tensor, with ``f`` fractional bits (16 by default). Decoding is exact: the integer is split
into a floor part ``v >> f`` and a non-negative remainder ``v & (2^f - 1)``, so ``-2^-f``,
``-0.5`` and ``-1.0`` come back exactly (a single floating division can round such values
one unit too low when the integer is large; the split never does).

Bounds (``f`` fractional bits, see docs/mpc.md):

* representable: ``|x| < 2^(62 - f)`` (2^46 for f = 16); :meth:`FixedPoint.encode` raises
  :class:`~unseen.errors.UsageError` beyond it (one bit of headroom is kept for sums).
* safe to multiply: a product ``x * y`` must stay below ``2^(62 - 2f)`` (2^30 for f = 16)
  before it is truncated; :meth:`FixedPoint.encode` warns when an input exceeds
  ``2^((62 - 2f) / 2)`` (2^15 for f = 16), because squaring it would overflow.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from unseen.errors import UsageError

__all__ = ["FixedPoint", "DEFAULT_FRAC_BITS", "RangeWarning"]

DEFAULT_FRAC_BITS = 16


class RangeWarning(UserWarning):
    """A shared value is so large that multiplying it may overflow the ring."""


@dataclass(frozen=True)
class FixedPoint:
    """The fixed-point format: ``frac_bits`` fractional bits in a 64-bit ring."""

    frac_bits: int = DEFAULT_FRAC_BITS

    def __post_init__(self) -> None:
        if not isinstance(self.frac_bits, int) or not 0 <= self.frac_bits <= 30:
            raise UsageError(f"frac_bits must be an int in [0, 30], got {self.frac_bits!r}")

    @property
    def scale(self) -> int:
        """``2^f``: the encoding of 1.0."""
        return 1 << self.frac_bits

    @property
    def max_abs(self) -> float:
        """The largest magnitude :meth:`encode` accepts (exclusive)."""
        return float(2.0 ** (62 - self.frac_bits))

    @property
    def mul_safe_abs(self) -> float:
        """Inputs below this magnitude can be multiplied pairwise without overflow."""
        return float(2.0 ** ((62 - 2 * self.frac_bits) / 2))

    def encode(
        self,
        value: Any,
        *,
        device: torch.device | str | None = None,
        check: bool = True,
        warn: bool = True,
    ) -> torch.Tensor:
        """Encode a real tensor (or number, list, ndarray) as an int64 ring tensor."""
        t = _as_tensor(value)
        if device is not None:
            t = t.to(device)
        if t.dtype == torch.bool or not (t.is_floating_point() or t.is_complex()):
            wide = t.to(torch.int64)
            if check and wide.numel() and int(wide.abs().max()) >= self.max_abs:
                raise UsageError(self._range_message(float(wide.abs().max())))
            if warn and wide.numel() and float(wide.abs().max()) >= self.mul_safe_abs:
                warnings.warn(
                    self._warn_message(float(wide.abs().max())), RangeWarning, stacklevel=3
                )
            return wide << self.frac_bits
        if t.is_complex():
            raise UsageError("complex tensors cannot be secret-shared")
        d = t.to(torch.float64)
        if check and d.numel():
            if not bool(torch.isfinite(d).all()):
                raise UsageError("cannot secret-share NaN or infinite values")
            biggest = float(d.abs().max())
            if biggest >= self.max_abs:
                raise UsageError(self._range_message(biggest))
            if warn and biggest >= self.mul_safe_abs:
                warnings.warn(self._warn_message(biggest), RangeWarning, stacklevel=3)
        return torch.round(d * float(self.scale)).to(torch.int64)

    def decode(self, encoded: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Decode an int64 ring tensor exactly (negatives included) into ``dtype``."""
        if encoded.dtype != torch.int64:
            raise UsageError(f"expected an int64 ring tensor, got {encoded.dtype}")
        f = self.frac_bits
        if f == 0:
            return encoded.to(torch.float64).to(dtype)
        whole = (encoded >> f).to(torch.float64)
        frac = (encoded & (self.scale - 1)).to(torch.float64) / float(self.scale)
        return (whole + frac).to(dtype)

    def _range_message(self, biggest: float) -> str:
        return (
            f"value {biggest:.4g} is outside the fixed-point range: with {self.frac_bits} "
            f"fractional bits, shared values must satisfy |x| < 2^{62 - self.frac_bits} "
            f"= {self.max_abs:.4g}; rescale the data or use fewer fractional bits"
        )

    def _warn_message(self, biggest: float) -> str:
        return (
            f"value {biggest:.4g} exceeds {self.mul_safe_abs:.4g}: products of shared values "
            f"must stay below 2^{62 - 2 * self.frac_bits} ({2.0 ** (62 - 2 * self.frac_bits):.4g}) "
            "or they overflow the 64-bit ring; additions are still exact"
        )


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return torch.as_tensor(value)
