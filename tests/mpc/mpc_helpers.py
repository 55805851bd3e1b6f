"""Helpers shared by the MPC tests: fixed-point oracles and seeded generators."""

from __future__ import annotations

import torch

from unseen.mpc import FixedPoint


def rounded(x: torch.Tensor, frac_bits: int = 16) -> torch.Tensor:
    """The value the parties actually compute on: x rounded to the fixed-point grid."""
    fp = FixedPoint(frac_bits)
    return fp.decode(fp.encode(x, warn=False), torch.float64)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
