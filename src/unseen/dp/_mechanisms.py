"""The noise, from OpenDP: exact discrete Laplace and Gaussian samplers on integers, and the
exponential mechanism (report noisy max) over public candidates.

OpenDP is imported on first use (``pip install unseen[dp]``). Each mechanism is calibrated
from the privacy parameter and then checked with OpenDP's own privacy map, so a rounding in
the scale can only make the noise larger, never the loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import numpy as np

from unseen.errors import UsageError

__all__ = ["laplace", "gaussian", "quantile_index", "laplace_scale", "gaussian_scale"]


@cache
def _dp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError:  # pragma: no cover - depends on the installation
        raise UsageError(
            "differentially private answers need OpenDP on the node: pip install 'unseen[dp]'"
        ) from None
    dp.enable_features("contrib")
    return dp


@lru_cache(maxsize=512)
def _integer_laplace(scale: float) -> Any:
    dp = _dp()
    return dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale
    )


@lru_cache(maxsize=512)
def _integer_gaussian(scale: float) -> Any:
    dp = _dp()
    return dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64"), scale=scale
    )


def _calibrate(make: Any, sensitivity: int, budget: float, start: float) -> float:
    """The smallest scale from ``start`` up whose OpenDP privacy map fits ``budget``."""
    scale = start
    for _ in range(64):
        if make(scale).map(sensitivity) <= budget:
            return scale
        scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
    raise RuntimeError("could not calibrate the noise scale")  # pragma: no cover


def laplace_scale(sensitivity: float, epsilon: float) -> float:
    """Scale of the discrete Laplace noise for an integer L1 ``sensitivity`` at ``epsilon``."""
    d_in = math.ceil(sensitivity)
    return _calibrate(_integer_laplace, d_in, epsilon, d_in / epsilon)


def gaussian_scale(sensitivity: float, rho: float) -> float:
    """Scale of the discrete Gaussian noise for an integer L2 ``sensitivity`` at zCDP ``rho``."""
    d_in = math.ceil(sensitivity)
    return _calibrate(_integer_gaussian, d_in, rho, d_in / math.sqrt(2.0 * rho))


def laplace(values: np.ndarray, scale: float) -> np.ndarray:
    """``values`` (integers) plus discrete Laplace noise of ``scale``."""
    out = _integer_laplace(scale)(np.ascontiguousarray(values, dtype=np.int64))
    return np.asarray(out, dtype=np.int64)


def gaussian(values: np.ndarray, scale: float) -> np.ndarray:
    """``values`` (integers) plus discrete Gaussian noise of ``scale``."""
    out = _integer_gaussian(scale)(np.ascontiguousarray(values, dtype=np.int64))
    return np.asarray(out, dtype=np.int64)


@lru_cache(maxsize=64)
def _quantile_chain(
    candidates: tuple[float, ...], alpha: float, size: int | None, scale: float
) -> Any:
    dp = _dp()
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False), size=size)
    score = dp.t.make_quantile_score_candidates(
        domain, dp.symmetric_distance(), candidates=list(candidates), alpha=alpha
    )
    return score >> dp.m.then_noisy_max(dp.max_divergence(), scale=scale, negate=True)


def quantile_scale(candidates: Sequence[float], alpha: float, d_in: int, epsilon: float) -> float:
    """Scale of the exponential mechanism's noise for the ``alpha``-quantile."""
    cands = tuple(candidates)
    unit = _quantile_chain(cands, alpha, None, 1.0).map(d_in)
    return _calibrate(
        lambda s: _quantile_chain(cands, alpha, None, s), d_in, epsilon, unit / epsilon
    )


def quantile_index(
    values: np.ndarray, candidates: Sequence[float], alpha: float, scale: float
) -> int:
    """The index of the candidate picked as the ``alpha``-quantile of ``values``."""
    chain = _quantile_chain(tuple(candidates), alpha, None, scale)
    return int(chain(np.ascontiguousarray(values, dtype=np.float64)))
